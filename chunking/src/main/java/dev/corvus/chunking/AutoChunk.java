package dev.corvus.chunking;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The AutoChunk compiler: given a traced graph and an activation-memory budget, find chunk
 * regions that bring the estimated peak under the budget at the least predicted slowdown.
 *
 * <p>It works in stages, as the paper's compiler does. Each stage estimates memory, takes the
 * node at the peak, and searches every legal region around it ({@link RegionBuilder}: a stretch of
 * nodes and a dim that flows through it unmixed); for each candidate it finds the largest chunk
 * size that brings the region under budget, prices it with the {@link CostModel}, commits the
 * cheapest (hoisting the nodes that need no chunking before the loop) and goes on until the whole
 * graph fits.
 *
 * <pre>{@code
 * ChunkedProgram p = AutoChunk.compile(graph, 512L << 20);
 * System.out.print(p.explain());
 * try (Execution run = p.run(x)) { ... run.output(0) ... }
 * }</pre>
 */
public final class AutoChunk {
    /** How far, in nodes, a region may reach before or after the peak node. */
    static final int WINDOW = 48;
    private static final int MAX_STAGES = 64;

    private AutoChunk() {}

    /** The unchunked program: runs the graph as traced, with the same memory accounting. */
    public static ChunkedProgram unchunked(Graph g) {
        long peak = MemoryEstimator.estimate(g, List.of()).peakBytes();
        return new ChunkedProgram(g, List.of(), Long.MAX_VALUE, peak, 1.0);
    }

    public static ChunkedProgram compile(Graph g, long budgetBytes) {
        return compile(g, budgetBytes, CostModel.measured());
    }

    /**
     * Chunks g so its estimated activation peak is at most {@code budgetBytes}.
     *
     * @throws IllegalArgumentException when no plan fits; the message names the smallest peak the search reached
     * @throws UnsupportedOperationException when the graph holds an op without a dimension rule
     */
    public static ChunkedProgram compile(Graph g, long budgetBytes, CostModel cost) {
        return compile(g, budgetBytes, cost, Selection.LEAST_SLOWDOWN);
    }

    /** How a stage picks among the legal candidates that fit the budget. */
    public enum Selection {
        /** The candidate the cost model predicts adds the least time (this library's default). */
        LEAST_SLOWDOWN,
        /** The candidate with the fewest looped nodes, as ColossalAI's reference selection does; for comparison. */
        FEWEST_NODES
    }

    /**
     * Chunks g so its estimated activation peak is at most {@code budgetBytes}, choosing among
     * candidates by {@code selection}.
     */
    public static ChunkedProgram compile(Graph g, long budgetBytes, CostModel cost, Selection selection) {
        if (budgetBytes <= 0) throw new IllegalArgumentException("compile: budget must be positive, got " + budgetBytes + " bytes");
        for (Node n : g.nodes()) if (n.op() == Op.CUSTOM) DimRules.flow(n, 0); // says which op has no rule
        Graph original = g;
        long unchunked = MemoryEstimator.estimate(g, List.of()).peakBytes();
        double baseNs = cost.graphNs(g);
        List<ChunkRegion> regions = new ArrayList<>();
        double extraNs = 0;
        for (int stage = 0; stage < MAX_STAGES; stage++) {
            MemoryEstimator.Estimate est = MemoryEstimator.estimate(g, regions);
            if (est.peakBytes() <= budgetBytes) {
                return new ChunkedProgram(g, regions, budgetBytes, unchunked, (baseNs + extraNs) / baseNs);
            }
            Choice best = null;
            for (ChunkRegion candidate : candidates(g, regions, g.position(est.peakNode()))) {
                Choice c = fit(g, regions, candidate, budgetBytes, cost);
                if (c != null && (best == null || better(c, best, selection))) best = c;
            }
            if (best == null) return memoryFirst(original, budgetBytes, unchunked, est, cost, baseNs);
            g = best.graph;
            regions.add(best.region);
            extraNs += best.extraNs;
        }
        return memoryFirst(original, budgetBytes, unchunked, MemoryEstimator.estimate(g, regions), cost, baseNs);
    }

    /**
     * When the speed-first stages get stuck (an early cheap region can leave a later peak no
     * region can reach), fall back to memory-first stages; if even they miss the budget, say how
     * low they got.
     */
    private static ChunkedProgram memoryFirst(Graph g, long budget, long unchunked, MemoryEstimator.Estimate stuck, CostModel cost, double baseNs) {
        Plan plan = smallestPlan(g, budget);
        if (plan.peak > budget) throw infeasible(budget, unchunked, plan.peak, stuck);
        double extra = 0;
        for (ChunkRegion r : plan.regions) extra += cost.regionExtraNs(r);
        return new ChunkedProgram(plan.graph, plan.regions, budget, unchunked, (baseNs + extra) / baseNs);
    }

    private static boolean better(Choice c, Choice best, Selection selection) {
        if (selection == Selection.FEWEST_NODES && c.region.body().size() != best.region.body().size()) {
            return c.region.body().size() < best.region.body().size();
        }
        return c.extraNs < best.extraNs;
    }

    /** A candidate region at its chosen chunk size, in the graph reordered for it. */
    private record Choice(ChunkRegion region, Graph graph, double extraNs) {}

    /**
     * The largest chunk size at which the candidate's own stretch fits the budget, or null. Larger
     * chunks mean fewer iterations and bigger products, so the largest that fits is the fastest.
     */
    private static Choice fit(Graph g, List<ChunkRegion> regions, ChunkRegion candidate, long budget, CostModel cost) {
        Graph reordered = hoist(g, candidate);
        int lo = 1, hi = candidate.extent();
        if (regionPeak(reordered, regions, candidate.withChunkSize(1)) > budget) return null;
        while (lo < hi) {
            int mid = (int) ((lo + (long) hi + 1) / 2);
            if (regionPeak(reordered, regions, candidate.withChunkSize(mid)) <= budget) lo = mid;
            else hi = mid - 1;
        }
        // Same iterations, evener chunks: the smallest size with that iteration count.
        int iterations = (candidate.extent() + lo - 1) / lo;
        int size = (candidate.extent() + iterations - 1) / iterations;
        ChunkRegion chosen = candidate.withChunkSize(size);
        return new Choice(chosen, reordered, cost.regionExtraNs(chosen));
    }

    /** Peak estimated over the candidate's stretch (its hoisted nodes and its loop). */
    private static long regionPeak(Graph g, List<ChunkRegion> regions, ChunkRegion r) {
        List<ChunkRegion> all = new ArrayList<>(regions);
        all.add(r);
        long[] at = MemoryEstimator.estimate(g, all).peakAt();
        int from = r.hoisted().isEmpty() ? g.position(r.first()) : g.position(r.hoisted().getFirst());
        long peak = 0;
        for (int p = from; p <= g.position(r.last()); p++) peak = Math.max(peak, at[p]);
        return peak;
    }

    /** Every legal region around the peak node that overlaps no committed region. */
    static List<ChunkRegion> candidates(Graph g, List<ChunkRegion> regions, int peak) {
        boolean[] taken = new boolean[g.size()];
        for (ChunkRegion r : regions) {
            for (Node n : r.body()) taken[g.position(n)] = true;
            for (Node n : r.hoisted()) taken[g.position(n)] = true;
        }
        List<ChunkRegion> out = new ArrayList<>();
        if (taken[peak]) return out;
        int lo = peak, hi = peak;
        while (lo > 0 && peak - lo < WINDOW && !taken[lo - 1]) lo--;
        while (hi < g.size() - 1 && hi - peak < WINDOW && !taken[hi + 1]) hi++;
        for (int first = lo; first <= peak; first++) {
            Node f = g.node(first);
            if (!f.isCompute()) continue;
            for (int last = peak; last <= hi; last++) {
                if (!g.node(last).isCompute()) continue;
                for (int dim = 0; dim < f.rank(); dim++) {
                    ChunkRegion r = RegionBuilder.build(g, first, last, dim, f.size(dim));
                    if (r != null && covers(g, r, peak)) out.add(r);
                }
            }
        }
        return out;
    }

    /** The peak node must be looped, not merely hoisted, or the region does not lower it. */
    private static boolean covers(Graph g, ChunkRegion r, int peak) {
        return r.chunkDim().containsKey(g.node(peak));
    }

    /** The graph with the region's hoisted nodes moved just before its loop. */
    static Graph hoist(Graph g, ChunkRegion r) {
        if (r.hoisted().isEmpty()) return g;
        List<Node> order = new ArrayList<>(g.size());
        int first = g.position(r.first()), last = g.position(r.last());
        for (int p = 0; p < first; p++) order.add(g.node(p));
        for (int p = first; p <= last; p++) if (!g.node(p).isCompute()) order.add(g.node(p));
        order.addAll(r.hoisted());
        order.addAll(r.body());
        for (int p = last + 1; p < g.size(); p++) order.add(g.node(p));
        return g.reordered(order);
    }

    /** The error for an unreachable budget, with the smallest peak a memory-first search reached. */
    private static IllegalArgumentException infeasible(long budget, long unchunked, long smallest, MemoryEstimator.Estimate stuck) {
        return new IllegalArgumentException(String.format(Locale.ROOT,
                "AutoChunk: no chunk plan fits a budget of %s; the smallest estimated peak the search reached is %s (unchunked %s),"
                        + " stuck at %s. Raise the budget to at least %s, or shorten the sequence",
                ChunkedProgram.mib(budget), ChunkedProgram.mib(smallest), ChunkedProgram.mib(unchunked), stuck.peakNode().describe(),
                ChunkedProgram.mib(smallest)));
    }

    private record Plan(Graph graph, List<ChunkRegion> regions, long peak) {}

    /**
     * Memory-first stages: each commits the region that lowers the global peak most, at the
     * largest chunk size that still gets that low (chunk size 1 when the budget is out of reach).
     */
    static Plan smallestPlan(Graph g, long budget) {
        List<ChunkRegion> regions = new ArrayList<>();
        MemoryEstimator.Estimate est = MemoryEstimator.estimate(g, regions);
        for (int stage = 0; stage < MAX_STAGES && est.peakBytes() > budget; stage++) {
            long bestPeak = est.peakBytes();
            ChunkRegion best = null;
            Graph bestGraph = null;
            for (ChunkRegion c : candidates(g, regions, g.position(est.peakNode()))) {
                Graph h = hoist(g, c);
                List<ChunkRegion> all = new ArrayList<>(regions);
                all.add(c.withChunkSize(1));
                long peak = MemoryEstimator.estimate(h, all).peakBytes();
                if (peak < bestPeak) {
                    bestPeak = peak;
                    best = c.withChunkSize(1);
                    bestGraph = h;
                }
            }
            if (best == null) break;
            g = bestGraph;
            regions.add(best);
            est = MemoryEstimator.estimate(g, regions);
        }
        // Grow each region's chunk size back as far as the budget (or the reached peak) allows.
        long target = Math.max(budget, est.peakBytes());
        for (int i = 0; i < regions.size(); i++) {
            ChunkRegion r = regions.get(i);
            int lo = 1, hi = r.extent();
            while (lo < hi) {
                int mid = (int) ((lo + (long) hi + 1) / 2);
                List<ChunkRegion> trial = new ArrayList<>(regions);
                trial.set(i, r.withChunkSize(mid));
                if (MemoryEstimator.estimate(g, trial).peakBytes() <= target) lo = mid;
                else hi = mid - 1;
            }
            regions.set(i, r.withChunkSize(lo));
        }
        return new Plan(g, regions, MemoryEstimator.estimate(g, regions).peakBytes());
    }

    /** The lowest estimated peak any plan the search finds reaches. */
    static long smallestReachablePeak(Graph g) {
        return smallestPlan(g, 0).peak;
    }
}
