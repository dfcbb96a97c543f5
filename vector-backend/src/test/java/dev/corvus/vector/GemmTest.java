package dev.corvus.vector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Differential tests of {@link Gemm} against a double-accumulating scalar reference that decodes
 * weights with its own code. Sizes are deliberately awkward: below, at and just past the
 * register tile, the vector length and the cache blocks.
 */
class GemmTest {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    /** Written around the m x n block of C; must survive every call. */
    private static final float SENTINEL = -12345.5f;

    private static Arena arena;

    @BeforeAll
    static void openArena() {
        arena = Arena.ofShared();
    }

    @AfterAll
    static void closeArena() {
        arena.close();
    }

    // ---------------------------------------------------------------------------------------
    // A strided F32 matrix and the scalar reference

    /** A rows x cols F32 matrix in a segment, addressed through element strides. */
    record Matrix(MemorySegment seg, long offset, long rowStride, long colStride) {
        float get(int r, int c) {
            return seg.get(FLOAT, offset + 4 * (r * rowStride + c * colStride));
        }
    }

    enum Layout {
        ROW_MAJOR, TRANSPOSED, BROADCAST_ROWS, BROADCAST_COLS
    }

    /** Random normal values; padding between rows and a 12-byte offset keep it honest. */
    static Matrix matrix(int rows, int cols, Layout layout, Random random) {
        long offset = 12;
        long rowStride;
        long colStride;
        long elements;
        switch (layout) {
            case ROW_MAJOR -> { rowStride = cols + 3; colStride = 1; elements = rows * rowStride; }
            case TRANSPOSED -> { rowStride = 1; colStride = rows + 5; elements = cols * colStride; }
            case BROADCAST_ROWS -> { rowStride = 0; colStride = 1; elements = cols; }
            case BROADCAST_COLS -> { rowStride = 1; colStride = 0; elements = rows; }
            default -> throw new AssertionError(layout);
        }
        MemorySegment seg = arena.allocate(offset + 4 * elements);
        for (long e = 0; e < elements; e++) seg.set(FLOAT, offset + 4 * e, (float) random.nextGaussian());
        return new Matrix(seg, offset, rowStride, colStride);
    }

    /** C of m x n with ldc = n + 5, an extra row below, and the sentinel everywhere. */
    static Matrix output(int m, int n) {
        long ldc = n + 5;
        long offset = 8;
        MemorySegment seg = arena.allocate(offset + 4 * (m + 1) * ldc);
        for (long e = 0; e < seg.byteSize() / 4; e++) seg.set(FLOAT, 4 * e, SENTINEL);
        return new Matrix(seg, offset, ldc, 1);
    }

    interface Element {
        double at(int r, int c);
    }

    /** Checks C against sum_p A(i,p) B(p,j) in double, and that nothing outside m x n changed. */
    static void assertProduct(int m, int n, int k, Element a, Element b, Matrix c) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                double magnitude = 0;
                for (int p = 0; p < k; p++) {
                    double product = a.at(i, p) * b.at(p, j);
                    sum += product;
                    magnitude += Math.abs(product);
                }
                double tolerance = 1e-6 * Math.sqrt(k) * magnitude + 1e-30;
                float actual = c.get(i, j);
                if (!(Math.abs(actual - sum) <= tolerance)) {
                    throw new AssertionError("C[" + i + ", " + j + "] = " + actual + ", expected " + sum
                            + " +- " + tolerance + " (m=" + m + ", n=" + n + ", k=" + k + ")");
                }
            }
        }
        assertUntouchedOutside(m, n, c);
    }

    static void assertUntouchedOutside(int m, int n, Matrix c) {
        long firstInside = c.offset / 4;
        long lastInside = firstInside + (m - 1L) * c.rowStride + n - 1;
        for (long e = 0; e < c.seg.byteSize() / 4; e++) {
            long rel = e - firstInside;
            boolean inside = rel >= 0 && e <= lastInside && rel % c.rowStride < n;
            if (!inside && c.seg.get(FLOAT, 4 * e) != SENTINEL) {
                throw new AssertionError("C element " + rel + " outside the " + m + " x " + n + " block was written");
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // sgemm

    static Stream<Arguments> sgemmCases() {
        int[][] sizes = {
            {1, 1, 1}, {1, 7, 13}, {7, 13, 31}, {13, 1, 33}, {31, 33, 7}, {33, 64, 97},
            {64, 97, 129}, {97, 129, 257}, {129, 31, 64}, {257, 13, 33}, {1, 257, 129},
            {13, 257, 1}, {2, 33, 64}, {8, 97, 300}, {9, 97, 300}, // both sides of GEMV_MAX_ROWS
        };
        Stream.Builder<Arguments> cases = Stream.builder();
        for (int[] s : sizes) {
            cases.add(Arguments.of(s[0], s[1], s[2], Layout.ROW_MAJOR, Layout.ROW_MAJOR));
            cases.add(Arguments.of(s[0], s[1], s[2], Layout.TRANSPOSED, Layout.ROW_MAJOR));
            cases.add(Arguments.of(s[0], s[1], s[2], Layout.ROW_MAJOR, Layout.TRANSPOSED));
            cases.add(Arguments.of(s[0], s[1], s[2], Layout.TRANSPOSED, Layout.TRANSPOSED));
        }
        for (int[] s : new int[][] {{7, 33, 13}, {97, 31, 129}, {1, 64, 33}}) {
            cases.add(Arguments.of(s[0], s[1], s[2], Layout.BROADCAST_ROWS, Layout.ROW_MAJOR));
            cases.add(Arguments.of(s[0], s[1], s[2], Layout.ROW_MAJOR, Layout.BROADCAST_COLS));
            cases.add(Arguments.of(s[0], s[1], s[2], Layout.BROADCAST_COLS, Layout.BROADCAST_ROWS));
        }
        // Past KC, MC and (for n) NC, with both threads busy.
        cases.add(Arguments.of(300, 500, 700, Layout.ROW_MAJOR, Layout.ROW_MAJOR));
        cases.add(Arguments.of(13, 2100, 33, Layout.ROW_MAJOR, Layout.TRANSPOSED));
        cases.add(Arguments.of(1, 4099, 300, Layout.ROW_MAJOR, Layout.ROW_MAJOR));
        return cases.build();
    }

    @ParameterizedTest(name = "{0}x{1}x{2} A {3} B {4}")
    @MethodSource("sgemmCases")
    void sgemmMatchesReference(int m, int n, int k, Layout aLayout, Layout bLayout) {
        Random random = new Random(31L * m + 7L * n + k + aLayout.ordinal() * 5L + bLayout.ordinal());
        Matrix a = matrix(m, k, aLayout, random);
        Matrix b = matrix(k, n, bLayout, random);
        Matrix c = output(m, n);
        Gemm.sgemm(m, n, k, a.seg, a.offset, a.rowStride, a.colStride,
                b.seg, b.offset, b.rowStride, b.colStride, c.seg, c.offset, c.rowStride);
        assertProduct(m, n, k, a::get, b::get, c);
    }

    @Test
    void sgemmOverwritesWhateverCHeld() {
        Random random = new Random(3);
        Matrix a = matrix(31, 300, Layout.ROW_MAJOR, random);
        Matrix b = matrix(300, 33, Layout.ROW_MAJOR, random);
        Matrix c = output(31, 33);
        for (int i = 0; i < 31; i++) {
            for (int j = 0; j < 33; j++) c.seg.set(FLOAT, c.offset + 4 * (i * c.rowStride + j), Float.NaN);
        }
        Gemm.sgemm(31, 33, 300, a.seg, a.offset, a.rowStride, a.colStride,
                b.seg, b.offset, b.rowStride, b.colStride, c.seg, c.offset, c.rowStride);
        assertProduct(31, 33, 300, a::get, b::get, c);
    }

    @Test
    void sgemmWithEmptyReductionWritesZeros() {
        Matrix c = output(3, 5);
        MemorySegment empty = arena.allocate(4);
        Gemm.sgemm(3, 5, 0, empty, 0, 0, 1, empty, 0, 5, 1, c.seg, c.offset, c.rowStride);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 5; j++) assertThat(c.get(i, j)).isZero();
        }
        assertUntouchedOutside(3, 5, c);
    }

    // ---------------------------------------------------------------------------------------
    // gemmWeights

    /**
     * An n x k weight matrix in dtype, rows contiguous, with the reference's own decoder (for the
     * block types beyond Q8_0, the reference {@link Quants}, itself held to gguf-py bit for bit).
     */
    record Weights(DType dtype, MemorySegment seg, long offset, long rowBytes) {
        double at(int j, int p) {
            long row = offset + j * rowBytes;
            if (dtype.isQuantized() && dtype != DType.Q8_0) {
                return Quants.value(dtype, seg, row + (long) (p / dtype.blockSize()) * dtype.blockBytes(), p % dtype.blockSize());
            }
            return switch (dtype) {
                case F32 -> seg.get(FLOAT, row + 4L * p);
                case F16 -> Float.float16ToFloat(seg.get(SHORT, row + 2L * p));
                case BF16 -> Float.intBitsToFloat((seg.get(SHORT, row + 2L * p) & 0xffff) << 16);
                case Q8_0 -> {
                    long block = row + (p / 32) * 34L;
                    double scale = Float.float16ToFloat(seg.get(SHORT, block));
                    yield scale * seg.get(ValueLayout.JAVA_BYTE, block + 2 + p % 32);
                }
                default -> throw new AssertionError(dtype);
            };
        }
    }

    static Weights weights(DType dtype, int n, int k, Random random) {
        long offset = 6; // misaligned on purpose
        long rowBytes = dtype.byteSize(k);
        MemorySegment seg = arena.allocate(offset + n * rowBytes);
        if (dtype.isQuantized() && dtype != DType.Q8_0) {
            // Random bits with moderate scales of either sign, as QuantFixtures makes them.
            for (long e = 0; e < n * rowBytes; e++) seg.set(ValueLayout.JAVA_BYTE, offset + e, (byte) random.nextInt(256));
            for (long b = 0; b < n * rowBytes / dtype.blockBytes(); b++) {
                for (int s : Quants.scaleOffsets(dtype)) {
                    float scale = (random.nextBoolean() ? 1 : -1) * (0.002f + 0.018f * random.nextFloat());
                    seg.set(SHORT, offset + b * dtype.blockBytes() + s, Float.floatToFloat16(scale));
                }
            }
            return new Weights(dtype, seg, offset, rowBytes);
        }
        for (int j = 0; j < n; j++) {
            long row = offset + j * rowBytes;
            for (int p = 0; p < k; p++) {
                float value = (float) random.nextGaussian();
                switch (dtype) {
                    case F32 -> seg.set(FLOAT, row + 4L * p, value);
                    case F16 -> seg.set(SHORT, row + 2L * p, Float.floatToFloat16(value));
                    case BF16 -> seg.set(SHORT, row + 2L * p, (short) (Float.floatToRawIntBits(value) >>> 16));
                    case Q8_0 -> {
                        long block = row + (p / 32) * 34L;
                        if (p % 32 == 0) {
                            seg.set(SHORT, block, Float.floatToFloat16(0.01f + 0.02f * random.nextFloat()));
                        }
                        seg.set(ValueLayout.JAVA_BYTE, block + 2 + p % 32, (byte) (random.nextInt(255) - 127));
                    }
                    default -> throw new AssertionError(dtype);
                }
            }
        }
        return new Weights(dtype, seg, offset, rowBytes);
    }

    static Stream<Arguments> weightCases() {
        // m <= Gemm.GEMV_MAX_ROWS takes the direct (GEMV) path, larger m the small-m one.
        int[][] sizes = {
            {1, 1, 32}, {1, 7, 64}, {1, 129, 96}, {1, 33, 4096}, {2, 31, 256}, {3, 13, 288}, {7, 64, 32},
            {13, 7, 1056}, {31, 33, 64}, {33, 97, 288}, {64, 31, 96}, {97, 129, 320}, {257, 13, 32},
            {129, 64, 544},
        };
        int[] oddK = {1, 7, 13, 33, 31, 129, 257};
        Stream.Builder<Arguments> cases = Stream.builder();
        for (DType dtype : new DType[] {DType.F32, DType.F16, DType.BF16, DType.Q8_0}) {
            for (int s = 0; s < sizes.length; s++) {
                int k = sizes[s][2];
                if (dtype != DType.Q8_0 && s % 2 == 1) k = oddK[s / 2]; // not always a vector multiple
                cases.add(Arguments.of(dtype, sizes[s][0], sizes[s][1], k));
            }
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0} {1}x{2}x{3}")
    @MethodSource("weightCases")
    void gemmWeightsMatchesReference(DType dtype, int m, int n, int k) {
        assertThat(Gemm.GEMV_MAX_ROWS).isBetween(3, 30); // the sizes above cover both paths
        Random random = new Random(1000L * dtype.ordinal() + 31L * m + 7L * n + k);
        Matrix a = matrix(m, k, m % 2 == 0 ? Layout.TRANSPOSED : Layout.ROW_MAJOR, random);
        Weights w = weights(dtype, n, k, random);
        Matrix c = output(m, n);
        // The exact path: gemmWeights quantises the activations of quantised GEMVs (QuantDotsTest).
        Gemm.gemmWeightsFloatActivations(m, n, k, a.seg, a.offset, a.rowStride, a.colStride,
                dtype, w.seg, w.offset, c.seg, c.offset, c.rowStride);
        assertProduct(m, n, k, a::get, (p, j) -> w.at(j, p), c);
    }

    /**
     * Every quantised dtype on both paths (m <= GEMV_MAX_ROWS direct, larger m small-m), with k
     * from one block to eleven: (m, n) pairs take the four depths in turn.
     */
    static Stream<Arguments> quantCases() {
        int[] ms = {1, 3, 16, 17, 64}, ns = {1, 7, 13, 257}, blocks = {1, 3, 7, 11};
        return QuantFixtures.quantTypes().flatMap(dtype -> {
            Stream.Builder<Arguments> cases = Stream.builder();
            for (int i = 0; i < ms.length; i++) {
                for (int j = 0; j < ns.length; j++) {
                    cases.add(Arguments.of(dtype, ms[i], ns[j], dtype.blockSize() * blocks[(i + j) % blocks.length]));
                }
            }
            return cases.build();
        });
    }

    @ParameterizedTest(name = "{0} {1}x{2}x{3}")
    @MethodSource("quantCases")
    void quantisedWeightsMatchTheReference(DType dtype, int m, int n, int k) {
        Random random = new Random(1000L * dtype.ordinal() + 31L * m + 7L * n + k);
        Matrix a = matrix(m, k, m % 2 == 0 ? Layout.TRANSPOSED : Layout.ROW_MAJOR, random);
        Weights w = weights(dtype, n, k, random);
        // Decoded once: the reference product then costs no more than an F32 one.
        float[] decoded = new float[n * k];
        for (int j = 0; j < n; j++) Quants.dequantize(dtype, w.seg, w.offset + j * w.rowBytes, k / dtype.blockSize(), decoded, j * k);
        Matrix c = output(m, n);
        Gemm.gemmWeightsFloatActivations(m, n, k, a.seg, a.offset, a.rowStride, a.colStride,
                dtype, w.seg, w.offset, c.seg, c.offset, c.rowStride);
        assertProduct(m, n, k, a::get, (p, j) -> decoded[j * k + p], c);
    }

    /**
     * The small-m path (GEMV_MAX_ROWS &lt; m &lt;= SMALL_M_MAX_ROWS) and, on the same data, the
     * packed baseline it replaced (for quantised weights only where that is exact, above GEMV_MAX_ROWS). m runs from the GEMV path (1, 7, 13) through the row panel
     * width and past it (17, 31, 64, 100, 257); n is prime so that neither the 12-row weight
     * panels nor the split between threads come out even; k is prime or an odd number of blocks
     * for the quantised types, and deeper than a depth slice in the cases marked deep.
     */
    static Stream<Arguments> smallRowCases() {
        int[] ms = {1, 7, 13, 17, 31, 64, 100, 257};
        int[] ns = {1, 13, 37, 101};
        int[] oddK = {7, 33, 97, 131, 257, 31, 61, 509};
        Stream.Builder<Arguments> cases = Stream.builder();
        for (DType dtype : new DType[] {DType.F32, DType.F16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K}) {
            for (int i = 0; i < ms.length; i++) {
                int n = ns[(i + dtype.ordinal()) % ns.length];
                int k = dtype.isQuantized() ? dtype.blockSize() * (2 * (i % 3) + 1) : oddK[i];
                cases.add(Arguments.of(dtype, ms[i], n, k));
            }
            // Deeper than one depth slice (2048 at m <= 64, 256 at m = 257), and at m = 257 more
            // weight rows per thread than one block of sums holds.
            cases.add(Arguments.of(dtype, 31, 29, dtype.isQuantized() ? dtype.blockSize() * (dtype.blockSize() == 32 ? 67 : 9) : 2053));
            cases.add(Arguments.of(dtype, 257, 1901, dtype.isQuantized() ? dtype.blockSize() * (dtype.blockSize() == 32 ? 3 : 1) : 97));
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0} {1}x{2}x{3}")
    @MethodSource("smallRowCases")
    void smallRowCountsMatchTheReference(DType dtype, int m, int n, int k) {
        assertThat(Gemm.SMALL_M_MAX_ROWS).isGreaterThanOrEqualTo(257);
        Random random = new Random(7000L * dtype.ordinal() + 31L * m + 7L * n + k);
        Matrix a = matrix(m, k, m % 2 == 0 ? Layout.TRANSPOSED : Layout.ROW_MAJOR, random);
        Weights w = weights(dtype, n, k, random);
        float[] decoded = new float[n * k];
        for (int j = 0; j < n; j++) {
            if (dtype.isQuantized()) {
                Quants.dequantize(dtype, w.seg, w.offset + j * w.rowBytes, k / dtype.blockSize(), decoded, j * k);
            } else {
                for (int p = 0; p < k; p++) decoded[j * k + p] = (float) w.at(j, p);
            }
        }
        Matrix c = output(m, n);
        Gemm.gemmWeightsFloatActivations(m, n, k, a.seg, a.offset, a.rowStride, a.colStride,
                dtype, w.seg, w.offset, c.seg, c.offset, c.rowStride);
        assertProduct(m, n, k, a::get, (p, j) -> decoded[j * k + p], c);

        if (m <= Gemm.PACKED_GEMV_MAX_ROWS && dtype.isQuantized()) return; // the baseline quantises activations there
        Matrix baseline = output(m, n);
        Gemm.gemmWeightsPacked(m, n, k, a.seg, a.offset, a.rowStride, a.colStride,
                dtype, w.seg, w.offset, baseline.seg, baseline.offset, baseline.rowStride);
        assertProduct(m, n, k, a::get, (p, j) -> decoded[j * k + p], baseline);
    }

    /** An F32 weight handed to sgemm as its transpose (how Ops.linear passes it) takes the same path. */
    @ParameterizedTest(name = "m={0}")
    @MethodSource("smallRowCounts")
    void transposedF32WeightsInSgemmMatchTheReference(int m) {
        int n = 43, k = 263;
        Random random = new Random(m);
        Matrix a = matrix(m, k, Layout.ROW_MAJOR, random);
        Matrix b = matrix(k, n, Layout.TRANSPOSED, random);
        Matrix c = output(m, n);
        Gemm.sgemm(m, n, k, a.seg, a.offset, a.rowStride, a.colStride,
                b.seg, b.offset, b.rowStride, b.colStride, c.seg, c.offset, c.rowStride);
        assertProduct(m, n, k, a::get, b::get, c);
    }

    static Stream<Integer> smallRowCounts() {
        return Stream.of(1, 2, 7, 13, 16, 17, 31, 64, 100, 257, 512, 513);
    }

    /** Every 16-bit pattern through the packing decoder: identity A makes C the decoded weights. */
    @ParameterizedTest
    @MethodSource("halfTypes")
    void halfPrecisionDecodingIsExactForEveryBitPattern(DType dtype) {
        int k = 32;
        int n = 65536 / k;
        MemorySegment w = arena.allocate(2L * n * k);
        for (int h = 0; h < 65536; h++) w.set(SHORT, 2L * h, (short) h);
        MemorySegment identity = arena.allocate(4L * k * k);
        for (int i = 0; i < k; i++) identity.set(FLOAT, 4L * (i * k + i), 1f);
        MemorySegment c = arena.allocate(4L * k * n);
        Gemm.gemmWeights(k, n, k, identity, 0, k, 1, dtype, w, 0, c, 0, n);
        for (int h = 0; h < 65536; h++) {
            short bits = (short) h;
            float expected = dtype == DType.F16 ? Float.float16ToFloat(bits) : Float.intBitsToFloat(h << 16);
            float actual = c.get(FLOAT, 4L * ((h % k) * n + h / k));
            if (Float.isNaN(expected) || Float.isInfinite(expected)) {
                // Inf * 0 from the identity's zeros turns every inf into NaN; NaN must stay NaN.
                if (Float.isNaN(expected)) assertThat(actual).as("0x%04x", h).isNaN();
            } else if (actual != expected) {
                throw new AssertionError(dtype + " 0x" + Integer.toHexString(h) + " decoded to " + actual
                        + ", expected " + expected);
            }
        }
    }

    static Stream<DType> halfTypes() {
        return Stream.of(DType.F16, DType.BF16);
    }

    /** The GEMV path's decoders, checked on every pattern that is finite. */
    @ParameterizedTest
    @MethodSource("halfTypes")
    void halfPrecisionDotProductsAreExactOnOneHotInputs(DType dtype) {
        int k = 64;
        int n = 65536 / k;
        MemorySegment w = arena.allocate(2L * n * k);
        for (int h = 0; h < 65536; h++) {
            float value = dtype == DType.F16 ? Float.float16ToFloat((short) h) : Float.intBitsToFloat(h << 16);
            w.set(SHORT, 2L * h, Float.isFinite(value) ? (short) h : 0);
        }
        MemorySegment x = arena.allocate(4L * k);
        MemorySegment c = arena.allocate(4L * n);
        for (int p : new int[] {0, 17, 63}) {
            x.fill((byte) 0);
            x.set(FLOAT, 4L * p, 1f);
            Gemm.gemmWeights(1, n, k, x, 0, k, 1, dtype, w, 0, c, 0, n);
            for (int j = 0; j < n; j++) {
                short h = w.get(SHORT, 2L * (j * k + p));
                float expected = dtype == DType.F16 ? Float.float16ToFloat(h) : Float.intBitsToFloat(h << 16);
                assertThat(c.get(FLOAT, 4L * j)).as("0x%04x", h).isEqualTo(expected == 0 ? 0f : expected);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Argument checks

    @Test
    void rejectsInvalidArguments() {
        MemorySegment small = arena.allocate(4L * 16);
        MemorySegment big = arena.allocate(4L * 1024);
        assertThatThrownBy(() -> Gemm.sgemm(-1, 4, 4, big, 0, 4, 1, big, 0, 4, 1, big, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        assertThatThrownBy(() -> Gemm.sgemm(8, 8, 8, small, 0, 8, 1, big, 0, 8, 1, big, 0, 8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A");
        assertThatThrownBy(() -> Gemm.sgemm(4, 4, 4, big, 0, 4, 1, big, 4096 - 60, 4, 1, big, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("B");
        assertThatThrownBy(() -> Gemm.sgemm(4, 4, 4, big, 0, 4, 1, big, 0, 4, 1, small, 4, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("C");
        assertThatThrownBy(() -> Gemm.sgemm(4, 8, 4, big, 0, 4, 1, big, 0, 8, 1, big, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ldc");
        assertThatThrownBy(() -> Gemm.sgemm(4, 4, 4, big, 0, -4, 1, big, 0, 4, 1, big, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("stride");
        assertThatThrownBy(() -> Gemm.sgemm(4, 4, 4, big, -4, 4, 1, big, 0, 4, 1, big, 0, 4))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Gemm.sgemm(2, 2, 2, big, 0, Long.MAX_VALUE / 2, 1, big, 0, 2, 1, big, 0, 2))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Gemm.gemmWeights(1, 4, 48, big, 0, 48, 1, DType.Q8_0, big, 0, big, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 32");
        assertThatThrownBy(() -> Gemm.gemmWeights(1, 1, 288, big, 0, 288, 1, DType.Q4_K, big, 0, big, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Q4_K").hasMessageContaining("multiple of 256");
        assertThatThrownBy(() -> Gemm.gemmWeights(1, 64, 32, big, 0, 32, 1, DType.F32, small, 0, big, 0, 64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("W");
        assertThatThrownBy(() -> Gemm.gemmWeights(1, 4, 4, big, 0, 4, 1, DType.I32, big, 0, big, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32");
        assertThatThrownBy(() -> Gemm.sgemm(2, 2, 2, big, 0, 2, 1, big, 0, 2, 1, big.asReadOnly(), 0, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("read-only");
    }

    @Test
    void acceptsConfinedHeapAndNativeSegmentsAlike() {
        try (Arena confined = Arena.ofConfined()) {
            int m = 13, n = 33, k = 31;
            MemorySegment a = confined.allocate(4L * m * k);
            MemorySegment b = MemorySegment.ofArray(new float[k * n]);
            MemorySegment c = MemorySegment.ofArray(new float[m * n]);
            Random random = new Random(5);
            for (int e = 0; e < m * k; e++) a.set(FLOAT, 4L * e, (float) random.nextGaussian());
            for (int e = 0; e < k * n; e++) b.set(FLOAT, 4L * e, (float) random.nextGaussian());
            Gemm.sgemm(m, n, k, a, 0, k, 1, b, 0, n, 1, c, 0, n);
            Matrix cm = new Matrix(c, 0, n, 1);
            assertProduct(m, n, k, new Matrix(a, 0, k, 1)::get, new Matrix(b, 0, n, 1)::get, cm);
        }
    }
}
