package dev.corvus.dit;

import dev.corvus.parallel.dsp.DspShardingTest;
import dev.corvus.parallel.dsp.DspSharding;
import dev.corvus.parallel.dsp.DspLayout;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.dit.SpatialTemporalTransformer.Backward;
import dev.corvus.dit.SpatialTemporalTransformer.Config;
import dev.corvus.dit.SpatialTemporalTransformer.Weights;
import dev.corvus.parallel.CommVolume;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.OpKind;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Backward of the spatial-temporal block stack (papers.md 3.7 test 3): the single-device backward
 * agrees with central finite differences, and the DSP backward's gathered input gradient and
 * all-reduced parameter gradients equal the single-device ones, with NaN in every pad slot, for T
 * and S divisible and not by P and in image mode; the bytes sent match {@link CommVolume}.
 */
class DspBackwardTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    static final int BLOCKS = 2, C = 16, HEADS = 2;
    static final long WEIGHT_SEED = 21, INPUT_SEED = 22, GRAD_SEED = 23;

    private static Config config() {
        return new Config(C, HEADS, 2 * C, 1e-5f);
    }

    /** The single-device gradients: dx and every parameter gradient in {@link Weights#parameters()} order. */
    private record Grads(float[] dx, List<float[]> params) {
        static Grads of(Tensor dx, Backward b) {
            return new Grads(dx.toFloatArray(), b.gradients().tensors().stream().map(Tensor::toFloatArray).toList());
        }
    }

    /** One rank's DSP backward: its gradients, whether its dx pad slots are exact zeros, and its traffic. */
    private record RankRun(Grads grads, boolean padIsZero, long allToAll, long allReduce, long allGather, long other) {}

    private static Grads reference(int[] shape) {
        try (MemoryScope scope = MemoryScope.open("reference")) {
            Weights w = SpatialTemporalTransformer.random(config(), BLOCKS, WEIGHT_SEED, scope);
            Backward b = SpatialTemporalTransformer.backward(w, Tensor.randn(INPUT_SEED, shape), Tensor.randn(GRAD_SEED, shape));
            return Grads.of(b.dx(), b);
        }
    }

    /** The DSP backward on p ranks from shards whose pad slots (of x and of dY) hold NaN. */
    private static List<RankRun> runDsp(int p, int[] shape) {
        return InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                Weights w = SpatialTemporalTransformer.random(config(), BLOCKS, WEIGHT_SEED, scope);
                DspLayout layout = new DspLayout(shape, SpatialTemporalTransformer.SPACE, p);
                Tensor localX = DspSharding.split(comm, Tensor.randn(INPUT_SEED, shape), layout, Float.NaN);
                Tensor dYLocal = DspSharding.split(comm, Tensor.randn(GRAD_SEED, shape), layout, Float.NaN);
                Backward b = SpatialTemporalTransformer.backwardDsp(comm, w, localX, dYLocal, layout);
                long a2a = comm.stats().bytes(OpKind.ALL_TO_ALL), ar = comm.stats().bytes(OpKind.ALL_REDUCE);
                int valid = layout.validOn(comm.rank());
                float[] pad = b.dx().narrow(SpatialTemporalTransformer.SPACE, valid, layout.chunk() - valid).contiguous().toFloatArray();
                boolean padIsZero = true;
                for (float v : pad) padIsZero &= Float.floatToRawIntBits(v) == 0;
                Tensor dx = DspSharding.splitBackward(comm, b.dx(), layout);
                long ag = comm.stats().bytes(OpKind.ALL_GATHER);
                return new RankRun(Grads.of(dx, b), padIsZero, a2a, ar, ag, comm.stats().totalBytes() - a2a - ar - ag);
            }
        });
    }

    @ParameterizedTest(name = "P={0} B={1} T={2} S={3}")
    @CsvSource({"1,1,5,6", "2,1,5,6", "2,2,5,7", "3,1,5,6", "3,2,5,7", "4,1,5,6", "4,2,5,7", "2,2,4,6", "2,2,1,6", "3,2,1,7", "4,1,1,6"})
    void dspBackwardEqualsSingleDevice(int p, int b, int t, int s) {
        int[] shape = {b, t, s, C};
        Grads expected = reference(shape);
        List<RankRun> runs = runDsp(p, shape);
        // fp32; a weight gradient sums over up to B·T·S tokens, an input gradient over C and T or S terms.
        int tokens = b * t * s;
        for (int r = 0; r < p; r++) {
            RankRun run = runs.get(r);
            String what = "P=" + p + " [" + b + ", " + t + ", " + s + "] rank " + r;
            assertThat(run.padIsZero()).as(what + ": dx pad slots are exact zeros").isTrue();
            assertClose(what + " dx", expected.dx(), run.grads().dx(), Math.max(2 * C, Math.max(t, s)));
            for (int i = 0; i < expected.params().size(); i++) {
                assertClose(what + " parameter " + i, expected.params().get(i), run.grads().params().get(i), tokens);
                // The all-reduce sums in rank order: every rank holds bitwise the same gradients.
                assertThat(run.grads().params().get(i)).as(what + " parameter " + i + " equals rank 0's").isEqualTo(runs.get(0).grads().params().get(i));
            }
        }
        CommVolume.VideoProblem vp = new CommVolume.VideoProblem(b, t, s, C, p);
        long params = BLOCKS * CommVolume.stBlockParameters(C, 2 * C);
        for (RankRun run : runs) {
            // The checkpointing forward's switches, then the backward's: switch pairs reversed and one all-reduce.
            assertThat(run.allToAll() + run.allReduce()).as("DSP backward bytes").isEqualTo(BLOCKS * CommVolume.dspStPair(vp)
                    + CommVolume.dspBackward(vp, BLOCKS, params));
            assertThat(run.allReduce()).isEqualTo(CommVolume.dspGradientAllReduce(params, p));
            assertThat(run.allGather()).as("entry split's backward").isEqualTo(CommVolume.dspGather(vp));
            assertThat(run.other()).as("no other traffic").isZero();
        }
    }

    @ParameterizedTest(name = "P={0}")
    @CsvSource({"1", "2", "3", "4", "5"})
    void gradientAllReduceBytesFollowThePaddedBuffer(int p) {
        long params = BLOCKS * CommVolume.stBlockParameters(C, 2 * C);
        try (MemoryScope scope = MemoryScope.open("count")) {
            Weights w = SpatialTemporalTransformer.random(config(), BLOCKS, WEIGHT_SEED, scope);
            assertThat(w.parameters().stream().mapToLong(Tensor::numel).sum()).isEqualTo(params);
            assertThat(w.parameters()).hasSize(BLOCKS * SpatialTemporalTransformer.TENSORS_PER_BLOCK);
            assertThat(SpatialTemporalTransformer.parameters(SpatialTemporalTransformer.blocksOf(w.parameters()))).isEqualTo(w.parameters());
        }
        long padded = (params + p - 1) / p * p;
        assertThat(CommVolume.dspGradientAllReduce(params, p)).isEqualTo(2 * (p - 1) * padded / p * 4);
    }

    @ParameterizedTest(name = "P={0} B={1}")
    @CsvSource({"2,2", "3,1"})
    void fullTensorEntryPointMatches(int p, int b) {
        int[] shape = {b, 3, 5, C};
        Grads expected = reference(shape);
        List<Grads> runs = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                Weights w = SpatialTemporalTransformer.random(config(), BLOCKS, WEIGHT_SEED, scope);
                Backward g = SpatialTemporalTransformer.backwardDsp(comm, w, Tensor.randn(INPUT_SEED, shape), Tensor.randn(GRAD_SEED, shape));
                return Grads.of(g.dx(), g);
            }
        });
        for (Grads g : runs) {
            assertClose("full-tensor DSP dx", expected.dx(), g.dx(), 2 * C);
            for (int i = 0; i < expected.params().size(); i++) assertClose("parameter " + i, expected.params().get(i), g.params().get(i), b * 15);
        }
    }

    // ---------------------------------------------------------------- finite differences

    /**
     * Directional derivatives of L = <forward(W, x), R>: <dL/dx, u> and <dL/dθ, u> for a few
     * parameters θ against (L(+εu) − L(−εu)) / 2ε with unit-norm random u, ε = 1e-2, in float with
     * double-accumulated L. The float forward's noise in L (~1e-6 here) over 2ε and the O(ε²)
     * truncation both stay below 1e-3 relative (measured: 3e-4 at worst); the bound is 2e-3.
     */
    @ParameterizedTest(name = "B={0} T={1} S={2}")
    @CsvSource({"1,3,4", "2,1,3"})
    void singleDeviceBackwardMatchesFiniteDifferences(int b, int t, int s) {
        int[] shape = {b, t, s, 8};
        float eps = 1e-2f;
        // block 0: spatial norm weight, spatial wq, temporal wo, MLP w1; block 1: temporal wk and wv, MLP b2.
        // (With T = 1 the temporal softmax is over one key, so wk's gradient is exactly zero there.)
        int[] params = {0, 2, 18, 22, 26 + 10 + 4, 26 + 10 + 6, 26 + 25};
        try (MemoryScope scope = MemoryScope.open("fd")) {
            Config config = new Config(8, 2, 16, 1e-5f);
            Weights w = SpatialTemporalTransformer.random(config, BLOCKS, WEIGHT_SEED, scope);
            Tensor x = Tensor.randn(INPUT_SEED, shape), r = Tensor.randn(GRAD_SEED, shape);
            Backward g = SpatialTemporalTransformer.backward(w, x, r);
            for (int d = 0; d < 3; d++) {
                Tensor u = unit(100 + d, shape);
                double fd = (loss(w, axpy(x, eps, u), r) - loss(w, axpy(x, -eps, u), r)) / (2 * eps);
                assertDirectional("dx direction " + d, DspShardingTest.dot(g.dx(), u), fd);
            }
            List<Tensor> weights = w.parameters(), grads = g.gradients().tensors();
            for (int i : params) {
                Tensor u = unit(200 + i, weights.get(i).shape());
                double fd = (loss(perturbed(w, i, eps, u), x, r) - loss(perturbed(w, i, -eps, u), x, r)) / (2 * eps);
                assertDirectional("parameter " + i, DspShardingTest.dot(grads.get(i), u), fd);
            }
        }
    }

    private static void assertDirectional(String what, double analytic, double fd) {
        assertThat(Math.abs(analytic - fd)).as(what + ": analytic " + analytic + " vs finite difference " + fd)
                .isLessThanOrEqualTo(2e-3 * Math.max(1, Math.abs(fd)));
    }

    private static double loss(Weights w, Tensor x, Tensor r) {
        return DspShardingTest.dot(SpatialTemporalTransformer.forward(w, x), r);
    }

    private static Weights perturbed(Weights w, int index, float eps, Tensor u) {
        List<Tensor> p = new ArrayList<>(w.parameters());
        p.set(index, axpy(p.get(index), eps, u));
        return new Weights(w.config(), SpatialTemporalTransformer.blocksOf(p));
    }

    /** x + a·u. */
    private static Tensor axpy(Tensor x, float a, Tensor u) {
        float[] v = x.toFloatArray(), d = u.toFloatArray();
        for (int i = 0; i < v.length; i++) v[i] += a * d[i];
        return Tensor.of(v, x.shape());
    }

    /** A random direction of unit L2 norm. */
    private static Tensor unit(long seed, int... shape) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 1;
        for (int s : shape) n *= s;
        double[] v = new double[n];
        double norm = 0;
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextGaussian();
            norm += v[i] * v[i];
        }
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) (v[i] / Math.sqrt(norm));
        return Tensor.of(f, shape);
    }

    /** fp32 closeness scaled by the expected tensor's magnitude, for values that sum {@code terms} products. */
    private static void assertClose(String what, float[] expected, float[] actual, int terms) {
        double max = 0;
        for (float e : expected) max = Math.max(max, Math.abs(e));
        Close.assertAllClose(what, expected, actual, Close.reductionTolerance(terms, 1e-5) * Math.max(1, max), 1e-4);
    }
}
