package dev.corvus.hetero;

import static dev.corvus.tensor.testing.Close.assertAllClose;
import static dev.corvus.tensor.testing.Close.reductionTolerance;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SplitLinear on the default OpenCL device (PoCL in CI) against Ops.linear on the CPU: the CPU
 * rows bitwise, the device rows within a K-scaled tolerance, for every α, tile boundaries,
 * awkward sizes and both weight types; then timing independence and the staging ring.
 */
class SplitLinearTest {
    private static DeviceSide device;

    @BeforeAll
    static void open() {
        Profiles.assumeOpenCl();
        Profiles.warmCpuKernels();
        device = DeviceSide.open("opencl");
    }

    @AfterAll
    static void close() {
        if (device != null) device.close();
    }

    private static Tensor weight(long seed, int n, int k, DType dtype) {
        Tensor w = Tensor.randn(MemoryScope.require("weight"), seed, 0.5f, n, k);
        return dtype == DType.F32 ? w : Ops.convert(w, dtype);
    }

    /** Runs the split and checks both halves against the unsplit layer. */
    private static void check(String what, Tensor x, Tensor w, int k, SplitLinear.Options options) {
        int n = w.size(0), kIn = w.size(1);
        try (SplitLinear s = new SplitLinear(what, w, PhaseSplits.fixed(k), device, options)) {
            // the CPU rows' reference just before and just after: a JIT tier change in between
            // (see Profiles.warmCpuKernels) can make one of them differ in the last bits, never both
            float[] before = k > 0 ? Ops.linear(x, w.narrow(0, 0, k), null).toFloatArray() : new float[0];
            Tensor y = s.apply(x);
            float[] after = k > 0 ? Ops.linear(x, w.narrow(0, 0, k), null).toFloatArray() : new float[0];
            assertThat(y.shape()).as(what).containsExactly(x.size(0), n);
            // The device computes in float from the stored weights; the CPU's integer GEMV rounds
            // activations to 8 bits for quantised weights, so the device rows' reference is the
            // float product with the weights dequantised (exact), not Ops.linear on the stored ones.
            Tensor reference = Ops.linear(x, w.dtype().isQuantized() ? Ops.dequantize(w) : w, null);
            if (k > 0) {
                float[] cpuRows = y.narrow(1, 0, k).contiguous().toFloatArray();
                assertThat(Arrays.equals(cpuRows, before) || Arrays.equals(cpuRows, after)).as(what + ": CPU rows bitwise").isTrue();
            }
            if (k < n) {
                double tol = reductionTolerance(kIn, 2e-6);
                assertAllClose(what + ": device rows", reference.narrow(1, k, n - k).contiguous().toFloatArray(),
                        y.narrow(1, k, n - k).contiguous().toFloatArray(), tol, tol);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"F32", "Q8_0"})
    void everyAlphaFromZeroToOne(String type) {
        DType dtype = DType.valueOf(type);
        try (MemoryScope scope = MemoryScope.open("test")) {
            for (int n : new int[] {1, 7, 13, 97, 288}) {
                Tensor w = weight(n, n, 64, dtype);
                for (int m : new int[] {1, 3}) {
                    Tensor x = Tensor.randn(scope, 100 + m, 1f, m, 64);
                    for (int tenth = 0; tenth <= 10; tenth++) {
                        int k = SplitSolver.rowsFor(tenth / 10.0, n);
                        check(type + " n=" + n + " m=" + m + " alpha=" + tenth / 10.0 + " k=" + k, x, w, k, SplitLinear.Options.DEFAULT);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"F32", "Q8_0"})
    void splitPointsAtAndAroundTileBoundaries(String type) {
        DType dtype = DType.valueOf(type);
        try (MemoryScope scope = MemoryScope.open("test")) {
            for (int n : new int[] {16, 17, 31, 33, 64, 127, 257}) {
                Tensor w = weight(n + 1, n, 96, dtype);
                Tensor x = Tensor.randn(scope, n, 1f, 2, 96);
                for (int k : new int[] {0, 1, 15, 16, 17, 31, 32, 33, n - 1, n}) {
                    if (k < 0 || k > n) continue;
                    // small chunks: the ragged last chunk and the ring's wrap-around both show up
                    check(type + " n=" + n + " k=" + k, x, w, k, new SplitLinear.Options(2, 16, SplitLinear.Delay.NONE));
                }
            }
        }
    }

    @Test
    void largerLayerAndPrefillRows() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor w = weight(5, 1000, 512, DType.Q8_0);
            Tensor x = Tensor.randn(scope, 6, 1f, 37, 512); // prefill: the device takes its GEMM path
            check("Q8_0 1000x512 m=37", x, w, 400, SplitLinear.Options.DEFAULT);
            Tensor wf = weight(6, 768, 288, DType.F32);
            check("F32 768x288 m=1", Tensor.randn(scope, 7, 1f, 1, 288), wf, 320, SplitLinear.Options.DEFAULT);
        }
    }

    @Test
    void phaseSplitsPickKByRowsOfX() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor w = weight(8, 96, 64, DType.F32);
            PhaseSplits ps = new PhaseSplits(new int[] {1, 16}, new int[] {64, 16});
            try (SplitLinear s = new SplitLinear("phases", w, ps, device, SplitLinear.Options.DEFAULT)) {
                assertThat(s.pinnedBytes()).isEqualTo(80L * 64 * 4); // rows [min k, n)
                for (int m : new int[] {1, 5, 40}) {
                    Tensor x = Tensor.randn(scope, m, 1f, m, 64);
                    int k = ps.rowsFor(m);
                    assertThat(s.apply(x).narrow(1, 0, k).contiguous().toFloatArray()).as("m=" + m)
                            .isEqualTo(Ops.linear(x, w.narrow(0, 0, k), null).toFloatArray());
                }
            }
        }
    }

    @Test
    void randomDelaysNeverChangeTheResult() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor w = weight(9, 200, 128, DType.Q8_0);
            Tensor x = Tensor.randn(scope, 10, 1f, 2, 128);
            SplitLinear.Options plain = new SplitLinear.Options(2, 16, SplitLinear.Delay.NONE);
            float[] expected;
            try (SplitLinear s = new SplitLinear("plain", w, PhaseSplits.fixed(48), device, plain)) {
                expected = s.apply(x).toFloatArray();
            }
            SplittableRandom r = new SplittableRandom(11);
            for (int trial = 0; trial < 8; trial++) {
                long seed = r.nextLong();
                SplitLinear.Delay delay = randomDelay(seed, trial % 3);
                for (int depth : new int[] {1, 3}) {
                    try (SplitLinear s = new SplitLinear("delayed", w, PhaseSplits.fixed(48), device, new SplitLinear.Options(depth, 16, delay))) {
                        for (int call = 0; call < 2; call++) {
                            assertThat(s.apply(x).toFloatArray()).as("trial %d depth %d call %d", trial, depth, call).isEqualTo(expected);
                        }
                        assertThat(s.stats().reusesBeforeConsumerDone()).isZero();
                    }
                }
            }
        }
    }

    /** Sleeps of 0–2 ms before random steps; which side: 0 CPU, 1 device, 2 both. */
    private static SplitLinear.Delay randomDelay(long seed, int sides) {
        SplittableRandom r = new SplittableRandom(seed);
        return (side, step) -> {
            boolean applies = sides == 2 || (sides == 0) == (side == SplitLinear.Side.CPU);
            int micros;
            synchronized (r) {
                micros = r.nextInt(4) == 0 ? r.nextInt(2000) : 0;
            }
            if (applies && micros > 0) Thread.sleep(micros / 1000, (micros % 1000) * 1000);
        };
    }

    @ParameterizedTest(name = "depth {0}")
    @ValueSource(ints = {1, 2, 4})
    void prefetchDepthsNeverDeadlockOrReuseABusyBuffer(int depth) {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor w = weight(12, 257, 64, DType.F32);
            Tensor x = Tensor.randn(scope, 13, 1f, 1, 64);
            float[] expected = Ops.linear(x, w, null).toFloatArray();
            int k = 32, chunks = (257 - k + 15) / 16;
            SplitLinear.Delay slowDevice = randomDelay(depth, 1);
            assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
                try (SplitLinear s = new SplitLinear("ring", w, PhaseSplits.fixed(k), device, new SplitLinear.Options(depth, 16, slowDevice))) {
                    for (int call = 0; call < 5; call++) {
                        // CPU rows bitwise against the reference just before or just after (a JIT
                        // tier change in between can move one of them in the last bits, never both)
                        float[] before = Ops.linear(x, w.narrow(0, 0, k), null).toFloatArray();
                        float[] y = s.apply(x).toFloatArray();
                        float[] after = Ops.linear(x, w.narrow(0, 0, k), null).toFloatArray();
                        float[] cpuRows = Arrays.copyOf(y, k);
                        assertThat(Arrays.equals(cpuRows, before) || Arrays.equals(cpuRows, after)).as("call " + call + ": CPU rows bitwise").isTrue();
                        assertAllClose("call " + call, expected, y, 1e-4, 1e-4);
                    }
                    SplitLinear.Stats st = s.stats();
                    assertThat(st.chunks()).isEqualTo(5L * chunks);
                    // every chunk past the first D of a call reuses a ring buffer, each only after its GEMM's read-back completed
                    assertThat(st.reuses()).isEqualTo(5L * (chunks - Math.min(depth, chunks)));
                    assertThat(st.reusesBeforeConsumerDone()).isZero();
                }
            });
        }
    }

    @Test
    void allRowsOnTheCpuNeedsNoDevice() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor w = weight(14, 40, 32, DType.F32);
            Tensor x = Tensor.randn(scope, 15, 1f, 3, 32);
            try (SplitLinear s = new SplitLinear("cpu", w, PhaseSplits.fixed(40), null, SplitLinear.Options.DEFAULT)) {
                assertThat(s.pinnedBytes()).isZero();
                assertThat(s.apply(x).toFloatArray()).isEqualTo(Ops.linear(x, w, null).toFloatArray());
            }
        }
    }

    @Test
    void closeReleasesEverything() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor w = weight(17, 64, 32, DType.F32);
            Tensor x = Tensor.randn(scope, 18, 1f, 1, 32);
            long threadsBefore = hetegenThreads();
            SplitLinear s;
            try (DeviceSide own = DeviceSide.open("opencl")) {
                s = new SplitLinear("closing", w, PhaseSplits.fixed(16), own, SplitLinear.Options.DEFAULT);
                s.apply(x);
                assertThat(hetegenThreads()).isEqualTo(threadsBefore + 1);
                s.close();
                s.close(); // idempotent
            }
            assertThat(hetegenThreads()).as("orchestration threads after close").isEqualTo(threadsBefore);
            assertThatThrownBy(() -> s.apply(x)).isInstanceOf(IllegalStateException.class).hasMessageContaining("split linear closing is closed");
        }
    }

    /** Live orchestration threads (one per DeviceSide that has run device work). */
    private static long hetegenThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("corvus-hetero-") && t.isAlive()).count();
    }

    @Test
    void badInputNamesBothShapes() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor w = weight(16, 40, 32, DType.F32);
            try (SplitLinear s = new SplitLinear("w1", w, PhaseSplits.fixed(16), device, SplitLinear.Options.DEFAULT)) {
                assertThatThrownBy(() -> s.apply(Tensor.randn(scope, 1, 1f, 2, 33)))
                        .hasMessageContaining("input [2, 33] and weight [40, 32] do not match on K (33 vs 32)");
            }
            assertThatThrownBy(() -> new SplitLinear("w1", w, PhaseSplits.fixed(41), device, SplitLinear.Options.DEFAULT))
                    .hasMessageContaining("k = 41 is outside [0, 40]");
            assertThatThrownBy(() -> new SplitLinear("w1", w, PhaseSplits.fixed(8), null, SplitLinear.Options.DEFAULT))
                    .hasMessageContaining("no device was given");
            assertThatThrownBy(() -> new SplitLinear.Options(0, 0, null)).hasMessageContaining("prefetch depth must be >= 1");
        }
    }
}
