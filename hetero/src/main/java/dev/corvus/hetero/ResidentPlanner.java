package dev.corvus.hetero;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Chooses which layers stay resident on the device under a memory budget (papers.md §4.3), and
 * solves every other layer's split per phase.
 *
 * <p>Priority is the paper's g = T / M: the layer's heterogeneous-mode decode latency L(α*) over
 * its weight bytes, the latency a byte of device memory buys back. Layers are taken greedily in
 * non-increasing priority (ties in model order); a layer becomes resident when it still fits the
 * remaining budget and residency is predicted faster than its split, otherwise it runs split and
 * the planner goes on to smaller layers. The resident bytes never exceed the budget.
 */
public final class ResidentPlanner {
    /** m buckets: decode, then prefill batches up to these many rows (larger ones use the last). */
    public static final int[] PHASES = {1, 16, 128, 512};

    private final SplitLatencyModel model;

    public ResidentPlanner(SplitLatencyModel model) {
        this.model = model;
    }

    public PlacementPlan plan(List<LayerShape> layers, long budgetBytes) {
        return plan(layers, budgetBytes, Double.NaN);
    }

    /**
     * As {@link #plan(List, long)}, but every split layer uses {@code forcedAlpha} (rounded to the
     * tile) in every phase instead of the solver's choice; NaN means solve. For experiments: it
     * sends rows to the device where the cost model would not.
     */
    public PlacementPlan plan(List<LayerShape> layers, long budgetBytes, double forcedAlpha) {
        if (budgetBytes < 0) throw new IllegalArgumentException("device memory budget must be >= 0 bytes, got " + budgetBytes);
        record Candidate(int index, LayerShape layer, SplitSolver.Split decode, PhaseSplits splits, double resident, double priority) {}
        List<Candidate> candidates = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            LayerShape l = layers.get(i);
            int[] ks = new int[PHASES.length];
            SplitSolver.Split decode = null;
            for (int p = 0; p < PHASES.length; p++) {
                SplitLatencyModel.Terms terms = model.terms(l, PHASES[p]);
                SplitSolver.Split s = Double.isNaN(forcedAlpha) ? SplitSolver.solve(terms, l.outFeatures())
                        : SplitSolver.split(terms, SplitSolver.rowsFor(forcedAlpha, l.outFeatures()), l.outFeatures());
                ks[p] = s.rows();
                if (p == 0) decode = s;
            }
            double resident = model.profile().hasDevice() ? model.terms(l, 1).resident() : Double.POSITIVE_INFINITY;
            candidates.add(new Candidate(i, l, decode, new PhaseSplits(PHASES, ks), resident, decode.predictedSeconds() / l.bytes()));
        }
        List<Candidate> order = new ArrayList<>(candidates);
        order.sort(Comparator.comparingDouble(Candidate::priority).reversed().thenComparingInt(Candidate::index));
        PlacementPlan.Entry[] entries = new PlacementPlan.Entry[layers.size()];
        long left = budgetBytes;
        for (int rank = 0; rank < order.size(); rank++) {
            Candidate c = order.get(rank);
            boolean resident = c.layer().bytes() <= left && c.resident() < c.decode().predictedSeconds();
            if (resident) left -= c.layer().bytes();
            entries[c.index()] = new PlacementPlan.Entry(c.layer(), c.priority(), rank, resident, c.decode(), c.splits(), c.resident());
        }
        return new PlacementPlan(List.of(entries), budgetBytes, PHASES);
    }
}
