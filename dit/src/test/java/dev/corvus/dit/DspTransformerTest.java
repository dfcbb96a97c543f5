package dev.corvus.dit;

import dev.corvus.parallel.dsp.DspSharding;
import dev.corvus.parallel.dsp.DspLayout;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.dit.SpatialTemporalTransformer.Config;
import dev.corvus.dit.SpatialTemporalTransformer.UlyssesSharding;
import dev.corvus.dit.SpatialTemporalTransformer.Weights;
import dev.corvus.parallel.CommVolume;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.OpKind;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The spatial-temporal block stack under DSP and under Ulysses equals the single-device forward,
 * pad slots poisoned with NaN never reach the output, and every rank sends exactly the bytes
 * {@link CommVolume} predicts.
 */
class DspTransformerTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    static final int BLOCKS = 2, C = 16;
    static final long WEIGHT_SEED = 11, INPUT_SEED = 12;

    /** What one rank produced: the full output (every rank holds it after the gather) and its byte counters. */
    private record RankRun(float[] out, long allToAll, long allGather, long other) {}

    private interface ParallelForward {
        Tensor run(Communicator comm, Weights w, Tensor x);
    }

    private static Config config(int heads) {
        return new Config(C, heads, 2 * C, 1e-5f);
    }

    /** Runs {@code forward} on p in-JVM ranks; every rank builds the same weights and input from the seeds. */
    private static List<RankRun> runRanks(int p, int heads, int[] shape, ParallelForward forward) {
        return InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                Weights w = SpatialTemporalTransformer.random(config(heads), BLOCKS, WEIGHT_SEED, scope);
                Tensor x = Tensor.randn(INPUT_SEED, shape);
                Tensor y = forward.run(comm, w, x);
                long a2a = comm.stats().bytes(OpKind.ALL_TO_ALL), ag = comm.stats().bytes(OpKind.ALL_GATHER);
                return new RankRun(y.toFloatArray(), a2a, ag, comm.stats().totalBytes() - a2a - ag);
            }
        });
    }

    private static float[] reference(int heads, int[] shape) {
        try (MemoryScope scope = MemoryScope.open("reference")) {
            Weights w = SpatialTemporalTransformer.random(config(heads), BLOCKS, WEIGHT_SEED, scope);
            return SpatialTemporalTransformer.forward(w, Tensor.randn(INPUT_SEED, shape)).toFloatArray();
        }
    }

    private static void assertMatchesReference(String what, float[] expected, List<RankRun> runs, int[] shape) {
        // fp32, sums of at most max(T, S) attention terms and 2C MLP products per block.
        double atol = Close.reductionTolerance(Math.max(2 * C, Math.max(shape[1], shape[2])), 1e-5);
        for (int r = 0; r < runs.size(); r++) {
            float[] got = runs.get(r).out();
            for (float v : got) assertThat(Float.isFinite(v)).as(what + " rank " + r + " output is finite").isTrue();
            Close.assertAllClose(what + " rank " + r, expected, got, atol, 1e-5);
        }
    }

    @ParameterizedTest(name = "P={0} B={1} T={2} S={3}")
    @CsvSource({"1,1,5,6", "2,1,5,6", "3,2,5,6", "4,1,5,6", "4,2,5,6", "3,1,5,7", "2,2,4,6"})
    void dspForwardEqualsSingleDevice(int p, int b, int t, int s) {
        int[] shape = {b, t, s, C};
        List<RankRun> runs = runRanks(p, 2, shape, SpatialTemporalTransformer::forwardDsp);
        assertMatchesReference("DSP", reference(2, shape), runs, shape);
        CommVolume.VideoProblem vp = new CommVolume.VideoProblem(b, t, s, C, p);
        for (RankRun r : runs) {
            assertThat(r.allToAll()).as("DSP all-to-all bytes per rank: 2 switches per block pair").isEqualTo(BLOCKS * CommVolume.dspStPair(vp));
            assertThat(r.allGather()).as("DSP exit gather bytes per rank").isEqualTo(CommVolume.dspGather(vp));
            assertThat(r.other()).as("no other traffic").isZero();
        }
        // A switch moves (P-1)/P of the M'/P elements a rank holds, M' = B·pad(T)·pad(S)·C.
        long padded = (long) b * vp.padded(t) * vp.padded(s) * C;
        assertThat(CommVolume.dspSwitch(vp)).isEqualTo(4 * (padded / p) * (p - 1) / p);
    }

    @ParameterizedTest(name = "P={0} S={1}")
    @CsvSource({"4,6", "2,7", "3,7", "4,7"})
    void nanInPadSlotsNeverReachesTheOutput(int p, int s) {
        int[] shape = {2, 5, s, C};
        List<RankRun> runs = runRanks(p, 2, shape, (comm, w, x) -> {
            DspLayout layout = new DspLayout(x.shape(), SpatialTemporalTransformer.SPACE, comm.size());
            Tensor local = DspSharding.split(comm, x, layout, Float.NaN);
            return DspSharding.gather(comm, SpatialTemporalTransformer.forwardDsp(comm, w, local, layout), layout);
        });
        assertMatchesReference("DSP with NaN pad", reference(2, shape), runs, shape);
    }

    @ParameterizedTest(name = "P={0} B={1}")
    @CsvSource({"2,2", "3,2", "4,2", "4,1", "2,3"})
    void imageModeSwitchesOverTheBatch(int p, int b) {
        int[] shape = {b, 1, 6, C};
        List<RankRun> runs = runRanks(p, 2, shape, (comm, w, x) -> {
            DspLayout layout = new DspLayout(x.shape(), SpatialTemporalTransformer.SPACE, comm.size());
            Tensor local = DspSharding.split(comm, x, layout, Float.NaN);
            return DspSharding.gather(comm, SpatialTemporalTransformer.forwardDsp(comm, w, local, layout), layout);
        });
        assertMatchesReference("DSP image mode", reference(2, shape), runs, shape);
        CommVolume.VideoProblem vp = new CommVolume.VideoProblem(b, 1, 6, C, p);
        assertThat(CommVolume.dspSwitch(vp)).isEqualTo(4L * (p - 1) * vp.padded(b) / p * (vp.padded(6) / p) * C);
        for (RankRun r : runs) assertThat(r.allToAll()).isEqualTo(BLOCKS * CommVolume.dspStPair(vp));
    }

    @ParameterizedTest(name = "P={0} heads={1} B={2} {3}")
    @CsvSource({"1,2,1,SPATIAL", "2,2,1,SPATIAL", "2,2,2,FLATTENED", "4,4,1,SPATIAL", "4,4,2,FLATTENED", "2,4,1,FLATTENED",
            "8,8,1,FLATTENED"})
    void ulyssesBaselineEqualsSingleDevice(int p, int heads, int b, UlyssesSharding sharding) {
        int[] shape = {b, 5, 6, C};
        List<RankRun> runs = runRanks(p, heads, shape, (comm, w, x) -> SpatialTemporalTransformer.forwardUlysses(comm, w, x, sharding));
        assertMatchesReference("Ulysses " + sharding, reference(heads, shape), runs, shape);
        CommVolume.VideoProblem vp = new CommVolume.VideoProblem(b, 5, 6, C, p);
        long pair = sharding == UlyssesSharding.SPATIAL ? CommVolume.ulyssesSpatialStPair(vp) : CommVolume.ulyssesFlattenedStPair(vp);
        long gather = sharding == UlyssesSharding.SPATIAL ? CommVolume.dspGather(vp) : CommVolume.ulyssesFlattenedGather(vp);
        for (RankRun r : runs) {
            assertThat(r.allToAll()).as("Ulysses all-to-all bytes per rank").isEqualTo(BLOCKS * pair);
            assertThat(r.allGather()).as("Ulysses exit gather bytes per rank").isEqualTo(gather);
        }
    }

    @ParameterizedTest(name = "P={0}")
    @CsvSource({"2", "3", "4", "8"})
    void volumeRatiosMatchPapersTable(int p) {
        // T and S divisible by P: one Ulysses all-to-all moves as much as one DSP switch, so per
        // block pair Ulysses on S sends 2x DSP and Ulysses on T·S 4x (DSP's "75% less").
        CommVolume.VideoProblem vp = new CommVolume.VideoProblem(2, 3 * p, 2 * p, C, p);
        long m = 2L * 3 * p * 2 * p * C;
        assertThat(CommVolume.dspSwitch(vp)).isEqualTo(4 * m / p * (p - 1) / p);
        assertThat(CommVolume.ulyssesSpatialStPair(vp)).isEqualTo(2 * CommVolume.dspStPair(vp));
        assertThat(CommVolume.ulyssesFlattenedStPair(vp)).isEqualTo(4 * CommVolume.dspStPair(vp));
    }
}
