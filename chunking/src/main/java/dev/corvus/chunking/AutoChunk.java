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
 * size that brings the region under budget, prices it with the {@link ChunkTimeModel}, commits the
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
        return compile(g, budgetBytes, ChunkTimeModel.measured());
    }

    /**
     * Chunks g so its estimated activation peak is at most {@code budgetBytes}.
     *
     * @throws IllegalArgumentException when no plan fits; the message names the smallest peak the search reached
     * @throws UnsupportedOperationException when the graph holds an op without a dimension rule
     */
    public static ChunkedProgram compile(Graph g, long budgetBytes, ChunkTimeModel cost) {
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
    public static ChunkedProgram compile(Graph g, long budgetBytes, ChunkTimeModel cost, Selection selection) {
        if (budgetBytes <= 0) throw new IllegalArgumentException("compile: budget must be positive, got " + budgetBytes + " bytes");
        for (Node n : g.nodes()) if (n.isCustom()) DimRules.flow(n, 0); // says which op has no rule
        ChunkedProgram p = compileOrNull(g, budgetBytes, cost, selection);
        if (p == null) throw infeasible(g, budgetBytes, cost, selection);
        return p;
    }

    /** Speed-first stages, then memory-first ones if those get stuck; null when neither fits the budget. */
    private static ChunkedProgram compileOrNull(Graph g, long budgetBytes, ChunkTimeModel cost, Selection selection) {
        Graph original = g;
        long unchunked = MemoryEstimator.estimate(g, List.of()).peakBytes();
        double baseNs = cost.graphNs(g);
        List<ChunkRegion> regions = new ArrayList<>();
        for (int stage = 0; stage < MAX_STAGES; stage++) {
            MemoryEstimator.Estimate est = MemoryEstimator.estimate(g, regions);
            if (est.peakBytes() <= budgetBytes) return program(g, regions, budgetBytes, unchunked, cost, baseNs);
            Choice best = null;
            for (Candidate candidate : candidates(g, regions, g.position(est.peakNode()))) {
                Choice c = fit(g, regions, candidate, budgetBytes, cost);
                if (c != null && (best == null || better(c, best, selection))) best = c;
            }
            if (best == null) break;
            g = best.graph;
            regions.removeAll(best.replaces);
            regions.add(best.region);
        }
        // Speed-first stages can get stuck (a cheap early region leaves a later peak nothing can
        // reach); memory-first stages are the fallback.
        Plan plan = smallestPlan(original, budgetBytes);
        return plan.peak <= budgetBytes ? program(plan.graph, plan.regions, budgetBytes, unchunked, cost, baseNs) : null;
    }

    private static ChunkedProgram program(Graph g, List<ChunkRegion> regions, long budget, long unchunked, ChunkTimeModel cost, double baseNs) {
        double extra = 0;
        for (ChunkRegion r : regions) extra += cost.regionExtraNs(r);
        return new ChunkedProgram(g, regions, budget, unchunked, (baseNs + extra) / baseNs);
    }

    private static boolean better(Choice c, Choice best, Selection selection) {
        if (selection == Selection.FEWEST_NODES && c.region.body().size() != best.region.body().size()) {
            return c.region.body().size() < best.region.body().size();
        }
        return c.extraNs < best.extraNs;
    }

    /**
     * A legal region around the peak, and the committed regions it contains and would replace: a
     * later stage may grow a region an earlier one chose, when a longer loop is what the new peak needs.
     */
    record Candidate(ChunkRegion region, List<ChunkRegion> replaces) {}

    /** A candidate at its chosen chunk size, in the graph reordered for it, and the time it adds over what it replaces. */
    private record Choice(ChunkRegion region, List<ChunkRegion> replaces, Graph graph, double extraNs) {}

    /**
     * The largest chunk size at which the candidate's own stretch fits the budget, or null. Larger
     * chunks mean fewer iterations and bigger products, so the largest that fits is the fastest.
     */
    private static Choice fit(Graph g, List<ChunkRegion> regions, Candidate candidate, long budget, ChunkTimeModel cost) {
        ChunkRegion region = candidate.region();
        Graph reordered = hoist(g, region);
        List<ChunkRegion> others = new ArrayList<>(regions);
        others.removeAll(candidate.replaces());
        if (regionPeak(reordered, others, region.withChunkSize(1)) > budget) return null;
        int lo = largestFitting(region.extent(), size -> regionPeak(reordered, others, region.withChunkSize(size)) <= budget);
        // Same iterations, evener chunks: the smallest size with that iteration count.
        int iterations = (region.extent() + lo - 1) / lo;
        int size = (region.extent() + iterations - 1) / iterations;
        ChunkRegion chosen = region.withChunkSize(size);
        double extra = cost.regionExtraNs(chosen);
        for (ChunkRegion r : candidate.replaces()) extra -= cost.regionExtraNs(r);
        return new Choice(chosen, candidate.replaces(), reordered, extra);
    }

    /**
     * The largest chunk size in [1, extent] that {@code fits}, by bisection (a smaller chunk never
     * needs more memory); 1 when none larger does.
     */
    private static int largestFitting(int extent, java.util.function.IntPredicate fits) {
        int lo = 1, hi = extent;
        while (lo < hi) {
            int mid = (int) ((lo + (long) hi + 1) / 2);
            if (fits.test(mid)) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /** Peak estimated over the region's stretch (its hoisted nodes and its loop). */
    private static long regionPeak(Graph g, List<ChunkRegion> others, ChunkRegion r) {
        List<ChunkRegion> all = new ArrayList<>(others);
        all.add(r);
        long[] at = MemoryEstimator.estimate(g, all).peakAt();
        long peak = 0;
        for (int p = stretchStart(g, r); p <= g.position(r.last()); p++) peak = Math.max(peak, at[p]);
        return peak;
    }

    private static int stretchStart(Graph g, ChunkRegion r) {
        return r.hoisted().isEmpty() ? g.position(r.first()) : Math.min(g.position(r.first()), g.position(r.hoisted().getFirst()));
    }

    /**
     * Every legal region that loops the peak node, within {@link #WINDOW} nodes of it, that either
     * misses each committed region or contains it whole.
     */
    static List<Candidate> candidates(Graph g, List<ChunkRegion> regions, int peak) {
        int lo = Math.max(0, peak - WINDOW), hi = Math.min(g.size() - 1, peak + WINDOW);
        List<Candidate> out = new ArrayList<>();
        for (int first = lo; first <= peak; first++) {
            Node f = g.node(first);
            if (!f.isCompute()) continue;
            for (int last = peak; last <= hi; last++) {
                if (!g.node(last).isCompute()) continue;
                List<ChunkRegion> inside = contained(g, regions, first, last);
                if (inside == null) continue;
                // A contained region's hoisted nodes lead its stretch; the loop starts after them.
                int seed = first;
                while (seed < last && (!g.node(seed).isCompute() || hoistedBy(inside, g.node(seed)))) seed++;
                Node s = g.node(seed);
                for (int dim = 0; dim < s.rank(); dim++) {
                    ChunkRegion r = RegionBuilder.build(g, first, last, seed, dim, s.size(dim));
                    if (r != null && r.chunkDim().containsKey(g.node(peak))) out.add(new Candidate(r, inside));
                }
            }
        }
        return out;
    }

    private static boolean hoistedBy(List<ChunkRegion> regions, Node n) {
        for (ChunkRegion r : regions) if (r.hoisted().contains(n)) return true;
        return false;
    }

    /** The committed regions inside [first, last], or null when one straddles its edge. */
    private static List<ChunkRegion> contained(Graph g, List<ChunkRegion> regions, int first, int last) {
        List<ChunkRegion> inside = new ArrayList<>();
        for (ChunkRegion r : regions) {
            int rs = stretchStart(g, r), re = g.position(r.last());
            if (re < first || rs > last) continue;
            if (rs < first || re > last) return null;
            inside.add(r);
        }
        return inside;
    }

    /** The graph with the region's hoisted nodes moved just before its loop. */
    static Graph hoist(Graph g, ChunkRegion r) {
        if (r.hoisted().isEmpty()) return g;
        List<Node> order = new ArrayList<>(g.size());
        int first = Math.min(g.position(r.first()), g.position(r.hoisted().getFirst())), last = g.position(r.last());
        for (int p = 0; p < first; p++) order.add(g.node(p));
        for (int p = first; p <= last; p++) if (!g.node(p).isCompute()) order.add(g.node(p));
        order.addAll(r.hoisted());
        order.addAll(r.body());
        for (int p = last + 1; p < g.size(); p++) order.add(g.node(p));
        return g.reordered(order);
    }

    /**
     * The error for an unreachable budget. It names the smallest budget the search could meet,
     * found by bisection and verified: compiling for that budget succeeds.
     */
    private static BudgetTooSmallException infeasible(Graph g, long budget, ChunkTimeModel cost, Selection selection) {
        long unchunked = MemoryEstimator.estimate(g, List.of()).peakBytes();
        long smallest = smallestFeasibleBudget(g, cost, selection);
        return new BudgetTooSmallException(String.format(Locale.ROOT,
                "AutoChunk: no chunk plan fits a budget of %s; the smallest budget the search reached is %s (unchunked peak %s)."
                        + " Raise the budget to at least %s, or shorten the sequence",
                ChunkedProgram.mib(budget), ChunkedProgram.mib(smallest), ChunkedProgram.mib(unchunked), ChunkedProgram.mib(smallest)),
                smallest, unchunked);
    }

    /**
     * What {@link #compile} throws when no plan fits: the smallest budget the search meets and the
     * unchunked peak, for a caller that words its own error or retries.
     */
    public static final class BudgetTooSmallException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        private final long smallestBudgetBytes, unchunkedPeakBytes;

        BudgetTooSmallException(String message, long smallestBudgetBytes, long unchunkedPeakBytes) {
            super(message);
            this.smallestBudgetBytes = smallestBudgetBytes;
            this.unchunkedPeakBytes = unchunkedPeakBytes;
        }

        /** The lowest budget a compile meets (verified: compiling for it succeeds). */
        public long smallestBudgetBytes() {
            return smallestBudgetBytes;
        }

        public long unchunkedPeakBytes() {
            return unchunkedPeakBytes;
        }
    }

    /** The lowest budget (to within 1/256 of the range searched) for which compile succeeds. */
    static long smallestFeasibleBudget(Graph g, ChunkTimeModel cost, Selection selection) {
        long hi = smallestPlan(g, 0).peak; // memory-first stages alone reach this, so it compiles
        long lo = 0;
        long step = Math.max(1, hi >> 8);
        while (hi - lo > step) {
            long mid = lo + (hi - lo) / 2;
            if (compileOrNull(g, mid, cost, selection) != null) hi = mid;
            else lo = mid;
        }
        return hi;
    }

    private record Plan(Graph graph, List<ChunkRegion> regions, long peak) {}

    /**
     * Memory-first stages: each commits the candidate with the lowest peak over its own stretch
     * at chunk size 1 (ColossalAI's minimum-memory mode), until the budget is met or nothing
     * lowers the peak; then each region's chunk grows back as far as the budget allows.
     */
    static Plan smallestPlan(Graph g, long budget) {
        List<ChunkRegion> regions = new ArrayList<>();
        MemoryEstimator.Estimate est = MemoryEstimator.estimate(g, regions);
        for (int stage = 0; stage < MAX_STAGES && est.peakBytes() > budget; stage++) {
            long bestPeak = Long.MAX_VALUE;
            Candidate best = null;
            for (Candidate c : candidates(g, regions, g.position(est.peakNode()))) {
                List<ChunkRegion> others = new ArrayList<>(regions);
                others.removeAll(c.replaces());
                long peak = regionPeak(hoist(g, c.region()), others, c.region().withChunkSize(1));
                if (peak < bestPeak) {
                    bestPeak = peak;
                    best = c;
                }
            }
            if (best == null || bestPeak >= est.peakBytes()) break;
            g = hoist(g, best.region());
            regions.removeAll(best.replaces());
            regions.add(best.region().withChunkSize(1));
            est = MemoryEstimator.estimate(g, regions);
        }
        long target = Math.max(budget, est.peakBytes());
        for (int i = 0; i < regions.size(); i++) {
            ChunkRegion r = regions.get(i);
            int at = i;
            Graph plan = g;
            int size = largestFitting(r.extent(), mid -> {
                List<ChunkRegion> trial = new ArrayList<>(regions);
                trial.set(at, r.withChunkSize(mid));
                return MemoryEstimator.estimate(plan, trial).peakBytes() <= target;
            });
            regions.set(i, r.withChunkSize(size));
        }
        return new Plan(g, regions, MemoryEstimator.estimate(g, regions).peakBytes());
    }

    /** The lowest estimated peak the memory-first stages reach. */
    static long smallestReachablePeak(Graph g) {
        return smallestPlan(g, 0).peak;
    }
}
