package dev.corvus.dit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.comm.CommStats;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.OpKind;
import dev.corvus.dit.DitConfig.Schedule;
import dev.corvus.dit.VideoDiT.Init;
import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.dit.VideoDiT.Weights;
import dev.corvus.parallel.CommVolume;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The video DiT: configuration errors, patchify, adaLN-Zero, and the sequence-parallel forward
 * (DSP, Ulysses, ring) equal to one device for P in {1, 2, 4, 8} with T' and S not divisible by P,
 * every rank sending exactly the bytes {@link CommVolume} predicts.
 */
class VideoDiTTest {
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    static final long WEIGHT_SEED = 21, VIDEO_SEED = 22;
    static final float[] TIMES = {0.3f, 0.85f};
    static final int[] CLASSES = {2, 0};

    /** T' = 5 frames of S = 9 patches (6×6 in 2×2 patches), C = 32 in 8 heads: neither 5 nor 9 divides by 2, 4 or 8. */
    static DitConfig config(Schedule schedule, int depth, int patchFrames) {
        return new DitConfig(5 * patchFrames, 6, 6, 3, patchFrames, 2, 2, 32, 8, depth, 48, 3, 2, 12, 16, schedule, 1e-6f);
    }

    record RankRun(float[] out, long allToAll, long allGather, long send, long total) {}

    /** One rank's forward under {@code scheme}; every rank builds the same weights and input from the seeds. */
    static RankRun runRank(Communicator comm, DitConfig cfg, Scheme scheme, int batch) {
        try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
            CommStats st = comm.stats();
            long a2a = st.bytes(OpKind.ALL_TO_ALL), ag = st.bytes(OpKind.ALL_GATHER), send = st.bytes(OpKind.SEND), total = st.totalBytes();
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
            Tensor y = VideoDiT.forward(comm, scheme, w, video(cfg, batch), times(batch), classes(batch), null);
            return new RankRun(y.toFloatArray(), st.bytes(OpKind.ALL_TO_ALL) - a2a, st.bytes(OpKind.ALL_GATHER) - ag,
                    st.bytes(OpKind.SEND) - send, st.totalBytes() - total);
        }
    }

    /**
     * Runs the forward on this rank and asserts it equals the one-device forward (computed here
     * from the same seeds) and that the rank sent exactly CommVolume's bytes: what the in-JVM
     * test checks per rank and MpiEquivalenceMain checks per process.
     */
    static void checkRank(Communicator comm, DitConfig cfg, Scheme scheme, int batch) {
        RankRun run = runRank(comm, cfg, scheme, batch);
        assertRank(cfg, scheme, batch, comm.size(), comm.rank(), reference(cfg, batch), run);
    }

    private static void assertRank(DitConfig cfg, Scheme scheme, int batch, int p, int r, float[] expected, RankRun run) {
        // fp32 sums over at most the 48-wide MLP, 32 channels and 9 keys per block.
        double atol = Close.reductionTolerance(cfg.mlpHidden(), 1e-5);
        CommVolume.VideoProblem tokens = new CommVolume.VideoProblem(batch, cfg.tokenFrames(), cfg.tokenPatches(), cfg.hidden(), p);
        long gather = CommVolume.dspGather(new CommVolume.VideoProblem(batch, cfg.tokenFrames(), cfg.tokenPatches(), cfg.patchValues(), p));
        long perPair = switch (scheme) {
            case DSP -> CommVolume.dspStPair(tokens);
            case ULYSSES -> CommVolume.ulyssesSpatialStPair(tokens);
            case RING -> CommVolume.ringSpatialStPair(tokens);
        };
        Close.assertAllClose(scheme + " rank " + r, expected, run.out(), atol, 1e-4);
        long spatial = cfg.spatialBlocks() * perPair;
        assertThat(scheme == Scheme.RING ? run.send() : run.allToAll()).as(scheme + " rank " + r + " spatial-attention bytes").isEqualTo(spatial);
        assertThat(run.allGather()).as("exit gather bytes").isEqualTo(gather);
        assertThat(run.total()).as("no other traffic: the conditioning is replicated, not sent").isEqualTo(spatial + gather);
    }

    private static Tensor video(DitConfig cfg, int batch) {
        return Tensor.randn(VIDEO_SEED, batch, cfg.frames(), cfg.height(), cfg.width(), cfg.channels());
    }

    private static float[] times(int batch) {
        return java.util.Arrays.copyOf(TIMES, batch);
    }

    private static int[] classes(int batch) {
        return java.util.Arrays.copyOf(CLASSES, batch);
    }

    private static float[] reference(DitConfig cfg, int batch) {
        try (MemoryScope scope = MemoryScope.open("reference")) {
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
            return VideoDiT.forward(w, video(cfg, batch), times(batch), classes(batch), null).toFloatArray();
        }
    }

    @ParameterizedTest(name = "{0} {1} P={2} B={3} p_t={4}")
    @CsvSource({"STDIT,DSP,1,1,1", "STDIT,DSP,2,2,1", "STDIT,DSP,4,1,2", "STDIT,DSP,8,2,1", "LATTE,DSP,2,1,1", "LATTE,DSP,4,2,1",
            "LATTE,DSP,8,1,1", "STDIT,ULYSSES,1,1,1", "STDIT,ULYSSES,2,2,1", "STDIT,ULYSSES,4,1,1", "STDIT,ULYSSES,8,1,2",
            "LATTE,ULYSSES,4,2,1", "STDIT,RING,1,1,1", "STDIT,RING,2,1,1", "STDIT,RING,4,2,1", "STDIT,RING,8,1,1", "LATTE,RING,8,2,2"})
    void parallelForwardEqualsOneDevice(Schedule schedule, Scheme scheme, int p, int batch, int patchFrames) {
        DitConfig cfg = config(schedule, schedule == Schedule.STDIT ? 2 : 3, patchFrames);
        float[] expected = reference(cfg, batch);
        List<RankRun> runs = InJvmCluster.run(p, TIMEOUT, comm -> runRank(comm, cfg, scheme, batch));
        for (int r = 0; r < p; r++) assertRank(cfg, scheme, batch, p, r, expected, runs.get(r));
    }

    @ParameterizedTest(name = "{0} P={1}")
    @CsvSource({"DSP,8", "ULYSSES,8", "RING,8", "DSP,6", "RING,5"})
    void ranksWithoutARealPatchStillAgree(Scheme scheme, int p) {
        // S = 4 patches (4×4 in 2×2) and T' = 3 over more ranks than either: some ranks hold only pad.
        DitConfig cfg = new DitConfig(3, 4, 4, 3, 1, 2, 2, 32, 8, 2, 48, 3, 2, 12, 16, Schedule.STDIT, 1e-6f);
        if (scheme == Scheme.ULYSSES && cfg.heads() % p != 0) throw new IllegalStateException("pick P dividing the heads");
        float[] expected = reference(cfg, 1);
        List<RankRun> runs = InJvmCluster.run(p, TIMEOUT, comm -> runRank(comm, cfg, scheme, 1));
        for (int r = 0; r < p; r++) assertRank(cfg, scheme, 1, p, r, expected, runs.get(r));
    }

    @Test
    void theMovingSquaresTaskSizeRunsUnderDsp() {
        // The task's clips: 16 frames of 32×32 RGB in 4×4 patches (T' = 16, S = 64), C = 64 in 4 heads, over 3 ranks (S, T' not divisible).
        DitConfig cfg = new DitConfig(16, 32, 32, 3, 1, 4, 4, 64, 4, 2, 128, 4, 2, 64, 32, Schedule.STDIT, 1e-6f);
        float[] clips = new float[2 * 16 * 32 * 32 * 3];
        float[] expected;
        try (MemoryScope scope = MemoryScope.open("task")) {
            for (int b = 0; b < 2; b++) {
                float[] one = MovingSquares.generate(b, 16, 32, 3).latent(scope).toFloatArray();
                System.arraycopy(one, 0, clips, b * one.length, one.length);
            }
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
            expected = VideoDiT.forward(w, Tensor.of(clips, 2, 16, 32, 32, 3), TIMES, new int[] {3, 1}, null).toFloatArray();
        }
        List<float[]> outs = InJvmCluster.run(3, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
                return VideoDiT.forward(comm, Scheme.DSP, w, Tensor.of(clips, 2, 16, 32, 32, 3), TIMES, new int[] {3, 1}, null).toFloatArray();
            }
        });
        for (float[] out : outs) Close.assertAllClose("DSP at the task size", expected, out, Close.reductionTolerance(128, 1e-5), 1e-4);
    }

    @ParameterizedTest(name = "P={0} B={1}")
    @CsvSource({"2,2", "4,3", "8,1"})
    void oneFrameClipsSwitchOverTheBatchUnderDsp(int p, int batch) {
        DitConfig cfg = new DitConfig(1, 6, 6, 3, 1, 2, 2, 32, 8, 2, 48, 3, 2, 12, 16, Schedule.STDIT, 1e-6f);
        float[] expected;
        try (MemoryScope scope = MemoryScope.open("reference")) {
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
            expected = VideoDiT.forward(w, video(cfg, batch), new float[batch], new int[batch], null).toFloatArray();
        }
        List<float[]> outs = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
                return VideoDiT.forward(comm, Scheme.DSP, w, video(cfg, batch), new float[batch], new int[batch], null).toFloatArray();
            }
        });
        for (float[] out : outs) Close.assertAllClose("DSP image mode", expected, out, Close.reductionTolerance(48, 1e-5), 1e-4);
    }

    @Test
    void givenConditioningTokensReplaceTheClassTokens() {
        DitConfig cfg = config(Schedule.STDIT, 1, 1);
        try (MemoryScope scope = MemoryScope.open("context")) {
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
            Tensor x = video(cfg, 2);
            float[] learned = VideoDiT.forward(w, x, TIMES, CLASSES, null).toFloatArray();
            // The class tokens looked up by hand and passed as context give the same output; other tokens do not.
            Tensor own = Tensor.of(w.classTokens().toFloatArray(), cfg.classes(), cfg.contextTokens(), cfg.contextChannels());
            Tensor picked = dev.corvus.tensor.Ops.concat(0, own.narrow(0, CLASSES[0], 1), own.narrow(0, CLASSES[1], 1));
            Close.assertAllClose("context = class tokens", learned, VideoDiT.forward(w, x, TIMES, CLASSES, picked).toFloatArray(), 1e-6, 1e-6);
            float[] other = VideoDiT.forward(w, x, TIMES, CLASSES, Tensor.randn(5, 2, cfg.contextTokens(), cfg.contextChannels())).toFloatArray();
            assertThat(maxAbsDiff(learned, other)).isGreaterThan(1e-3f);
            // The class and the time each change the output.
            assertThat(maxAbsDiff(learned, VideoDiT.forward(w, x, TIMES, new int[] {1, 0}, null).toFloatArray())).isGreaterThan(1e-3f);
            assertThat(maxAbsDiff(learned, VideoDiT.forward(w, x, new float[] {0.1f, 0.85f}, CLASSES, null).toFloatArray()))
                    .isGreaterThan(1e-3f);
        }
    }

    @Test
    void adaLnZeroStartsFromAZeroVelocityWithZeroGates() {
        DitConfig cfg = config(Schedule.LATTE, 2, 1);
        try (MemoryScope scope = MemoryScope.open("zero")) {
            Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.ADALN_ZERO, scope);
            int c = cfg.hidden();
            for (VideoDiT.Block b : w.blocks()) {
                float[] m = b.modulation().weight().toFloatArray(), bias = b.modulation().bias().toFloatArray();
                int sublayers = bias.length / (3 * c);
                assertThat(sublayers).isEqualTo(2);
                for (int s = 0; s < sublayers; s++) {
                    for (int row = 0; row < 3 * c; row++) {
                        boolean gate = row >= 2 * c;
                        float rowAbs = 0;
                        for (int k = 0; k < c; k++) rowAbs += Math.abs(m[(3 * s * c + row) * c + k]);
                        assertThat(rowAbs == 0 && bias[3 * s * c + row] == 0).as("row " + row + " of sub-layer " + s + " zero").isEqualTo(gate);
                    }
                }
            }
            float[] v = VideoDiT.forward(w, video(cfg, 2), TIMES, CLASSES, null).toFloatArray();
            for (float x : v) assertThat(x).isZero();
        }
    }

    @Test
    void patchifyAndUnpatchifyAreInverse() {
        DitConfig cfg = new DitConfig(4, 9, 4, 3, 2, 3, 2, 8, 2, 1, 8, 1, 1, 4, 4, Schedule.STDIT, 1e-6f);
        try (MemoryScope scope = MemoryScope.open("patches")) {
            Tensor video = Tensor.randn(3, 2, 4, 9, 4, 3);
            Tensor tokens = VideoDiT.patchify(cfg, video);
            assertThat(tokens.shape()).containsExactly(2, 2, 6, 36);
            // token (b=1, t'=1, s=4 -> row 2, col 0): value 0 is pixel (t=2, h=6, w=0, c=0), value 35 is (t=3, h=8, w=1, c=2).
            assertThat(tokens.get(1, 1, 4, 0)).isEqualTo(video.get(1, 2, 6, 0, 0));
            assertThat(tokens.get(1, 1, 4, 35)).isEqualTo(video.get(1, 3, 8, 1, 2));
            assertThat(VideoDiT.unpatchify(cfg, tokens).toFloatArray()).containsExactly(video.toFloatArray());
        }
    }

    @Test
    void badConfigurationsAndInputsFailNamingTheField() {
        assertThatThrownBy(() -> new DitConfig(5, 32, 32, 3, 2, 2, 2, 32, 8, 1, 64, 1, 1, 8, 8, Schedule.STDIT, 1e-6f))
                .hasMessageContaining("frames = 5 is not a multiple of patchFrames = 2");
        assertThatThrownBy(() -> new DitConfig(4, 30, 32, 3, 1, 4, 4, 32, 8, 1, 64, 1, 1, 8, 8, Schedule.STDIT, 1e-6f))
                .hasMessageContaining("height = 30 is not a multiple of patchHeight = 4");
        assertThatThrownBy(() -> new DitConfig(4, 32, 32, 3, 1, 4, 4, 30, 8, 1, 64, 1, 1, 8, 8, Schedule.STDIT, 1e-6f))
                .hasMessageContaining("hidden = 30 does not split into heads = 8");
        assertThatThrownBy(() -> new DitConfig(4, 32, 32, 3, 1, 4, 4, 32, 8, 0, 64, 1, 1, 8, 8, Schedule.LATTE, 1e-6f))
                .hasMessageContaining("depth = 0 must be at least 1");
        DitConfig cfg = config(Schedule.STDIT, 1, 1);
        try (MemoryScope scope = MemoryScope.open("bad")) {
            Weights w = VideoDiT.initialise(cfg, 1, Init.RANDOM, scope);
            assertThatThrownBy(() -> VideoDiT.forward(w, Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 5, 6, 4, 3), new float[1], new int[1], null))
                    .hasMessageContaining("video has shape [1, 5, 6, 4, 3], expected [B, 5, 6, 6, 3]");
            assertThatThrownBy(() -> VideoDiT.forward(w, video(cfg, 2), new float[1], new int[2], null))
                    .hasMessageContaining("1 times and 2 classes for a batch of 2");
            assertThatThrownBy(() -> VideoDiT.forward(w, video(cfg, 1), new float[1], new int[] {3}, null))
                    .hasMessageContaining("class 3 is outside [0, 3)");
            assertThatThrownBy(() -> VideoDiT.forward(w, video(cfg, 1), new float[1], new int[1], Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 2, 5)))
                    .hasMessageContaining("context has shape [1, 2, 5], expected [1, 2, 12]");
        }
        assertThatThrownBy(() -> InJvmCluster.run(4, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                DitConfig six = new DitConfig(5, 6, 6, 3, 1, 2, 2, 24, 6, 1, 48, 3, 2, 12, 16, Schedule.STDIT, 1e-6f);
                return VideoDiT.forward(comm, Scheme.ULYSSES, VideoDiT.initialise(six, 1, Init.RANDOM, scope), video(six, 1), new float[1],
                        new int[1], null);
            }
        })).rootCause().hasMessageContaining("Ulysses needs the 6 heads divisible by the 4 ranks");
    }

    static float maxAbsDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @ParameterizedTest
    @CsvSource({"STDIT,2,1", "LATTE,3,2", "LATTE,4,1"})
    void parameterCountIsWhatInitialiseMakes(Schedule schedule, int depth, int patchFrames) {
        DitConfig cfg = config(schedule, depth, patchFrames);
        try (MemoryScope scope = MemoryScope.open("count")) {
            long made = VideoDiT.initialise(cfg, 1, Init.RANDOM, scope).parameters().values().stream().mapToLong(Tensor::numel).sum();
            assertThat(cfg.parameterCount()).isEqualTo(made);
        }
    }

    @ParameterizedTest(name = "{0} P={1}")
    @CsvSource({"DSP,4", "ULYSSES,8", "RING,4"})
    void nanInPadSlotsNeverReachesTheOutput(Scheme scheme, int p) {
        // S = 9 over 4 or 8 ranks: the last ranks hold pad patch tokens, all NaN from the split on
        DitConfig cfg = config(Schedule.STDIT, 2, 1);
        float[] expected = reference(cfg, 1);
        List<float[]> runs = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Weights w = VideoDiT.initialise(cfg, WEIGHT_SEED, Init.RANDOM, scope);
                return VideoDiT.forward(comm, scheme, w, video(cfg, 1), times(1), classes(1), null, Float.NaN).toFloatArray();
            }
        });
        for (int r = 0; r < p; r++) Close.assertAllClose(scheme + " with NaN pad, rank " + r, expected, runs.get(r), Close.reductionTolerance(cfg.mlpHidden(), 1e-5), 1e-4);
    }

    @ParameterizedTest(name = "P={0} B={1}")
    @CsvSource({"2,3", "4,2", "8,3"})
    void imageModeSwitchesOverTheBatch(int p, int batch) {
        // one frame (T' = 1): DSP's spatial switch scatters the batch instead, padded when P does not divide it
        DitConfig cfg = new DitConfig(1, 6, 6, 3, 1, 2, 2, 32, 8, 2, 48, 3, 2, 12, 16, Schedule.STDIT, 1e-6f);
        float[] expected = reference(cfg, batch);
        List<RankRun> runs = InJvmCluster.run(p, TIMEOUT, comm -> runRank(comm, cfg, Scheme.DSP, batch));
        for (int r = 0; r < p; r++) assertRank(cfg, Scheme.DSP, batch, p, r, expected, runs.get(r));
    }
}
