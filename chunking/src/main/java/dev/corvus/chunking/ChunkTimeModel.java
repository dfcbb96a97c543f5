package dev.corvus.chunking;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.OpDef;
import java.util.Locale;

/**
 * Predicts how much time a chunk plan adds to a graph (the time side of AutoChunk's choice; the
 * memory side is {@link MemoryEstimator}), so selection can meet the budget with the least
 * slowdown (ColossalAI's selection ignores speed: it takes the region with the fewest nodes). The
 * terms are the ones chunking actually adds:
 * <ul>
 *   <li>per-op dispatch, paid once per node per iteration: many small iterations are slow;</li>
 *   <li>smaller products: a matmul or attention cut to fewer rows runs at lower FLOP/s;</li>
 *   <li>copies: region outputs written slice by slice, and operands sliced along a strided dim
 *       that the op must first copy to a contiguous buffer.</li>
 * </ul>
 * The constants come from measurement ({@link #calibrate()}: a few tiny ops, a large copy and a
 * GEMM at several row counts) or are given explicitly for tests.
 *
 * @param opOverheadNs   fixed cost of one op call on a tiny tensor
 * @param nsPerByte      copy cost per byte (read and write)
 * @param nsPerFlop      GEMM cost per flop at large row counts
 * @param rowEfficiency  GEMM throughput at 1, 4, 16, 64 rows, relative to 256 rows
 */
public record ChunkTimeModel(double opOverheadNs, double nsPerByte, double nsPerFlop, double[] rowEfficiency) {
    private static final int[] ROWS = {1, 4, 16, 64, 256};

    /**
     * Fixed constants of the order this 2-core AVX-512 machine measures, for plans that must not
     * depend on timing (tests, documentation); {@link #measured()} is the default for real use.
     */
    public static final ChunkTimeModel NOMINAL = new ChunkTimeModel(2000, 0.2, 0.01, new double[] {0.05, 0.2, 0.5, 0.8});
    private static volatile ChunkTimeModel measured;

    /** The measured model for this machine, calibrated once per JVM (about a tenth of a second). */
    public static ChunkTimeModel measured() {
        ChunkTimeModel m = measured;
        if (m == null) {
            synchronized (ChunkTimeModel.class) {
                if (measured == null) measured = calibrate();
                m = measured;
            }
        }
        return m;
    }

    /** Times tiny ops, a 16 MiB copy and a [m, 512] x [512, 512] product for m in 1..256. */
    public static ChunkTimeModel calibrate() {
        try (MemoryScope scope = MemoryScope.open("autochunk-calibration")) {
            Tensor one = Tensor.ones(1);
            double overhead = best(() -> Ops.add(one, one), 2000);
            Tensor big = Tensor.zeros(dev.corvus.tensor.DType.F32, 4 << 20);
            double copy = best(() -> Ops.copy(big), 5) / (2.0 * big.numel() * 4);
            Tensor w = Tensor.randn(1, 512, 512);
            double[] perFlop = new double[ROWS.length];
            for (int i = 0; i < ROWS.length; i++) {
                Tensor x = Tensor.randn(2, ROWS[i], 512);
                double ns = best(() -> Ops.matmul(x, w), ROWS[i] >= 64 ? 10 : 40);
                perFlop[i] = ns / (2.0 * ROWS[i] * 512 * 512);
            }
            double[] eff = new double[ROWS.length - 1];
            // Fewer rows never run faster per flop; a noisy timing must not say otherwise.
            for (int i = 0; i < eff.length; i++) eff[i] = Math.min(1, perFlop[ROWS.length - 1] / perFlop[i]);
            for (int i = eff.length - 2; i >= 0; i--) eff[i] = Math.min(eff[i], eff[i + 1]);
            return new ChunkTimeModel(overhead, copy, perFlop[ROWS.length - 1], eff);
        }
    }

    /** The fastest of {@code reps} timed runs (after as many warm-ups), in ns. */
    private static double best(Runnable r, int reps) {
        for (int i = 0; i < reps; i++) r.run();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            best = Math.min(best, System.nanoTime() - t0);
        }
        return best;
    }

    /** GEMM throughput at {@code rows} rows relative to a large product, interpolated on log2(rows). */
    double efficiency(long rows) {
        if (rows >= 256) return 1;
        double x = Math.log(Math.max(rows, 1)) / Math.log(4); // 0 at 1 row, 4 at 256 rows
        int i = (int) Math.floor(x);
        double hi = i + 1 < rowEfficiency.length ? rowEfficiency[i + 1] : 1;
        return rowEfficiency[i] + (hi - rowEfficiency[i]) * (x - i);
    }

    /** Time the unchunked graph is predicted to take: products at full efficiency, everything else bandwidth-bound. */
    double graphNs(Graph g) {
        double ns = 0;
        for (Node n : g.nodes()) if (n.isCompute()) ns += workNs(n, Long.MAX_VALUE);
        return ns;
    }

    /** Predicted work of node n when its product runs over {@code rows} rows at a time. */
    double workNs(Node n, long rows) {
        double flops = flops(n);
        if (flops > 0) return flops * nsPerFlop / efficiency(Math.min(rows, productRows(n)));
        if (n.op().mayView()) return 0;
        long bytes = n.bytes() * 2;
        for (Node x : n.inputs()) bytes += x.isParam() ? 0 : x.bytes();
        return opOverheadNs + bytes * nsPerByte;
    }

    /** Time a region adds over running its nodes unchunked. */
    double regionExtraNs(ChunkRegion r) {
        long iterations = r.iterations();
        double extra = 0;
        for (Node n : r.body()) {
            extra += (iterations - 1) * opOverheadNs;
            extra += chunkExtraBytes(n, r.chunkDim().get(n)) * nsPerByte;
            if (flops(n) > 0) {
                long rowsPerChunk = rowsPerChunk(n, r);
                extra += workNs(n, rowsPerChunk) - workNs(n, Long.MAX_VALUE);
            }
            for (int j = 0; j < n.inputs().size(); j++) {
                Node x = n.input(j);
                int dim = r.operandDim(n, j);
                if (dim >= 0 && !r.chunkDim().containsKey(x) && !leadingDim(x, dim)) extra += x.bytes() * 2 * nsPerByte;
            }
        }
        for (Node o : r.outputs()) extra += o.bytes() * 2 * nsPerByte;
        return extra;
    }

    /** Rows each chunk of a product sees: when the chunk dim cuts its rows, rows shrink to the chunk size. */
    private static long rowsPerChunk(Node n, ChunkRegion r) {
        int d = r.chunkDim().get(n);
        long rows = productRows(n);
        return cutsRows(n.op(), n, d) ? Math.max(1, rows / n.size(d) * r.chunkSize()) : rows;
    }

    // The op definitions' cost terms, for a node's own attributes, operands and shape.

    private static long productRows(Node n) {
        return productRows(n.op(), n);
    }

    private static double flops(Node n) {
        return flops(n.op(), n);
    }

    private static long chunkExtraBytes(Node n, int d) {
        return chunkExtraBytes(n.op(), n, d);
    }

    private static <A extends Record> long productRows(OpDef<A> op, Node n) {
        return op.productRows(op.cast(n.attrs()), n.inputs().toArray(Node[]::new), n.shape());
    }

    private static <A extends Record> double flops(OpDef<A> op, Node n) {
        return op.flops(op.cast(n.attrs()), n.inputs().toArray(Node[]::new), n.shape());
    }

    private static <A extends Record> boolean cutsRows(OpDef<A> op, Node n, int d) {
        return op.chunkCutsRows(op.cast(n.attrs()), n.shape(), d);
    }

    private static <A extends Record> long chunkExtraBytes(OpDef<A> op, Node n, int d) {
        return op.chunkExtraBytes(op.cast(n.attrs()), n.shape(), d);
    }

    /** Slicing along dim keeps the slice contiguous when every dim before it has size 1. */
    private static boolean leadingDim(Node x, int dim) {
        for (int i = 0; i < dim; i++) if (x.size(i) != 1) return false;
        return true;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "ChunkTimeModel[op %.0f ns, copy %.3f ns/B, gemm %.4f ns/flop, row efficiency %s]", opOverheadNs, nsPerByte,
                nsPerFlop, java.util.Arrays.toString(rowEfficiency));
    }
}
