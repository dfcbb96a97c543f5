package dev.corvus.chunking;

import dev.corvus.tensor.Tensor;
import java.util.List;
import java.util.Locale;

/**
 * A graph with its chunk plan, ready to run like the original: same inputs, same outputs. Made by
 * {@link AutoChunk#compile}; {@link #explain()} says what the compiler chose and why it fits.
 */
public final class ChunkedProgram {
    private final Graph graph;
    private final List<ChunkRegion> regions;
    private final long budgetBytes;
    private final long unchunkedPeakBytes;
    private final MemoryEstimator.Estimate estimate;
    private final double predictedSlowdown;

    ChunkedProgram(Graph graph, List<ChunkRegion> regions, long budgetBytes, long unchunkedPeakBytes, double predictedSlowdown) {
        this.graph = graph;
        this.regions = List.copyOf(regions);
        this.budgetBytes = budgetBytes;
        this.unchunkedPeakBytes = unchunkedPeakBytes;
        this.estimate = MemoryEstimator.estimate(graph, this.regions);
        this.predictedSlowdown = predictedSlowdown;
    }

    /** The graph as run (hoisted nodes moved before their loops). */
    public Graph graph() {
        return graph;
    }

    public List<ChunkRegion> regions() {
        return regions;
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    public long estimatedPeakBytes() {
        return estimate.peakBytes();
    }

    public long unchunkedPeakBytes() {
        return unchunkedPeakBytes;
    }

    /** The cost model's predicted run time relative to the unchunked graph (1.0 = no slowdown). */
    public double predictedSlowdown() {
        return predictedSlowdown;
    }

    /**
     * Runs the program; the inputs in the order they were traced. Close the result to free its
     * outputs. Under a budget, freed large buffers up to a quarter of the estimated peak are kept
     * for reuse, so the memory the run holds stays within about 1.25 times the estimated peak;
     * without one (an {@link AutoChunk#unchunked} program, the baseline) every freed buffer is
     * kept, as a caching allocator would, so the baseline never pays to fault in fresh pages.
     */
    public Execution run(Tensor... inputs) {
        long cache = budgetBytes == Long.MAX_VALUE ? Long.MAX_VALUE : estimatedPeakBytes() / 4;
        return Executor.run(graph, regions, cache, inputs);
    }

    /** The chosen regions, their chunk dims and sizes, and estimated against budget bytes. */
    public String explain() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "AutoChunk plan: %d node(s), %d region(s); estimated peak %s (unchunked %s, budget %s)%n",
                graph.size(), regions.size(), mib(estimatedPeakBytes()), mib(unchunkedPeakBytes), budgetBytes == Long.MAX_VALUE ? "none" : mib(budgetBytes)));
        int i = 0;
        for (ChunkRegion r : regions) {
            sb.append(String.format(Locale.ROOT, "  region %d: %d node(s) %%%d..%%%d, extent %d, chunk %d (%d iterations), %d hoisted%n",
                    i++, r.body().size(), r.first().id(), r.last().id(), r.extent(), r.chunkSize(), r.iterations(), r.hoisted().size()));
            for (Node n : r.body()) {
                sb.append(String.format(Locale.ROOT, "    %-60s chunk dim %d%s%n", n.describe(), r.chunkDim().get(n), r.outputs().contains(n) ? "  -> output" : ""));
            }
            for (Node n : r.hoisted()) sb.append("    hoisted: ").append(n.describe()).append('\n');
        }
        Node peak = estimate.peakNode();
        if (peak != null) sb.append("  peak at ").append(peak.describe()).append('\n');
        sb.append(String.format(Locale.ROOT, "  predicted time vs unchunked: %.3fx%n", predictedSlowdown));
        return sb.toString();
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.2f MiB", bytes / (1024.0 * 1024.0));
    }

    @Override
    public String toString() {
        return explain();
    }
}
