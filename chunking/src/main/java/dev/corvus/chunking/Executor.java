package dev.corvus.chunking;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a plan with real tensors in a pooled scope: every activation is handed back to the pool
 * after its last use and every op's scratch right after the op, so the scope's live-byte counter
 * measures exactly what the estimator predicts.
 */
final class Executor implements PlanWalker.Machine<Tensor> {
    private final MemoryScope scope;
    private final Map<Node, Tensor> bindings;
    /** References to each pool segment from values the walk still holds. */
    private final Map<MemorySegment, int[]> refs = new IdentityHashMap<>();
    private final Graph graph;
    /** Measured live bytes at each node's peak (over all iterations), to compare with the estimate per node. */
    private final long[] peakAt;
    private long peak;

    private Executor(MemoryScope scope, Map<Node, Tensor> bindings, Graph graph) {
        this.scope = scope;
        this.bindings = bindings;
        this.graph = graph;
        this.peakAt = new long[graph.size()];
    }

    /**
     * Runs the plan; up to {@code cacheBytes} of freed large buffers are kept for reuse by later
     * allocations of the same size (fewer fresh pages to fault in), so the footprint stays within
     * the live peak plus that.
     */
    static Execution run(Graph g, List<ChunkRegion> regions, long cacheBytes, Tensor... inputs) {
        if (inputs.length != g.inputs().size()) {
            throw new IllegalArgumentException("run: the graph takes " + g.inputs().size() + " inputs " + names(g) + ", got " + inputs.length);
        }
        Map<Node, Tensor> bindings = new IdentityHashMap<>();
        for (int i = 0; i < inputs.length; i++) {
            Node in = g.inputs().get(i);
            if (!Arrays.equals(in.shape(), inputs[i].shape()) || in.dtype() != inputs[i].dtype()) {
                throw new IllegalArgumentException("run: input '" + in.label() + "' was traced as " + in.dtype() + " " + Shapes.str(in.shape())
                        + ", got " + inputs[i].dtype() + " " + Shapes.str(inputs[i].shape()));
            }
            if (!inputs[i].device().equals(dev.corvus.tensor.Device.CPU)) {
                throw new IllegalArgumentException("run: input '" + in.label() + "' is on " + inputs[i].device()
                        + "; AutoChunk runs chunked programs on the CPU (its pool frees host memory), so pass host tensors");
            }
            bindings.put(in, inputs[i]);
        }
        MemoryScope scope = MemoryScope.pooled("autochunk", cacheBytes);
        try {
            Executor ex = new Executor(scope, bindings, g);
            List<Tensor> out = PlanWalker.walk(g, regions, ex, true);
            return new Execution(scope, out, ex.peak, ex.peakAt);
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
    }

    private static String names(Graph g) {
        return g.inputs().stream().map(Node::label).toList().toString();
    }

    @Override
    public Tensor source(Node n) {
        return n.op() == Sources.INPUT ? bindings.get(n) : ((Sources.Param) n.attrs()).value();
    }

    @Override
    public Tensor compute(Node n, List<Tensor> operands, Slice slice) {
        scope.resetPeak();
        Tensor out = Interpreter.run(n, operands, slice);
        record(n);
        MemorySegment kept = out.storage().isHost() ? out.storage().segment() : null;
        for (MemorySegment s : scope.takeAllocations()) {
            if (s == kept) refs.put(s, new int[] {0});
            else scope.recycle(s);
        }
        hold(out);
        return out;
    }

    @Override
    public Tensor slice(Tensor whole, int dim, int start, int length) {
        Tensor s = whole.narrow(dim, start, length);
        hold(s);
        return s;
    }

    @Override
    public Tensor allocateFull(Node n) {
        scope.resetPeak();
        Tensor t = Tensor.zeros(scope, n.dtype(), n.shape());
        record(n);
        for (MemorySegment s : scope.takeAllocations()) refs.put(s, new int[] {0});
        hold(t);
        return t;
    }

    @Override
    public void writeChunk(Tensor full, Tensor chunk, Slice slice) {
        Ops.copyInto(chunk, full.narrow(slice.dim(), slice.start(), slice.length()));
    }

    private void record(Node n) {
        int p = graph.position(n);
        peakAt[p] = Math.max(peakAt[p], scope.peakBytes());
        peak = Math.max(peak, scope.peakBytes());
    }

    private void hold(Tensor t) {
        int[] r = t.storage().isHost() ? refs.get(t.storage().segment()) : null;
        if (r != null) r[0]++;
    }

    @Override
    public void release(Tensor t) {
        if (t == null || !t.storage().isHost()) return;
        MemorySegment s = t.storage().segment();
        int[] r = refs.get(s);
        if (r != null && --r[0] == 0) {
            refs.remove(s);
            scope.recycle(s);
        }
    }
}
