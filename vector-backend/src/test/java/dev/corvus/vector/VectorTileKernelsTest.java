package dev.corvus.vector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.TileKernels;
import dev.corvus.tensor.testing.Close;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The Vector API tile kernels against the scalar reference: every GEMM form on sizes that hit
 * the register tile's row and column tails, inside larger arrays with offsets and padded leading
 * dimensions, and the row kernels on awkward lengths with -inf, NaN and extreme values.
 */
class VectorTileKernelsTest {
    private static final TileKernels VECTOR = new VectorBackend().tiles();
    private static final TileKernels SCALAR = Backends.scalarTiles();

    private static final int[] SIZES = {1, 7, 13, 16, 17, 31, 33, 64, 80, 97, 128, 257};
    private static final float[] BETAS = {0f, 1f, 0.5f};

    private enum Form { NT, NN, TN }

    @Test
    void backendHandsOutTheVectorKernels() {
        assertThat(VECTOR).isSameAs(VectorTileKernels.INSTANCE);
    }

    @Test
    void allFormsMatchTheReferenceOnMixedSizes() {
        for (Form form : Form.values()) {
            for (int mi = 0; mi < SIZES.length; mi++) {
                for (int ni = 0; ni < SIZES.length; ni++) {
                    // Every (m, n) pair, with k walking through all sizes as well.
                    int k = SIZES[(mi + 3 * ni + form.ordinal()) % SIZES.length];
                    for (float beta : BETAS) check(form, SIZES[mi], SIZES[ni], k, beta);
                }
            }
        }
    }

    @Test
    void flashAttentionShapes() {
        int[][] shapes = {
            {64, 64, 64}, {64, 64, 128}, {128, 128, 64}, {64, 80, 64}, {64, 64, 80}, {128, 256, 128},
            {64, 64, 1}, {64, 7, 64}, {64, 64, 13}, {0, 5, 3}, {5, 0, 3}, {5, 3, 0}, {1, 1, 1},
        };
        for (int[] s : shapes) {
            for (Form form : Form.values()) {
                for (float beta : BETAS) check(form, s[0], s[1], s[2], beta);
            }
        }
    }

    /**
     * Fewer rows than a register panel (decode runs one query row per head): gemmNT's dot
     * products and the one-row strips of gemmNN / gemmTN, on n and k that leave vector tails,
     * one vector, several strips, with offsets and leading-dimension padding varied too. Rows
     * after the last whole panel take the same path, so m = MR + 3 is here as well.
     */
    @Test
    void fewRowsMatchTheReference() {
        int[] ms = {1, 2, 3, 5, 7, VectorTileKernels.MR - 1, VectorTileKernels.MR + 3};
        int[] ns = {1, 3, 4, 5, 15, 16, 17, 47, 48, 64, 65, 129};
        int[] ks = {1, 2, 13, 16, 33, 48, 64, 100};
        int variant = 0;
        for (int m : ms) {
            for (int n : ns) {
                for (int k : ks) {
                    for (Form form : Form.values()) {
                        float beta = BETAS[variant % BETAS.length];
                        int pad = variant % 4;
                        int off = (variant * 7) % 5;
                        variant++;
                        check(form, m, n, k, beta, off, 2 * off + 1, off + 3, pad, 3 - pad, pad == 2 ? 0 : 1);
                    }
                }
            }
        }
    }

    private static void check(Form form, int m, int n, int k, float beta) {
        check(form, m, n, k, beta, 5, 11, 9, 3, 5, 7);
    }

    /**
     * Operands sit at odd offsets inside arrays whose leading dimensions exceed the row lengths.
     * Everything in C outside the m x n block (padding between rows, before and after) must
     * come back bit for bit.
     */
    private static void check(Form form, int m, int n, int k, float beta, int aOff, int bOff, int cOff,
            int aPad, int bPad, int cPad) {
        String what = form + " m=" + m + " n=" + n + " k=" + k + " beta=" + beta + " offsets " + aOff + "/" + bOff
                + "/" + cOff + " pads " + aPad + "/" + bPad + "/" + cPad;
        SplittableRandom r = new SplittableRandom(31L * m + 17L * n + k + form.ordinal());
        int aRows = form == Form.TN ? k : m, aCols = form == Form.TN ? m : k;
        int bRows = form == Form.NT ? n : k, bCols = form == Form.NT ? k : n;
        int lda = aCols + aPad, ldb = bCols + bPad, ldc = n + cPad;
        // cPad 0: arrays end at the operands' last elements, so any read or write past them throws.
        int tail = cPad == 0 ? 0 : 4;
        float[] a = random(r, aOff + span(aRows, aCols, lda) + tail);
        float[] b = random(r, bOff + span(bRows, bCols, ldb) + tail);
        float[] c0 = random(r, cOff + span(m, n, ldc) + tail);
        if (beta == 0 && n > 0) {
            // beta 0 must not read C: NaN left there would otherwise poison the result.
            for (int i = 0; i < m; i++) Arrays.fill(c0, cOff + i * ldc, cOff + i * ldc + n, Float.NaN);
        }
        float[] expected = c0.clone(), actual = c0.clone();
        run(SCALAR, form, m, n, k, a, aOff, lda, b, bOff, ldb, expected, cOff, ldc, beta);
        run(VECTOR, form, m, n, k, a, aOff, lda, b, bOff, ldb, actual, cOff, ldc, beta);
        for (int idx = 0; idx < c0.length; idx++) {
            int rel = idx - cOff;
            boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
            if (!inside && Float.floatToRawIntBits(actual[idx]) != Float.floatToRawIntBits(c0[idx])) {
                fail(what + ": wrote C[" + idx + "] outside the block (" + c0[idx] + " -> " + actual[idx] + ")");
            }
        }
        Close.assertAllClose(what, expected, actual, Close.reductionTolerance(k, 4e-6), 1e-5);
    }

    private static void run(TileKernels t, Form form, int m, int n, int k, float[] a, int aOff, int lda,
            float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, float beta) {
        switch (form) {
            case NT -> t.gemmNT(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, beta);
            case NN -> t.gemmNN(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, beta);
            case TN -> t.gemmTN(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, beta);
        }
    }

    @Test
    void rejectsBadArguments() {
        float[] x = new float[64];
        assertThatThrownBy(() -> VECTOR.gemmNN(-1, 2, 2, x, 0, 2, x, 0, 2, x, 0, 2, 0f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative size");
        assertThatThrownBy(() -> VECTOR.gemmNT(4, 4, 4, x, 0, 3, x, 0, 4, x, 0, 4, 0f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leading dimension of A");
        assertThatThrownBy(() -> VECTOR.gemmTN(4, 4, 20, x, 0, 4, x, 0, 4, x, 0, 4, 0f))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("A [20 x 4");
        assertThatThrownBy(() -> VECTOR.expShiftSum(x, 60, 5, 0f)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    // ---------------------------------------------------------------- row kernels

    @Test
    void maxExpShiftSumAndScaleOnAwkwardLengths() {
        for (int n : Close.AWKWARD) {
            for (int variant = 0; variant < 4; variant++) {
                int off = 3 + variant;
                float[] x = new float[off + n + 5];
                SplittableRandom r = new SplittableRandom(n * 7L + variant);
                for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * 4);
                switch (variant) {
                    case 1 -> { // masked positions, as causal or padding masks leave them
                        for (int i = off; i < off + n; i += 3) x[i] = Float.NEGATIVE_INFINITY;
                    }
                    case 2 -> { // large scores: exp must not overflow after the shift
                        for (int i = off; i < off + n; i++) x[i] = x[i] * 1e3f + (i % 2 == 0 ? 80f : -80f);
                    }
                    case 3 -> x[off + n / 2] = Float.NaN;
                    default -> { }
                }
                String what = "n=" + n + " variant=" + variant;
                float max = SCALAR.max(x, off, n);
                assertThat(Float.floatToIntBits(VECTOR.max(x, off, n))).as("max " + what).isEqualTo(Float.floatToIntBits(max));

                float shift = Float.isNaN(max) ? 1f : max;
                float[] expected = x.clone(), actual = x.clone();
                float sumE = SCALAR.expShiftSum(expected, off, n, shift);
                float sumA = VECTOR.expShiftSum(actual, off, n, shift);
                Close.assertAllClose("exp " + what, expected, actual, 1e-37, 1e-6);
                for (int i = off; i < off + n && Float.isFinite(shift); i++) {
                    if (x[i] == Float.NEGATIVE_INFINITY && Float.floatToRawIntBits(actual[i]) != 0) {
                        fail("exp(-inf) must be +0, got " + actual[i] + " at " + i + " " + what);
                    }
                }
                Close.assertAllClose("sum " + what, new float[] {sumE}, new float[] {sumA}, 0, Close.reductionTolerance(n, 2e-7) + 1e-6);

                float[] se = x.clone(), sa = x.clone();
                SCALAR.scale(se, off, n, -0.37f);
                VECTOR.scale(sa, off, n, -0.37f);
                assertThat(sa).as("scale " + what).containsExactly(se);
            }
        }
    }

    @Test
    void rowKernelEdgeCases() {
        float[] x = {5f, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        assertThat(VECTOR.max(x, 1, 0)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(VECTOR.max(x, 1, 2)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(VECTOR.expShiftSum(x, 0, 0, 0f)).isZero();
        float[] allMasked = new float[40];
        Arrays.fill(allMasked, Float.NEGATIVE_INFINITY);
        allMasked[39] = 2f;
        assertThat(VECTOR.expShiftSum(allMasked, 0, 39, 2f)).isZero();
        assertThat(allMasked).startsWith(new float[39]).endsWith(2f);
        float[] big = {1e30f, -1e30f, 3f};
        assertThat(VECTOR.max(big, 0, 3)).isEqualTo(1e30f);
        float[] overflow = {100f, 0f};
        assertThat(VECTOR.expShiftSum(overflow, 0, 2, 0f)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(overflow[1]).isEqualTo(1f);
    }

    private static int span(int rows, int cols, int ld) {
        return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
    }

    private static float[] random(SplittableRandom r, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
