package dev.corvus.parallel.dsp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.corvus.parallel.CommVolume;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.OpKind;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The DSP primitives on [B, T, S, C]: a switch lands exactly where a direct split would, switching
 * there and back and split-then-gather are bitwise identities, pad never leaks, the backward
 * functions are the adjoints, and the bytes sent match {@link CommVolume}.
 */
public class DspShardingTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    /** P with [B, T, S, C] both divisible (T = 2P, S = P) and not (T = 5, S = 7, also smaller than P = 8). */
    static Stream<Arguments> shapes() {
        List<Arguments> a = new ArrayList<>();
        for (int p : new int[] {1, 2, 3, 4, 8}) {
            a.add(Arguments.of(p, new int[] {2, 2 * p, p, 3}));
            a.add(Arguments.of(p, new int[] {2, 5, 7, 3}));
        }
        return a.stream();
    }

    private record RankResult(boolean switchedAsSplit, boolean backBitwise, boolean gatherBitwise, boolean nanFree, long a2aBytes,
            long gatherBytes) {}

    @ParameterizedTest(name = "P={0} shape {1}")
    @MethodSource("shapes")
    void switchesAreExactAndRoundTripsAreBitwiseIdentities(int p, int[] shape) {
        int[][] pairs = {{2, 1}, {1, 2}, {2, 0}, {0, 1}};
        for (int[] pair : pairs) {
            int from = pair[0], to = pair[1];
            List<RankResult> results = InJvmCluster.run(p, TIMEOUT, comm -> {
                try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                    Tensor full = Tensor.randn(7, shape);
                    DspLayout layout = new DspLayout(shape, from, p);
                    Tensor local = DspSharding.split(comm, full, layout, 0f);
                    long a2a0 = comm.stats().bytes(OpKind.ALL_TO_ALL);
                    Tensor switched = DspSharding.dynamicSwitch(comm, local, layout, to);
                    long a2a = comm.stats().bytes(OpKind.ALL_TO_ALL) - a2a0;
                    Tensor direct = DspSharding.split(comm, full, layout.switchTo(to), 0f);
                    Tensor back = DspSharding.dynamicSwitch(comm, switched, layout.switchTo(to), from);
                    long ag0 = comm.stats().bytes(OpKind.ALL_GATHER);
                    Tensor gathered = DspSharding.gather(comm, back, layout);
                    long ag = comm.stats().bytes(OpKind.ALL_GATHER) - ag0;
                    // NaN in this rank's pad slots: the switch strips them, so the result is the zero-filled one.
                    Tensor nanLocal = DspSharding.split(comm, full, layout, Float.NaN);
                    Tensor nanSwitched = DspSharding.dynamicSwitch(comm, nanLocal, layout, to);
                    Tensor nanGathered = DspSharding.gather(comm, nanLocal, layout);
                    return new RankResult(bitwise(direct, switched), bitwise(local, back), bitwise(full, gathered),
                            bitwise(switched, nanSwitched) && bitwise(full, nanGathered), a2a, ag);
                }
            });
            String what = "P=" + p + " " + Arrays.toString(shape) + " switch " + from + "->" + to;
            long expectedSwitch = CommVolume.dspSwitch(shape, from, to, p);
            long padded = 1;
            for (int d = 0; d < shape.length; d++) padded *= d == from || d == to ? (shape[d] + p - 1) / p * p : shape[d];
            // The gather sends this rank's shard (only `from` padded) to P-1 peers.
            long expectedGather = (long) (p - 1) * (padded / paddedSize(shape, to, p) * shape[to]) / p * 4;
            for (RankResult r : results) {
                assertThat(r.switchedAsSplit()).as(what + ": switch equals a direct split along the new dim").isTrue();
                assertThat(r.backBitwise()).as(what + ": switch there and back is the identity").isTrue();
                assertThat(r.gatherBitwise()).as(what + ": split then gather is the identity").isTrue();
                assertThat(r.nanFree()).as(what + ": NaN pad never reaches switch or gather outputs").isTrue();
                assertThat(r.a2aBytes()).as(what + ": switch bytes").isEqualTo(expectedSwitch)
                        .isEqualTo((p - 1) * (padded / p) / p * 4);
                assertThat(r.gatherBytes()).as(what + ": gather bytes").isEqualTo(expectedGather);
            }
        }
    }

    /** Size of dim {@code dim} rounded up to a multiple of p. */
    private static long paddedSize(int[] shape, int dim, int p) {
        return (shape[dim] + p - 1) / p * p;
    }

    private record Dots(double forward, double backward) {}

    @ParameterizedTest(name = "P={0} shape {1}")
    @MethodSource("shapes")
    void backwardFunctionsAreTheAdjoints(int p, int[] shape) {
        int from = 2, to = 1;
        // Switch: sum over ranks of <switch(x), y> equals <x, switchBackward(y)>, pad slots included.
        List<Dots> sw = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                DspLayout layout = new DspLayout(shape, from, p);
                Tensor x = Tensor.randn(100 + comm.rank(), layout.localShape());
                Tensor y = Tensor.randn(200 + comm.rank(), layout.switchTo(to).localShape());
                return new Dots(dot(DspSharding.dynamicSwitch(comm, x, layout, to), y), dot(x, DspSharding.switchBackward(comm, y, layout, to)));
            }
        });
        assertAdjoint("switch", sw);
        // Split and gather: <split(full), y> summed over ranks equals <full, splitBackward(y)>, and
        // <gather(y), full> equals the sum of <y, gatherBackward(full)>.
        List<Dots> sg = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                DspLayout layout = new DspLayout(shape, from, p);
                Tensor full = Tensor.randn(300, shape);
                Tensor y = Tensor.randn(400 + comm.rank(), layout.localShape());
                double splitSide = dot(DspSharding.split(comm, full, layout, 0f), y);
                Tensor dFull = DspSharding.splitBackward(comm, y, layout); // replicated: count it once
                return new Dots(splitSide, comm.rank() == 0 ? dot(full, dFull) : 0);
            }
        });
        assertAdjoint("split", sg);
        List<Dots> gs = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                DspLayout layout = new DspLayout(shape, from, p);
                Tensor full = Tensor.randn(500, shape);
                Tensor y = Tensor.randn(600 + comm.rank(), layout.localShape());
                double gatherSide = dot(DspSharding.gather(comm, y, layout), full);
                return new Dots(comm.rank() == 0 ? gatherSide : 0, dot(y, DspSharding.gatherBackward(comm, full, layout)));
            }
        });
        assertAdjoint("gather", gs);
    }

    @Test
    void switchBackwardLeavesZerosInTheInputPad() {
        int p = 4;
        int[] shape = {1, 5, 6, 2};
        List<float[]> grads = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                DspLayout layout = new DspLayout(shape, 2, p);
                Tensor dy = Tensor.full(Float.NaN, layout.switchTo(1).localShape());
                // NaN everywhere in the output gradient, pad included: real slots get NaN, pad slots exactly 0.
                return DspSharding.switchBackward(comm, dy, layout, 1).narrow(2, layout.validOn(comm.rank()),
                        layout.chunk() - layout.validOn(comm.rank())).contiguous().toFloatArray();
            }
        });
        assertThat(grads.get(3)).hasSize(1 * 5 * 2 * 2).containsOnly(0f);
    }

    @Test
    void layoutDescribesPaddingOnlyOnTheShardedDim() {
        DspLayout l = new DspLayout(new int[] {2, 5, 6, 16}, 2, 4);
        assertThat(l.pad(2)).isEqualTo(2);
        assertThat(l.pad(1)).isZero();
        assertThat(l.chunk()).isEqualTo(2);
        assertThat(l.localShape()).containsExactly(2, 5, 2, 16);
        assertThat(new int[] {l.validOn(0), l.validOn(1), l.validOn(2), l.validOn(3)}).containsExactly(2, 2, 2, 0);
        DspLayout t = l.switchTo(1);
        assertThat(t.pad(1)).isEqualTo(3);
        assertThat(t.pad(2)).isZero();
        assertThat(t.localShape()).containsExactly(2, 2, 6, 16);
    }

    private static void assertAdjoint(String what, List<Dots> dots) {
        double f = 0, b = 0;
        for (Dots d : dots) {
            f += d.forward();
            b += d.backward();
        }
        assertThat(b).as(what + " adjoint").isCloseTo(f, within(1e-9 * (1 + Math.abs(f))));
    }

    public static double dot(Tensor a, Tensor b) {
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        assertThat(x).hasSameSizeAs(y);
        double s = 0;
        for (int i = 0; i < x.length; i++) s += (double) x[i] * y[i];
        return s;
    }

    static boolean bitwise(Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape())) return false;
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        for (int i = 0; i < x.length; i++) {
            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) return false;
        }
        return true;
    }
}
