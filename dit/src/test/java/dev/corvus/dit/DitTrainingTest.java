package dev.corvus.dit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.comm.InJvmCluster;
import dev.corvus.dit.DitConfig.Schedule;
import dev.corvus.dit.DitTraining.Batch;
import dev.corvus.dit.VideoDiT.Init;
import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.dit.VideoDiT.Weights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The rectified-flow training step: on one device every parameter's tape gradient agrees with
 * finite differences of the loss; sequence-parallel (DSP, Ulysses, ring over in-JVM ranks, P in
 * {1, 2, 4, 8}, T' = 5 and S = 9 divisible by none of them) the loss and every gradient equal one
 * device's.
 */
class DitTrainingTest {
    static final long WEIGHT_SEED = 31, DATA_SEED = 32, NOISE_SEED = 33;

    static Batch batch(DitConfig cfg, int clips) {
        int[] shape = {clips, cfg.frames(), cfg.height(), cfg.width(), cfg.channels()};
        float[] times = {0.2f, 0.7f, 0.45f};
        int[] classes = {1, 0, 2};
        return new Batch(Tensor.randn(DATA_SEED, shape), Tensor.randn(NOISE_SEED, shape), java.util.Arrays.copyOf(times, clips),
                java.util.Arrays.copyOf(classes, clips));
    }

    /** Tiny: 3 frames of 4×4 in 2×2 patches (T' = 3, S = 4), C = 8 in 2 heads. */
    static DitConfig tiny(Schedule schedule) {
        return new DitConfig(3, 4, 4, 3, 1, 2, 2, 8, 2, 2, 12, 3, 2, 6, 8, schedule, 1e-5f);
    }

    @ParameterizedTest
    @EnumSource(Schedule.class)
    void everyGradientMatchesFiniteDifferences(Schedule schedule) {
        DitConfig cfg = tiny(schedule);
        try (MemoryScope scope = MemoryScope.open("fd")) {
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
            Batch batch = batch(cfg, 2);
            DitTraining.Step step = DitTraining.step(w, batch);
            assertThat(step.loss()).isEqualTo(DitTraining.loss(w, batch), org.assertj.core.data.Offset.offset(1e-6 * step.loss()));
            int seed = 0;
            for (Map.Entry<String, Tensor> p : w.parameters().entrySet()) {
                Tensor value = p.getValue();
                float[] original = value.toFloatArray();
                float[] direction = Tensor.randn(100 + seed++, value.shape()).toFloatArray();
                double analytic = dot(step.gradients().get(p.getKey()).toFloatArray(), direction);
                // central quotient of float losses, taken in double; h large enough that fp32 noise
                // in the loss (~1e-7 relative) stays well below the O(h²) truncation.
                double h = 1e-2;
                double plus = lossAt(w, batch, value, original, direction, h), minus = lossAt(w, batch, value, original, direction, -h);
                Ops.copyInto(Tensor.of(original, value.shape()), value);
                double numeric = (plus - minus) / (2 * h);
                assertThat(Math.abs(numeric - analytic)).as(p.getKey() + ": finite difference " + numeric + " vs tape " + analytic)
                        .isLessThanOrEqualTo(2e-3 * step.loss() + 2e-2 * Math.abs(analytic));
            }
        }
    }

    private static double lossAt(Weights w, Batch batch, Tensor value, float[] original, float[] direction, double h) {
        float[] moved = new float[original.length];
        for (int i = 0; i < moved.length; i++) moved[i] = (float) (original[i] + h * direction[i]);
        Ops.copyInto(Tensor.of(moved, value.shape()), value);
        return DitTraining.loss(w, batch);
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    @Test
    void theGradientIsNotTrivial() {
        // with adaLN-Zero every gate starts at zero; the finite-difference test uses random gates so
        // that no path is skipped; here: some gradient of every kind of parameter is non-zero
        DitConfig cfg = tiny(Schedule.STDIT);
        try (MemoryScope scope = MemoryScope.open("nonzero")) {
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
            DitTraining.Step step = DitTraining.step(w, batch(cfg, 1));
            for (Map.Entry<String, Tensor> g : step.gradients().entrySet()) {
                double norm = dot(g.getValue().toFloatArray(), g.getValue().toFloatArray());
                assertThat(norm).as(g.getKey()).isGreaterThan(0);
            }
        }
    }

    record RankStep(double loss, Map<String, float[]> gradients, long bytes) {}

    @ParameterizedTest(name = "{0} {1} P={2} B={3}")
    @CsvSource({"STDIT,DSP,1,1", "STDIT,DSP,2,2", "STDIT,DSP,4,1", "STDIT,DSP,8,2", "LATTE,DSP,4,1", "STDIT,ULYSSES,1,1",
            "STDIT,ULYSSES,2,1", "STDIT,ULYSSES,4,2", "STDIT,ULYSSES,8,1", "LATTE,ULYSSES,8,1", "STDIT,RING,1,1", "STDIT,RING,2,2",
            "STDIT,RING,4,1", "STDIT,RING,8,1", "LATTE,RING,4,2"})
    void parallelStepEqualsOneDevice(Schedule schedule, Scheme scheme, int p, int clips) {
        DitConfig cfg = VideoDiTTest.config(schedule, schedule == Schedule.STDIT ? 2 : 3, 1);
        RankStep expected = reference(cfg, clips);
        List<RankStep> ranks = InJvmCluster.run(p, VideoDiTTest.TIMEOUT, comm -> runRank(comm, cfg, scheme, clips));
        for (int r = 0; r < p; r++) assertRank(cfg, scheme, clips, p, r, expected, ranks.get(r));
    }

    @ParameterizedTest(name = "P={0} B={1}")
    @CsvSource({"2,3", "4,2"})
    void imageModeTrainingStepEqualsOneDevice(int p, int clips) {
        // T' = 1: DSP's switches scatter the (padded) batch; the batch pad must add nothing to the gradients
        DitConfig cfg = new DitConfig(1, 6, 6, 3, 1, 2, 2, 32, 8, 2, 48, 3, 2, 12, 16, Schedule.STDIT, 1e-6f);
        RankStep expected = reference(cfg, clips);
        List<RankStep> ranks = InJvmCluster.run(p, VideoDiTTest.TIMEOUT, comm -> runRank(comm, cfg, Scheme.DSP, clips));
        for (int r = 0; r < p; r++) assertRank(cfg, Scheme.DSP, clips, p, r, expected, ranks.get(r));
    }

    /**
     * This rank's training step under {@code scheme} checked against the one-device step computed
     * here from the same seeds (loss, every gradient, the bytes sent): what the in-JVM tests check
     * per rank and MpiEquivalenceMain checks per process.
     */
    static void checkRank(dev.corvus.comm.Communicator comm, DitConfig cfg, Scheme scheme, int clips) {
        RankStep expected = reference(cfg, clips);
        assertRank(cfg, scheme, clips, comm.size(), comm.rank(), expected, runRank(comm, cfg, scheme, clips));
    }

    private static RankStep reference(DitConfig cfg, int clips) {
        try (MemoryScope scope = MemoryScope.open("reference")) {
            return copy(DitTraining.step(VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope), batch(cfg, clips)), 0);
        }
    }

    private static RankStep runRank(dev.corvus.comm.Communicator comm, DitConfig cfg, Scheme scheme, int clips) {
        try (MemoryScope scope = MemoryScope.open("rank " + comm.rank())) {
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
            long before = comm.stats().totalBytes();
            RankStep s = copy(DitTraining.step(comm, scheme, w, batch(cfg, clips)), 0);
            return new RankStep(s.loss(), s.gradients(), comm.stats().totalBytes() - before);
        }
    }

    private static void assertRank(DitConfig cfg, Scheme scheme, int clips, int p, int r, RankStep expected, RankStep got) {
        // fp32 sums over the 48-wide MLP and the 32 channels, then over up to 8 ranks' shares
        double atol = Close.reductionTolerance(cfg.mlpHidden() * p, 1e-5);
        assertThat(got.loss()).as("rank " + r + " loss").isCloseTo(expected.loss(), org.assertj.core.data.Offset.offset(1e-5 * expected.loss()));
        assertThat(got.bytes()).as("rank " + r + " bytes: forward, backward and the one gradient all-reduce")
                .isEqualTo(DitVolume.trainingStep(cfg, scheme, clips, p, cfg.parameterCount()));
        for (String name : expected.gradients().keySet()) {
            Close.assertAllClose(scheme + " P=" + p + " rank " + r + " " + name, expected.gradients().get(name), got.gradients().get(name), atol, 1e-3);
        }
    }

    @Test
    void replicatedConditioningIsNotCountedTwice() {
        // the class table only reaches the loss through the per-token modulations; summed over ranks
        // it must equal one device's, not P times it (DSP with P = 4 over S = 9)
        DitConfig cfg = VideoDiTTest.config(Schedule.STDIT, 1, 1);
        float[] expected;
        try (MemoryScope scope = MemoryScope.open("reference")) {
            expected = DitTraining.step(VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope), batch(cfg, 1)).gradients().get("classTable")
                    .toFloatArray();
        }
        List<float[]> got = InJvmCluster.run(4, VideoDiTTest.TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
                return DitTraining.step(comm, Scheme.DSP, w, batch(cfg, 1)).gradients().get("classTable").toFloatArray();
            }
        });
        Close.assertAllClose("class table gradient", expected, got.getFirst(), 1e-5, 1e-3);
    }

    @Test
    void badBatchesNameWhatIsWrong() {
        try (MemoryScope scope = MemoryScope.open("bad")) {
            Tensor a = Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 3, 4, 4, 3), b = Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 3, 4, 4, 2);
            assertThatThrownBy(() -> new Batch(a, b, new float[] {0.5f}, new int[] {0})).hasMessageContaining("noise has shape");
            assertThatThrownBy(() -> new Batch(a, a, new float[] {0.5f, 0.1f}, new int[] {0})).hasMessageContaining("2 times");
            assertThatThrownBy(() -> new Batch(a, a, new float[] {1.5f}, new int[] {0})).hasMessageContaining("outside [0, 1]");
        }
    }

    private static RankStep copy(DitTraining.Step s, long bytes) {
        Map<String, float[]> g = new LinkedHashMap<>();
        s.gradients().forEach((k, v) -> g.put(k, v.toFloatArray()));
        return new RankStep(s.loss(), g, bytes);
    }
}
