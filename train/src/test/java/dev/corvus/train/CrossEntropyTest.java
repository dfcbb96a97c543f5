package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class CrossEntropyTest {
    /** The mean loss of logits H·Wᵀ in double, unchunked: the reference and the function finite differences probe. */
    static double referenceMeanLoss(double[] h, double[] w, int[] targets, int dim, int vocab) {
        double sum = 0;
        int scored = 0;
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] == CrossEntropy.IGNORE) continue;
            double[] z = new double[vocab];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < vocab; j++) {
                for (int k = 0; k < dim; k++) z[j] += h[i * dim + k] * w[j * dim + k];
                max = Math.max(max, z[j]);
            }
            double s = 0;
            for (double zj : z) s += Math.exp(zj - max);
            sum += max + Math.log(s) - z[targets[i]];
            scored++;
        }
        return sum / scored;
    }

    static double[] toDouble(float[] f) {
        return AdamWTest.toDouble(f);
    }

    static int[] targets(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = i % 5 == 3 ? CrossEntropy.IGNORE : r.nextInt(vocab);
        if (n > 0 && CrossEntropy.scoredTokens(t) == 0) t[0] = 0;
        return t;
    }

    /** Every chunk size gives the loss and gradients of the unchunked computation in double, and of finite differences. */
    @ParameterizedTest(name = "N={0} vocab={1} dim={2}")
    @CsvSource({"1,3,1", "5,17,4", "13,50,9", "29,97,33", "64,301,16"})
    void chunkedMatchesTheUnchunkedReferenceAndFiniteDifferences(int n, int vocab, int dim) {
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor h = Tensor.randn(scope, 11, 1f, n, dim), w = Tensor.randn(scope, 12, 0.7f, vocab, dim);
            int[] t = targets(n, vocab, 13);
            double[] hd = toDouble(h.toFloatArray()), wd = toDouble(w.toFloatArray());
            double reference = referenceMeanLoss(hd, wd, t, dim, vocab);
            // central differences of the double reference, step 1e-6: truncation ~1e-12, far below float rounding
            double step = 1e-6;
            double[] fdH = new double[hd.length], fdW = new double[wd.length];
            for (int i = 0; i < hd.length; i++) fdH[i] = centralDifference(hd, i, step, () -> referenceMeanLoss(hd, wd, t, dim, vocab));
            for (int i = 0; i < wd.length; i++) fdW[i] = centralDifference(wd, i, step, () -> referenceMeanLoss(hd, wd, t, dim, vocab));
            for (int chunk : new int[] {1, 3, 7, n, n + 5}) {
                Tensor dH = Tensor.zeros(DType.F32, n, dim), dW = Tensor.zeros(DType.F32, vocab, dim);
                CrossEntropy.Loss loss = CrossEntropy.mean(h, w, t, chunk, dH, dW);
                assertThat(loss.tokens()).isEqualTo(CrossEntropy.scoredTokens(t));
                // float logits over dim terms: error ~ dim·ulp
                double tol = 1e-6 * (dim + 10) * (1 + Math.abs(reference));
                assertThat(loss.mean()).as("loss, chunk %d", chunk).isCloseTo(reference, offset(tol));
                assertClose(dH.toFloatArray(), fdH, 1e-5 * (dim + 10), "dH, chunk " + chunk);
                assertClose(dW.toFloatArray(), fdW, 1e-5 * (dim + 10), "dW, chunk " + chunk);
            }
        }
    }

    static double centralDifference(double[] x, int i, double step, java.util.function.DoubleSupplier f) {
        double keep = x[i];
        x[i] = keep + step;
        double up = f.getAsDouble();
        x[i] = keep - step;
        double down = f.getAsDouble();
        x[i] = keep;
        return (up - down) / (2 * step);
    }

    static void assertClose(float[] got, double[] expected, double tol, String what) {
        assertThat(got).hasSameSizeAs(expected);
        double scale = 0;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < got.length; i++) {
            assertThat((double) got[i]).as("%s[%d]", what, i).isCloseTo(expected[i], offset(tol * (scale + 1e-3)));
        }
    }

    @Test
    void gradientsOfTheClassifierAccumulateAndIgnoredRowsGiveNothing() {
        try (MemoryScope scope = MemoryScope.open()) {
            int n = 9, vocab = 23, dim = 5;
            Tensor h = Tensor.randn(scope, 1, 1f, n, dim), w = Tensor.randn(scope, 2, 1f, vocab, dim);
            int[] t = targets(n, vocab, 3);
            Tensor once = Tensor.zeros(DType.F32, vocab, dim), twice = Tensor.zeros(DType.F32, vocab, dim);
            CrossEntropy.compute(h, w, t, 4, 0.5f, null, once);
            CrossEntropy.compute(h, w, t, 4, 0.5f, null, twice);
            CrossEntropy.compute(h, w, t, 4, 0.5f, null, twice);
            float[] a = once.toFloatArray(), b = twice.toFloatArray();
            for (int i = 0; i < a.length; i++) assertThat(b[i]).isCloseTo(2 * a[i], offset(1e-6f * (1 + Math.abs(a[i]))));

            int[] none = new int[n];
            java.util.Arrays.fill(none, CrossEntropy.IGNORE);
            Tensor dH = Tensor.full(7f, n, dim), dW = Tensor.zeros(DType.F32, vocab, dim);
            CrossEntropy.Loss loss = CrossEntropy.mean(h, w, none, 4, dH, dW);
            assertThat(loss.tokens()).isZero();
            assertThat(loss.sum()).isZero();
            assertThat(dH.toFloatArray()).containsOnly(0f);
            assertThat(dW.toFloatArray()).containsOnly(0f);
        }
    }

    @Test
    void theChunkBoundsTheScratchMemory() {
        try (MemoryScope scope = MemoryScope.open()) {
            int n = 300, vocab = 1000, dim = 32, chunk = 16;
            Tensor h = Tensor.randn(scope, 1, 1f, n, dim), w = Tensor.randn(scope, 2, 0.2f, vocab, dim);
            Tensor dH = Tensor.zeros(DType.F32, n, dim), dW = Tensor.zeros(DType.F32, vocab, dim);
            int[] t = targets(n, vocab, 4);
            long before = dev.corvus.tensor.MemoryStats.liveBytes();
            dev.corvus.tensor.MemoryStats.resetPeak();
            CrossEntropy.mean(h, w, t, chunk, dH, dW);
            long scratch = dev.corvus.tensor.MemoryStats.peakBytes() - before;
            assertThat(scratch).isPositive().isLessThanOrEqualTo(CrossEntropy.scratchBytes(chunk, vocab, dim));
            assertThat(scratch).isLessThan(4L * n * vocab); // the full logits would not have fitted
        }
    }

    @Test
    void badInputIsRefusedWithTheShapeOrTarget() {
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor h = Tensor.randn(scope, 1, 1f, 4, 3), w = Tensor.randn(scope, 2, 1f, 10, 3);
            assertThatThrownBy(() -> CrossEntropy.mean(h, w, new int[] {1, 2, 10, 0}, 2, null, null))
                    .hasMessageContaining("target 10 at row 2").hasMessageContaining("[0, 10)");
            assertThatThrownBy(() -> CrossEntropy.mean(h, w, new int[] {1, 2}, 2, null, null)).hasMessageContaining("2 targets for 4 rows");
            assertThatThrownBy(() -> CrossEntropy.mean(h, Tensor.zeros(DType.F32, 10, 4), new int[4], 2, null, null))
                    .hasMessageContaining("[vocab, 3]");
            assertThatThrownBy(() -> CrossEntropy.mean(h, w, new int[4], 0, null, null)).hasMessageContaining("chunk rows 0");
            assertThatThrownBy(() -> CrossEntropy.mean(h, w, new int[4], 2, Tensor.zeros(DType.F32, 4, 4), null)).hasMessageContaining("dH");
            Tensor hq = Tensor.randn(scope, 3, 1f, 4, 32), wq = dev.corvus.tensor.Ops.convert(Tensor.randn(scope, 4, 1f, 10, 32), DType.Q8_0);
            assertThatThrownBy(() -> CrossEntropy.mean(hq, wq, new int[4], 2, Tensor.zeros(DType.F32, 4, 32), null)).hasMessageContaining("not Q8_0");
            assertThat(CrossEntropy.mean(hq, wq, new int[] {1, 2, 3, 4}, 2, null, null).tokens()).as("the loss alone from a Q8_0 classifier").isEqualTo(4);
        }
    }
}
