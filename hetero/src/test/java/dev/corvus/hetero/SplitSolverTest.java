package dev.corvus.hetero;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.hetero.SplitLatencyModel.Activations;
import dev.corvus.hetero.SplitLatencyModel.Terms;
import dev.corvus.tensor.DType;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SplitSolverTest {
    private static Terms randomTerms(SplittableRandom r, Activations where) {
        return randomTerms(r, where, true);
    }

    private static Terms randomTerms(SplittableRandom r, Activations where, boolean overlap) {
        // spread over three decades so every regime (CPU-bound, bus-bound, fixed-cost-bound) shows up
        double c = Math.pow(10, r.nextDouble(-1, 2)), g = Math.pow(10, r.nextDouble(-2, 1)), io = Math.pow(10, r.nextDouble(-1, 2));
        double x = Math.pow(10, r.nextDouble(-3, 0)), y = Math.pow(10, r.nextDouble(-3, 0));
        double cf = r.nextBoolean() ? 0 : Math.pow(10, r.nextDouble(-2, 1)), df = r.nextBoolean() ? 0 : Math.pow(10, r.nextDouble(-2, 1));
        return new Terms(c, g, io, x, y, cf, df, where, overlap);
    }

    @Test
    void balancePointMinimisesTheLayerLatencyOverAFineGrid() {
        SplittableRandom r = new SplittableRandom(1);
        for (int trial = 0; trial < 2000; trial++) {
            Terms t = randomTerms(r, trial % 2 == 0 ? Activations.HOST : Activations.DEVICE);
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i <= 10_000; i++) best = Math.min(best, t.latency(i / 10_000.0));
            // the continuous optimum is the balance point or an end (where a branch drops its fixed cost)
            double solved = Math.min(t.latency(t.balance()), Math.min(t.latency(0), t.latency(1)));
            assertThat(solved).as("trial %d: %s", trial, t).isLessThanOrEqualTo(best * (1 + 1e-9));
        }
    }

    @Test
    void solverIsOptimalAmongTileAlignedSplits() {
        SplittableRandom r = new SplittableRandom(2);
        int[] sizes = {1, 7, 13, 16, 17, 31, 97, 288, 768, 1000, 4096};
        for (int trial = 0; trial < 2000; trial++) {
            // a quarter of the trials: a device on the host's cores, where the branches add up
            Terms t = randomTerms(r, trial % 2 == 0 ? Activations.HOST : Activations.DEVICE, trial % 4 != 1);
            int n = sizes[trial % sizes.length];
            SplitSolver.Split s = SplitSolver.solve(t, n);
            assertThat(s.rows() % SplitSolver.ROW_TILE == 0 || s.rows() == n).as("k=%d n=%d", s.rows(), n).isTrue();
            for (int k : SplitSolver.allowedRows(n)) {
                assertThat(s.predictedSeconds()).as("trial %d n=%d: k=%d beats the solver's k=%d", trial, n, k, s.rows())
                        .isLessThanOrEqualTo(t.latency((double) k / n) * (1 + 1e-12));
            }
        }
    }

    @Test
    void paperFormulaWithoutFixedCosts() {
        // activations on the device, no fixed costs: α* = (io + g − x) / (c + y + io + g)
        Terms t = new Terms(8, 1, 16, 0.5, 0.25, 0, 0, Activations.DEVICE);
        assertThat(t.balance()).isCloseTo((16 + 1 - 0.5) / (8 + 0.25 + 16 + 1), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(t.cpu(t.balance())).isCloseTo(t.device(t.balance()), org.assertj.core.data.Offset.offset(1e-9));
    }

    @Test
    void degenerateCases() {
        // no device: everything on the CPU
        DeviceProfile cpuOnly = DeviceProfile.cpuOnly("cpu", 2, Map.of(DType.F32, new DeviceProfile.Throughput(1e10, 1e11)), 1e-6);
        LayerShape layer = new LayerShape("w", 4096, 4096, DType.F32);
        SplitSolver.Split s = SplitSolver.solve(new SplitLatencyModel(cpuOnly).terms(layer, 1), 4096);
        assertThat(s.rows()).isEqualTo(4096);
        assertThat(s.alpha()).isEqualTo(1.0);
        assertThat(s.usesDevice()).isFalse();

        // free transfers: the split follows compute alone, c·α = g·(1 − α)
        Terms free = new Terms(3, 1, 0, 0, 0, 0, 0, Activations.HOST);
        assertThat(free.balance()).isCloseTo(0.25, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(SplitSolver.solve(free, 4096).rows()).isEqualTo(1024);

        // c → 0: all rows to the CPU; io → 0 with a free device: α → 0 as g → 0
        assertThat(new Terms(1e-12, 1, 10, 0, 0, 0, 0, Activations.DEVICE).balance()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(new Terms(5, 1e-12, 1e-12, 0, 0, 0, 0, Activations.DEVICE).balance()).isCloseTo(0.0, org.assertj.core.data.Offset.offset(1e-9));

        // a layer smaller than a tile: all or nothing
        assertThat(SplitSolver.allowedRows(7)).containsExactly(0, 7);
        assertThat(SplitSolver.allowedRows(33)).containsExactly(0, 16, 32, 33);
        assertThat(SplitSolver.allowedRows(32)).containsExactly(0, 16, 32);
    }

    @Test
    void aDeviceOnTheHostsCoresGetsAllOrNothing() {
        SplittableRandom r = new SplittableRandom(4);
        for (int trial = 0; trial < 500; trial++) {
            SplitSolver.Split s = SplitSolver.solve(randomTerms(r, Activations.HOST, false), 4096);
            assertThat(s.rows()).as("trial %d", trial).isIn(0, 4096);
        }
    }

    @Test
    void prefillShiftsWorkToTheDevice() {
        // CPU GEMV bandwidth like the bus, CPU flops weak: decode splits, a big prefill streams
        var profile = Profiles.synthetic(20, 500, 20, 0);
        SplitLatencyModel model = new SplitLatencyModel(profile);
        LayerShape layer = new LayerShape("w1", 4096, 4096, DType.F32);
        double decode = SplitSolver.solve(model.terms(layer, 1), 4096).alpha();
        double prefill = SplitSolver.solve(model.terms(layer, 512), 4096).alpha();
        assertThat(decode).isBetween(0.3, 0.7);
        assertThat(prefill).isLessThan(decode);
    }

    @Test
    void badInputSpeaksPlainly() {
        Terms t = new Terms(1, 1, 1, 0, 0, 0, 0, Activations.HOST);
        assertThatThrownBy(() -> SplitSolver.split(t, 9, 8)).hasMessageContaining("k = 9 is outside [0, 8]");
        assertThatThrownBy(() -> SplitSolver.rowsFor(1.5, 8)).hasMessageContaining("outside [0, 1]");
        assertThatThrownBy(() -> new LayerShape("w", 0, 8, DType.F32)).hasMessageContaining("[0, 8]");
        assertThatThrownBy(() -> new SplitLatencyModel(Profiles.synthetic(1, 1, 1, 0)).terms(new LayerShape("w", 8, 8, DType.F32), 0))
                .hasMessageContaining("m (rows of X) must be >= 1");
    }
}
