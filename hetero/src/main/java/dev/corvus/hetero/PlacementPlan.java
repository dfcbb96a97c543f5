package dev.corvus.hetero;

import java.util.List;
import java.util.Locale;

/**
 * Where each linear layer runs: resident on the device, or split between the CPU and the device
 * with a k per phase. Made by {@link ResidentPlanner}.
 *
 * @param entries      in model order
 * @param budgetBytes  the device memory the resident weights may take
 * @param phases       the m buckets the splits are solved for (decode first)
 */
public record PlacementPlan(List<Entry> entries, long budgetBytes, int[] phases) {
    public PlacementPlan {
        entries = List.copyOf(entries);
        phases = phases.clone();
    }

    /**
     * One layer's decision.
     *
     * @param layer           the weight's shape
     * @param priority        decode-time split latency per weight byte (seconds per byte)
     * @param rank            position in the planner's priority order (0 = considered first)
     * @param resident        the weight lives on the device
     * @param decode          the decode (m = 1) split and its predicted times
     * @param splits          k per phase
     * @param residentSeconds predicted decode time if resident
     */
    public record Entry(LayerShape layer, double priority, int rank, boolean resident, SplitSolver.Split decode, PhaseSplits splits,
            double residentSeconds) {
        /** "resident", "split" (the device takes rows in some phase) or "cpu" (it never does). */
        public String placement() {
            if (resident) return "resident";
            return splits.minRows() < layer.outFeatures() ? "split" : "cpu";
        }

        /** Predicted decode time of this layer under the plan. */
        public double predictedSeconds() {
            return resident ? residentSeconds : decode.predictedSeconds();
        }

        /** Pinned host bytes a split layer holds: the rows the device may be sent in some phase, (1 − min α)·bytes. */
        public long pinnedBytes() {
            return resident ? 0 : (long) (layer.outFeatures() - splits.minRows()) * layer.rowBytes();
        }
    }

    public long residentBytes() {
        return entries.stream().filter(Entry::resident).mapToLong(e -> e.layer().bytes()).sum();
    }

    public long pinnedBytes() {
        return entries.stream().mapToLong(Entry::pinnedBytes).sum();
    }

    /** Predicted decode time of all layers' products, one after another. */
    public double predictedDecodeSeconds() {
        return entries.stream().mapToDouble(Entry::predictedSeconds).sum();
    }

    public Entry entry(String name) {
        return entries.stream().filter(e -> e.layer().name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("plan has no layer " + name));
    }

    /** The plan as a table: one row per layer, then the totals. */
    public String table() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-16s %-6s %12s %9s %-9s %6s %11s %10s  %s%n", "layer", "dtype", "shape", "MiB", "placement", "alpha", "k",
                "decode us", "k per phase (m<=)"));
        for (Entry e : entries) {
            LayerShape l = e.layer();
            String phaseKs = e.resident() ? "-" : phaseList(e.splits());
            s.append(String.format(Locale.ROOT, "%-16s %-6s %12s %9.2f %-9s %6s %11s %10.1f  %s%n", l.name(), l.dtype(),
                    l.outFeatures() + "x" + l.inFeatures(), l.bytes() / 1048576.0, e.placement(),
                    e.resident() ? "-" : String.format(Locale.ROOT, "%.3f", e.decode().alpha()),
                    e.resident() ? "-" : e.decode().rows() + "/" + l.outFeatures(), e.predictedSeconds() * 1e6, phaseKs));
        }
        s.append(String.format(Locale.ROOT, "resident %.2f MiB of a %.2f MiB budget; pinned host memory %.2f MiB; predicted decode (linear layers) %.3f ms",
                residentBytes() / 1048576.0, budgetBytes / 1048576.0, pinnedBytes() / 1048576.0, predictedDecodeSeconds() * 1e3));
        return s.toString();
    }

    private String phaseList(PhaseSplits ps) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < phases.length; i++) {
            if (i > 0) s.append(' ');
            s.append(phases[i]).append(':').append(ps.rowsFor(phases[i]));
        }
        return s.toString();
    }

    @Override
    public String toString() {
        return table();
    }
}
