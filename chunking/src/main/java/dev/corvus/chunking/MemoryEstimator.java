package dev.corvus.chunking;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.op.Layout;
import java.util.List;

/**
 * Activation memory of a plan without running it: walks the same schedule as the executor with
 * simulated layouts, counting each node's output (views cost nothing, and keep what they view
 * alive), the scratch its op allocates and drops, region outputs preallocated at full size, and
 * region operands held until the loop ends. Inputs and parameters are not activations and are
 * not counted.
 */
public final class MemoryEstimator {
    private MemoryEstimator() {}

    /** Estimated live bytes: the peak, the node it happens at, and the peak at every position. */
    public record Estimate(long peakBytes, Node peakNode, long[] peakAt) {
        public long peakAt(Graph g, Node n) {
            return peakAt[g.position(n)];
        }
    }

    public static Estimate estimate(Graph g, List<ChunkRegion> regions) {
        Meter meter = new Meter(g);
        PlanWalker.walk(g, regions, meter, false);
        int at = 0;
        for (int i = 1; i < meter.peakAt.length; i++) if (meter.peakAt[i] > meter.peakAt[at]) at = i;
        return new Estimate(meter.peak, g.size() == 0 ? null : g.node(at), meter.peakAt);
    }

    /** Bytes a value holds, shared by views of it. */
    private static final class Root {
        final long bytes;
        int refs = 1;

        Root(long bytes) {
            this.bytes = bytes;
        }
    }

    private record Meta(Layout layout, DType dtype, Root root) {}

    private static final class Meter implements PlanWalker.Machine<Meta> {
        final Graph g;
        final long[] peakAt;
        long live, peak;

        Meter(Graph g) {
            this.g = g;
            this.peakAt = new long[g.size()];
        }

        @Override
        public Meta source(Node n) {
            return new Meta(n.layout(), n.dtype(), null);
        }

        @Override
        public Meta compute(Node n, List<Meta> operands, Slice slice) {
            Layout[] in = new Layout[operands.size()];
            DType[] types = new DType[operands.size()];
            for (int i = 0; i < in.length; i++) {
                in[i] = operands.get(i).layout();
                types[i] = operands.get(i).dtype();
            }
            int[] shape = n.shape();
            if (slice != null) shape[slice.dim()] = slice.length();
            MemoryModel.Footprint f = MemoryModel.of(n, in, types, shape, slice);
            Layout out = f.output();
            Meta v;
            if (f.view()) {
                Root r = operands.getFirst().root();
                if (r != null) r.refs++;
                v = new Meta(out, types[0], r);
            } else {
                DType dt = n.op().mayView() ? types[0] : n.dtype();
                v = new Meta(out, dt, allocate(dt.byteSize(Shapes.numel(shape))));
            }
            record(n, live + f.scratchBytes());
            return v;
        }

        private Root allocate(long bytes) {
            live += bytes;
            return new Root(bytes);
        }

        private void record(Node n, long bytes) {
            int p = g.position(n);
            peakAt[p] = Math.max(peakAt[p], bytes);
            peak = Math.max(peak, bytes);
        }

        @Override
        public Meta slice(Meta whole, int dim, int start, int length) {
            if (whole.root() != null) whole.root().refs++;
            return new Meta(whole.layout().narrow(dim, length), whole.dtype(), whole.root());
        }

        @Override
        public Meta allocateFull(Node n) {
            Meta m = new Meta(Layout.contiguous(n.shape()), n.dtype(), allocate(n.bytes()));
            record(n, live);
            return m;
        }

        @Override
        public void writeChunk(Meta full, Meta chunk, Slice slice) {}

        @Override
        public void release(Meta v) {
            if (v == null || v.root() == null) return;
            if (--v.root().refs == 0) live -= v.root().bytes;
        }
    }
}
