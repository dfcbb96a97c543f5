package dev.corvus.vector;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Quants;
import dev.corvus.tensor.testing.QuantFixtures;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The integer GEMV path ({@link QuantDots}, which {@link Gemm#gemmWeights} takes for quantised
 * weights and m &lt;= {@link Gemm#GEMV_MAX_ROWS} (16 on the packed baseline) where {@link QuantDots#pays} says so) against the float reference: the weights
 * decoded by {@link Quants}, the product summed in double.
 *
 * <p>Tolerance, derived from the activation quantisation: each block b of 32 activations of a
 * row is coded as q = round(x / d_b), d_b = max|x| / 127, so |x - d_b q| &lt;= d_b / 2 and the
 * output moves by at most sum_b (d_b / 2) sum_{p in b} |w_p|; on top of that, float rounding of
 * 1e-6 sqrt(k) sum |w x|. A second test feeds activations that 8 bits represent exactly (integers
 * with a +-127 in every block, so d_b = 1) and holds the path to float rounding alone, which
 * catches errors too small for the first bound.
 */
class QuantDotsTest {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static Arena arena;

    @BeforeAll
    static void openArena() {
        arena = Arena.ofShared();
    }

    @AfterAll
    static void closeArena() {
        arena.close();
    }

    /** Random bits with scales of either sign; misaligned, and ending exactly at the segment's end. */
    static MemorySegment weights(DType t, int n, int k, Random random) {
        long rowBytes = t.byteSize(k);
        MemorySegment seg = arena.allocate(6 + n * rowBytes).asSlice(6);
        for (long e = 0; e < seg.byteSize(); e++) seg.set(ValueLayout.JAVA_BYTE, e, (byte) random.nextInt(256));
        for (long b = 0; b < seg.byteSize() / t.blockBytes(); b++) {
            for (int s : Quants.scaleOffsets(t)) {
                float scale = (random.nextBoolean() ? 1 : -1) * (0.002f + 0.018f * random.nextFloat());
                seg.set(SHORT, b * t.blockBytes() + s, Float.floatToFloat16(scale));
            }
        }
        return seg;
    }

    static Stream<Arguments> cases() {
        // m = 1 takes the fused single-row kernels (Q8_0, Q4_0, Q4_K, Q6_K), more rows the staged path.
        int[] ms = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16}, ns = {1, 7, 13, 257}, blocks = {1, 3, 7, 11, 13};
        return QuantFixtures.quantTypes().flatMap(dtype -> {
            Stream.Builder<Arguments> cases = Stream.builder();
            for (int i = 0; i < ms.length; i++) {
                for (int j = 0; j < ns.length; j++) {
                    cases.add(Arguments.of(dtype, ms[i], ns[j], dtype.blockSize() * blocks[(i + j) % blocks.length]));
                }
            }
            // Each fused kernel over one block, 7, 13 and a prime 37 (for the 32-blocks, 1184 elements).
            for (int b : new int[] {1, 7, 13, 37}) cases.add(Arguments.of(dtype, 1, 5, dtype.blockSize() * b));
            // Large: several unpacking chunks per row, both threads busy.
            cases.add(Arguments.of(dtype, 1, 300, 4096 + 2 * dtype.blockSize()));
            cases.add(Arguments.of(dtype, 5, 64, 4096));
            return cases.build();
        });
    }

    @ParameterizedTest(name = "{0} {1}x{2}x{3}")
    @MethodSource("cases")
    void matchesTheFloatReferenceWithinTheActivationRounding(DType dtype, int m, int n, int k) {
        Random random = new Random(1000L * dtype.ordinal() + 31L * m + 7L * n + k);
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) (random.nextGaussian() * (i % 97 == 0 ? 8 : 1));
        check(dtype, m, n, k, x, false, random);
    }

    @ParameterizedTest(name = "{0} {1}x{2}x{3}")
    @MethodSource("cases")
    void activationsThatEightBitsHoldGiveTheFloatResult(DType dtype, int m, int n, int k) {
        Random random = new Random(77L * dtype.ordinal() + 31L * m + 7L * n + k);
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) x[i] = random.nextInt(255) - 127;
        for (int b = 0; b < x.length / 32; b++) x[32 * b + random.nextInt(32)] = random.nextBoolean() ? 127 : -127;
        check(dtype, m, n, k, x, true, random);
    }

    /**
     * A NaN or an infinity in one activation row makes that row's outputs NaN (a NaN scale carries
     * it past the 8-bit codes) and leaves the other rows finite.
     */
    @ParameterizedTest(name = "{0} m={1} {2}")
    @MethodSource("nonFinite")
    void nonFiniteActivationsPropagateToTheirRowOnly(DType dtype, int m, float bad) {
        int n = 9, k = 2 * Math.max(256, dtype.blockSize());
        Random random = new Random(5L * dtype.ordinal() + m);
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        int badRow = m - 1;
        x[badRow * k + k / 2 + 3] = bad;
        MemorySegment w = weights(dtype, n, k, random);
        MemorySegment c = arena.allocate(4L * m * n);
        QuantDots.gemv(m, n, k, x, dtype, w, 0, dtype.byteSize(k), c, 0, n);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float v = c.get(FLOAT, 4L * (i * n + j));
                if (i == badRow) assertThat(v).as("%s row %d column %d", dtype, i, j).isNaN();
                else assertThat(Float.isFinite(v)).as("%s row %d column %d = %s", dtype, i, j, v).isTrue();
            }
        }
    }

    static Stream<Arguments> nonFinite() {
        return QuantFixtures.quantTypes().flatMap(dtype -> Stream.of(1, 3).flatMap(m -> Stream.of(
                Arguments.of(dtype, m, Float.NaN), Arguments.of(dtype, m, Float.POSITIVE_INFINITY), Arguments.of(dtype, m, Float.NEGATIVE_INFINITY))));
    }

    /**
     * Decode pairs Q8_0 weight rows (rowsQ8_0Two); each row of a pair is formed by the same
     * operations as the single-row kernel that takes an odd last row, so a row's value does not
     * depend on its neighbour. Compared to a few ulps, not bitwise: reduceLanes may add the lanes
     * in another order before and after C2 compiles one of the two.
     */
    @org.junit.jupiter.api.Test
    void pairedQ8_0RowsEqualTheirSingleRowKernel() {
        Random random = new Random(29);
        for (int blocks : new int[] {1, 2, 7, 9, 37}) {
            int k = 32 * blocks;
            MemorySegment w = weights(DType.Q8_0, 2, k, random);
            float[] x = new float[k];
            for (int p = 0; p < k; p++) x[p] = (float) random.nextGaussian();
            QuantDots.Activations a = QuantDots.quantise(x, 1, k);
            float[] pair = new float[2];
            QuantDots.rowsQ8_0Two(w, 0, DType.Q8_0.byteSize(k), a, pair);
            for (int r = 0; r < 2; r++) {
                float alone = QuantDots.rowQ8_0(w, r * DType.Q8_0.byteSize(k), a);
                assertThat(pair[r]).as("row %d of a pair, k = %d", r, k).isCloseTo(alone, org.assertj.core.data.Offset.offset(4 * Math.ulp(alone) + 1e-30f));
            }
        }
    }

    private static void check(DType dtype, int m, int n, int k, float[] x, boolean exactActivations, Random random) {
        assertThat(m).isLessThanOrEqualTo(Math.max(Gemm.GEMV_MAX_ROWS, Gemm.PACKED_GEMV_MAX_ROWS));
        MemorySegment w = weights(dtype, n, k, random);
        long rowBytes = dtype.byteSize(k);
        MemorySegment c = arena.allocate(4L * m * n);
        // Directly, not through Gemm.gemmWeights, which keeps a few (dtype, m) on the float path.
        QuantDots.gemv(m, n, k, x.clone(), dtype, w, 0, rowBytes, c, 0, n);
        float[] row = new float[k];
        for (int j = 0; j < n; j++) {
            Quants.dequantize(dtype, w, j * rowBytes, k / dtype.blockSize(), row, 0);
            for (int i = 0; i < m; i++) {
                double sum = 0, magnitude = 0, rounding = 0;
                for (int b = 0; b < k / 32; b++) {
                    double amax = 0, weight = 0;
                    for (int p = 32 * b; p < 32 * b + 32; p++) {
                        double product = (double) row[p] * x[i * k + p];
                        sum += product;
                        magnitude += Math.abs(product);
                        amax = Math.max(amax, Math.abs(x[i * k + p]));
                        weight += Math.abs(row[p]);
                    }
                    rounding += amax / 127 / 2 * weight;
                }
                double tolerance = 1e-6 * Math.sqrt(k) * magnitude + (exactActivations ? 0 : rounding) + 1e-30;
                float actual = c.get(FLOAT, 4L * (i * n + j));
                if (!(Math.abs(actual - sum) <= tolerance)) {
                    throw new AssertionError(dtype + " C[" + i + ", " + j + "] = " + actual + ", expected " + sum
                            + " +- " + tolerance + " (m=" + m + ", n=" + n + ", k=" + k + ", " + QuantDots.SL + " short lanes)");
                }
            }
        }
    }
}
