package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Vector API loops against the scalar ones and against double references, on awkward lengths. */
class UpdateKernelsTest {
    static final float B1 = 0.9f, B2 = 0.95f, EPS = 1e-6f, DECAY = 0.999f, STEP = 1e-2f, SQRT_BC2 = 0.3f;

    static MemorySegment random(Arena arena, long n, long seed, double lo, double hi) {
        MemorySegment s = arena.allocate(4 * Math.max(n, 1), 64);
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < n; i++) s.setAtIndex(UpdateKernels.F32, i, (float) r.nextDouble(lo, hi));
        return s;
    }

    /** Random AdamW state (p, m, v) and gradient g, with copies p2, m2, v2 of the state for a second kernel to update. */
    static final class AdamInputs {
        final MemorySegment p, g, m, v, p2, m2, v2;

        AdamInputs(Arena arena, int n) {
            p = random(arena, n, 1, -1, 1);
            g = random(arena, n, 2, -3, 3);
            m = random(arena, n, 3, -0.5, 0.5);
            v = random(arena, n, 4, 0, 2);
            p2 = arena.allocate(p.byteSize(), 64).copyFrom(p);
            m2 = arena.allocate(m.byteSize(), 64).copyFrom(m);
            v2 = arena.allocate(v.byteSize(), 64).copyFrom(v);
        }
    }

    /** Bit-equal contents, reporting the first difference (AssertJ's diff of two long arrays takes far too long). */
    static void assertSameFloats(MemorySegment got, MemorySegment expected, long n) {
        for (long i = 0; i < n; i++) {
            int a = Float.floatToRawIntBits(got.getAtIndex(UpdateKernels.F32, i)), b = Float.floatToRawIntBits(expected.getAtIndex(UpdateKernels.F32, i));
            if (a != b) {
                throw new AssertionError("element " + i + " of " + n + ": " + Float.intBitsToFloat(a) + ", expected " + Float.intBitsToFloat(b));
            }
        }
    }

    static float[] floats(MemorySegment s, long n) {
        float[] f = new float[(int) n];
        for (int i = 0; i < n; i++) f[i] = s.getAtIndex(UpdateKernels.F32, i);
        return f;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 13, 31, 64, 1023, 1024, 1025, 4099, 100_003})
    void adamwVectorEqualsScalarBitForBitAndMatchesDouble(int n) {
        try (Arena arena = Arena.ofShared()) {
            AdamInputs in = new AdamInputs(arena, n);
            MemorySegment p = in.p, g = in.g, m = in.m, v = in.v, p2 = in.p2, m2 = in.m2, v2 = in.v2;
            float[] p0 = floats(p, n), g0 = floats(g, n), m0 = floats(m, n), v0 = floats(v, n);
            UpdateKernels.adamwScalar(p, g, m, v, n, B1, B2, EPS, DECAY, STEP, SQRT_BC2);
            VectorUpdateKernels.adamw(p2, g, m2, v2, n, B1, B2, EPS, DECAY, STEP, SQRT_BC2);
            assertSameFloats(p2, p, n);
            assertSameFloats(m2, m, n);
            assertSameFloats(v2, v, n);
            for (int i = 0; i < n; i++) {
                double mi = B1 * (double) m0[i] + (1 - (double) B1) * g0[i];
                double vi = B2 * (double) v0[i] + (1 - (double) B2) * g0[i] * g0[i];
                double pi = p0[i] * (double) DECAY - STEP * mi / (Math.sqrt(vi) / SQRT_BC2 + EPS);
                assertThat((double) m.getAtIndex(UpdateKernels.F32, i)).isCloseTo(mi, org.assertj.core.data.Offset.offset(1e-6 * (1 + Math.abs(mi))));
                assertThat((double) v.getAtIndex(UpdateKernels.F32, i)).isCloseTo(vi, org.assertj.core.data.Offset.offset(1e-6 * (1 + Math.abs(vi))));
                assertThat((double) p.getAtIndex(UpdateKernels.F32, i)).isCloseTo(pi, org.assertj.core.data.Offset.offset(1e-6 * (1 + Math.abs(pi))));
            }
        }
    }

    /** The dispatchers split long tensors between threads; every element still gets the scalar loop's value, and the sum its reference. */
    @ParameterizedTest
    @ValueSource(ints = {1, 65_535, 65_537, 262_145, 1_000_003})
    void theThreadedDispatchEqualsOneScalarPass(int n) {
        try (Arena arena = Arena.ofShared()) {
            AdamInputs in = new AdamInputs(arena, n);
            MemorySegment p = in.p, g = in.g, m = in.m, v = in.v, p2 = in.p2, m2 = in.m2, v2 = in.v2;
            UpdateKernels.adamwScalar(p, g, m, v, n, B1, B2, EPS, DECAY, STEP, SQRT_BC2);
            UpdateKernels.adamw(p2, g, m2, v2, n, B1, B2, EPS, DECAY, STEP, SQRT_BC2);
            assertSameFloats(p2, p, n);
            assertSameFloats(v2, v, n);
            UpdateKernels.scaleScalar(p, n, 1.5f);
            UpdateKernels.scale(p2, n, 1.5f);
            UpdateKernels.addIntoScalar(p, g, n);
            UpdateKernels.addInto(p2, g, n);
            assertSameFloats(p2, p, n);
            double reference = UpdateKernels.sumOfSquaresScalar(g, n);
            assertThat(UpdateKernels.sumOfSquares(g, n)).isCloseTo(reference, org.assertj.core.data.Offset.offset(1e-5 * reference));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 13, 31, 1023, 1024, 1025, 4099, 100_003, 1_000_003})
    void sumOfSquaresMatchesDoubleWithinLengthScaledTolerance(int n) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment x = random(arena, n, 5, -2, 2);
            double reference = UpdateKernels.sumOfSquaresScalar(x, n);
            // float lanes add SUM_BLOCK / lanes squares each before moving to double: relative error ~ that many ulps
            assertThat(VectorUpdateKernels.sumOfSquares(x, n)).isCloseTo(reference, org.assertj.core.data.Offset.offset(1e-5 * reference + 1e-30));
            assertThat(UpdateKernels.sumOfSquares(x, n)).isCloseTo(reference, org.assertj.core.data.Offset.offset(1e-5 * reference + 1e-30));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 13, 31, 1025, 4099, 100_003})
    void scaleAndAddIntoEqualTheScalarLoops(int n) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = random(arena, n, 6, -5, 5), b = random(arena, n, 7, -5, 5);
            MemorySegment a2 = arena.allocate(a.byteSize(), 64).copyFrom(a);
            UpdateKernels.scaleScalar(a, n, 0.37f);
            VectorUpdateKernels.scale(a2, n, 0.37f);
            assertSameFloats(a2, a, n);
            UpdateKernels.addIntoScalar(a, b, n);
            VectorUpdateKernels.addInto(a2, b, n);
            assertSameFloats(a2, a, n);
        }
    }

    /** Logits of `rows` rows: spread over ±spread, so the softmax has real mass far from the max and tiny probabilities. */
    static MemorySegment logits(Arena arena, int rows, int vocab, long seed, double spread) {
        return random(arena, (long) rows * vocab, seed, -spread, spread);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 16, 17, 1023, 1025, 32_003})
    void crossEntropyRowOnFloatLanesMatchesTheDoubleReference(int vocab) {
        try (Arena arena = Arena.ofShared()) {
            float scale = 1f / 37;
            for (double spread : new double[] {0.5, 12, 40}) {
                MemorySegment got = logits(arena, 1, vocab, vocab + (long) spread, spread);
                MemorySegment expected = arena.allocate(got.byteSize(), 64).copyFrom(got);
                int target = vocab / 3;
                double lossRef = UpdateKernels.rowLossAndGradientScalar(expected, vocab, target, scale);
                double loss = VectorUpdateKernels.rowLossAndGradient(got, vocab, target, scale);
                // float exps summed in float lanes per block, then double: the log-sum-exp within ~1e-6 relative of the sum
                assertThat(loss).as("loss, vocab %d, spread %s", vocab, spread).isCloseTo(lossRef, org.assertj.core.data.Offset.offset(2e-5 * (1 + Math.abs(lossRef))));
                for (int j = 0; j < vocab; j++) {
                    double e = expected.getAtIndex(UpdateKernels.F32, j), g = got.getAtIndex(UpdateKernels.F32, j);
                    // exp(x - lse) in float: x - lse is rounded at |x - lse| up to 2·spread, so the relative error grows with the spread
                    double tol = (1e-5 + 4 * Math.ulp((float) (2 * spread))) * Math.abs(e) + 2 * Math.ulp(scale);
                    if (Math.abs(g - e) > tol) throw new AssertionError("vocab " + vocab + ", spread " + spread + ": element " + j + " = " + g + ", expected " + e);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 33})
    void crossEntropyRowsSkipIgnoredRowsAndEqualTheRowKernelOneByOne(int rows) {
        try (Arena arena = Arena.ofShared()) {
            int vocab = 1000, offset = 3;
            MemorySegment all = logits(arena, rows, vocab, 11, 8), oneByOne = arena.allocate(all.byteSize(), 64).copyFrom(all);
            int[] targets = new int[offset + rows];
            for (int i = 0; i < targets.length; i++) targets[i] = i % 4 == 1 ? CrossEntropy.IGNORE : (i * 131) % vocab;
            double sum = UpdateKernels.crossEntropyRows(all, rows, vocab, targets, offset, 0.25f);
            double expected = 0;
            for (int i = 0; i < rows; i++) {
                MemorySegment row = oneByOne.asSlice(4L * i * vocab, 4L * vocab);
                int t = targets[offset + i];
                if (t == CrossEntropy.IGNORE) row.fill((byte) 0);
                else expected += UpdateKernels.VECTOR ? VectorUpdateKernels.rowLossAndGradient(row, vocab, t, 0.25f) : UpdateKernels.rowLossAndGradientScalar(row, vocab, t, 0.25f);
            }
            assertThat(sum).isEqualTo(expected);
            assertSameFloats(all, oneByOne, (long) rows * vocab);
        }
    }
}
