package dev.corvus.hetero;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ResidentPlannerTest {
    /** A Llama-like stack: per block q, k, v, o, w1, w2, w3, then a classifier. */
    private static List<LayerShape> llama(int layers, int dim, int hidden, int vocab, DType dtype) {
        List<LayerShape> l = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            String p = "layers." + i + ".";
            l.add(new LayerShape(p + "wq", dim, dim, dtype));
            l.add(new LayerShape(p + "wk", dim, dim, dtype));
            l.add(new LayerShape(p + "wv", dim, dim, dtype));
            l.add(new LayerShape(p + "wo", dim, dim, dtype));
            l.add(new LayerShape(p + "w1", hidden, dim, dtype));
            l.add(new LayerShape(p + "w2", dim, hidden, dtype));
            l.add(new LayerShape(p + "w3", hidden, dim, dtype));
        }
        l.add(new LayerShape("classifier", vocab, dim, dtype));
        return l;
    }

    @Test
    void neverExceedsTheBudgetAndFollowsPriority() {
        SplittableRandom r = new SplittableRandom(3);
        List<LayerShape> layers = llama(6, 288, 768, 32000, DType.F32);
        long total = layers.stream().mapToLong(LayerShape::bytes).sum();
        for (int trial = 0; trial < 200; trial++) {
            DeviceProfile p = Profiles.synthetic(r.nextDouble(1, 50), r.nextDouble(10, 1000), r.nextDouble(1, 50), r.nextDouble(0, 2e-5));
            long budget = (long) (r.nextDouble() * total * 1.1);
            PlacementPlan plan = new ResidentPlanner(new SplitLatencyModel(p)).plan(layers, budget);
            assertThat(plan.residentBytes()).as("trial %d", trial).isLessThanOrEqualTo(budget);

            List<PlacementPlan.Entry> byRank = plan.entries().stream().sorted(Comparator.comparingInt(PlacementPlan.Entry::rank)).toList();
            long left = budget;
            for (int i = 0; i < byRank.size(); i++) {
                PlacementPlan.Entry e = byRank.get(i);
                if (i > 0) assertThat(e.priority()).isLessThanOrEqualTo(byRank.get(i - 1).priority());
                assertThat(e.priority()).isEqualTo(e.decode().predictedSeconds() / e.layer().bytes());
                // greedy: a faster-resident layer that fits at its turn is taken
                boolean pays = e.residentSeconds() < e.decode().predictedSeconds();
                assertThat(e.resident()).as("trial %d rank %d %s", trial, i, e.layer()).isEqualTo(pays && e.layer().bytes() <= left);
                if (e.resident()) left -= e.layer().bytes();
            }
        }
    }

    @Test
    void pinnedBytesAreTheDeviceRowsOfSplitLayers() {
        DeviceProfile p = Profiles.synthetic(20, 400, 20, 1e-6);
        List<LayerShape> layers = llama(2, 1024, 2816, 32000, DType.Q8_0);
        PlacementPlan plan = new ResidentPlanner(new SplitLatencyModel(p)).plan(layers, 8L << 20);
        long expected = 0;
        for (PlacementPlan.Entry e : plan.entries()) {
            if (e.resident()) continue;
            int minK = e.splits().minRows();
            // (1 − min α)·bytes: the rows the device may receive in any phase
            expected += (long) Math.round((1 - (double) minK / e.layer().outFeatures()) * e.layer().bytes());
        }
        assertThat(plan.pinnedBytes()).isEqualTo(expected).isPositive();
        assertThat(plan.entries()).anyMatch(PlacementPlan.Entry::resident).anyMatch(e -> !e.resident());
        assertThat(plan.table()).contains("layers.0.wq").contains("resident").contains("split").contains("pinned host memory");
    }

    @Test
    void noDeviceMeansNothingResidentAndAllRowsOnTheCpu() {
        DeviceProfile p = DeviceProfile.cpuOnly("cpu", 2, java.util.Map.of(DType.F32, new DeviceProfile.Throughput(1e10, 1e11)), 0);
        PlacementPlan plan = new ResidentPlanner(new SplitLatencyModel(p)).plan(llama(1, 64, 128, 100, DType.F32), 1L << 30);
        assertThat(plan.residentBytes()).isZero();
        assertThat(plan.pinnedBytes()).isZero();
        assertThat(plan.entries()).allMatch(e -> e.decode().alpha() == 1.0);
    }

    @Test
    void zeroBudgetKeepsEverythingSplit() {
        PlacementPlan plan = new ResidentPlanner(new SplitLatencyModel(Profiles.synthetic(10, 100, 10, 0))).plan(llama(1, 64, 128, 100, DType.F32), 0);
        assertThat(plan.entries()).noneMatch(PlacementPlan.Entry::resident);
    }
}
