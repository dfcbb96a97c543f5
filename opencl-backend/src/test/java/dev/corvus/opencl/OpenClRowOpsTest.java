package dev.corvus.opencl;

import static dev.corvus.tensor.testing.Close.AWKWARD;
import static dev.corvus.tensor.testing.Close.assertAllClose;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * softmax, log-softmax, rmsnorm, layernorm and rope on the OpenCL device against the same ops on
 * the CPU (the scalar reference in this module), through the public API, on awkward row lengths
 * and row counts.
 */
class OpenClRowOpsTest {
    private static final int[] ROWS = {1, 3, 17};

    private Device dev;

    @BeforeEach
    void device() {
        dev = OpenClTestSupport.device();
    }

    private static float[] cpu(Tensor t) {
        return t.to(Device.CPU).toFloatArray();
    }

    @Test
    void softmaxAndLogSoftmaxOfRows() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : AWKWARD) {
                for (int rows : ROWS) {
                    Tensor x = Ops.scale(Tensor.randn(31L * n + rows, rows, n), 3f);
                    Tensor d = x.to(dev);
                    double tol = Close.reductionTolerance(n, 1e-6);
                    String what = "rows=" + rows + " n=" + n;
                    assertAllClose("softmax " + what, Ops.softmax(x, -1).toFloatArray(), cpu(Ops.softmax(d, -1)), tol, 1e-5);
                    assertAllClose("logSoftmax " + what, Ops.logSoftmax(x, -1).toFloatArray(), cpu(Ops.logSoftmax(d, -1)), tol, 1e-5);
                }
            }
        }
    }

    @Test
    void softmaxAlongEveryDimension() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.randn(5, 7, 13, 33);
            for (int dim = 0; dim < 3; dim++) {
                assertAllClose("softmax dim=" + dim, Ops.softmax(x, dim).toFloatArray(), cpu(Ops.softmax(x.to(dev), dim)), 1e-5, 1e-5);
                assertAllClose("logSoftmax dim=" + dim, Ops.logSoftmax(x, dim).toFloatArray(), cpu(Ops.logSoftmax(x.to(dev), dim)), 1e-5, 1e-5);
            }
        }
    }

    @Test
    void causalSoftmaxWithMoreOrFewerQueriesThanKeys() {
        try (MemoryScope s = MemoryScope.open()) {
            // [heads, queries, keys]: queries > keys leaves the first rows of each block fully masked.
            int[][] shapes = {{2, 7, 7}, {3, 5, 17}, {2, 17, 5}, {1, 65, 64}, {2, 1, 1000}, {1, 3, 1}};
            for (int[] shape : shapes) {
                Tensor x = Tensor.randn(shape[1] * 7L + shape[2], shape);
                Tensor d = x.to(dev);
                String what = java.util.Arrays.toString(shape);
                double tol = Close.reductionTolerance(shape[2], 1e-6);
                float[] expected = Ops.softmax(x, -1, true, false).toFloatArray();
                assertAllClose("causal softmax " + what, expected, cpu(Ops.softmax(d, -1, true, false)), tol, 1e-5);
                float[] expectedLog = Ops.softmax(x, -1, true, true).toFloatArray();
                assertAllClose("causal logSoftmax " + what, expectedLog, cpu(Ops.softmax(d, -1, true, true)), tol, 1e-5);
            }
            // Fully masked rows: zeros, and -infinity for log-softmax.
            Tensor x = Tensor.randn(3, 6, 2);
            float[] p = cpu(Ops.causalSoftmax(x.to(dev)));
            float[] lp = cpu(Ops.softmax(x.to(dev), -1, true, true));
            for (int r = 0; r < 4; r++) {
                assertThat(new float[] {p[2 * r], p[2 * r + 1]}).as("row " + r).containsExactly(0f, 0f);
                assertThat(new float[] {lp[2 * r], lp[2 * r + 1]}).containsExactly(Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY);
            }
            assertThat(p[9]).isZero();
            assertThat(lp[9]).isEqualTo(Float.NEGATIVE_INFINITY);
            assertThat(p[8]).isEqualTo(1f);
        }
    }

    @Test
    void softmaxKeepsNaNsAndInfinities() {
        try (MemoryScope s = MemoryScope.open()) {
            float ninf = Float.NEGATIVE_INFINITY;
            Tensor x = Tensor.of(new float[] {1, Float.NaN, 3, /**/ ninf, 0, 2, /**/ 1000, -1000, 1000}, 3, 3);
            assertAllClose("softmax special", Ops.softmax(x, -1).toFloatArray(), cpu(Ops.softmax(x.to(dev), -1)), 1e-6, 1e-6);
            assertAllClose("logSoftmax special", Ops.logSoftmax(x, -1).toFloatArray(), cpu(Ops.logSoftmax(x.to(dev), -1)), 1e-6, 1e-6);
        }
    }

    @Test
    void rmsnormWithAndWithoutWeight() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : AWKWARD) {
                for (int rows : ROWS) {
                    Tensor x = Tensor.randn(13L * n + rows, rows, n);
                    Tensor w = Tensor.rand(n + 5, -2f, 2f, n);
                    Tensor d = x.to(dev);
                    double tol = Close.reductionTolerance(n, 2e-7);
                    String what = "rows=" + rows + " n=" + n;
                    assertAllClose("rmsnorm " + what, Ops.rmsnorm(x, w, 1e-5f).toFloatArray(), cpu(Ops.rmsnorm(d, w.to(dev), 1e-5f)), tol, 1e-5);
                    assertAllClose("rmsnorm no weight " + what, Ops.rmsnorm(x, null, 1e-6f).toFloatArray(), cpu(Ops.rmsnorm(d, null, 1e-6f)),
                            tol, 1e-5);
                }
            }
        }
    }

    @Test
    void layernormWithEveryCombinationOfWeightAndBias() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : AWKWARD) {
                for (int rows : ROWS) {
                    // A mean far from 0 checks that the variance is the two-pass (centred) one.
                    Tensor x = Tensor.rand(17L * n + rows, 3f, 7f, rows, n);
                    Tensor w = Tensor.rand(n + 1, -2f, 2f, n), b = Tensor.randn(n + 2, n);
                    Tensor d = x.to(dev), wd = w.to(dev), bd = b.to(dev);
                    // float rounding of x - mean is ~|x| ulp, scaled by |w| / std: looser than a centred input
                    double tol = Close.reductionTolerance(n, 4e-6);
                    String what = "rows=" + rows + " n=" + n;
                    assertAllClose("layernorm w+b " + what, Ops.layernorm(x, w, b, 1e-5f).toFloatArray(), cpu(Ops.layernorm(d, wd, bd, 1e-5f)),
                            tol, 1e-5);
                    assertAllClose("layernorm w " + what, Ops.layernorm(x, w, null, 1e-5f).toFloatArray(),
                            cpu(Ops.layernorm(d, wd, null, 1e-5f)), tol, 1e-5);
                    assertAllClose("layernorm b " + what, Ops.layernorm(x, null, b, 1e-5f).toFloatArray(),
                            cpu(Ops.layernorm(d, null, bd, 1e-5f)), tol, 1e-5);
                    assertAllClose("layernorm " + what, Ops.layernorm(x, null, null, 1e-5f).toFloatArray(),
                            cpu(Ops.layernorm(d, null, null, 1e-5f)), tol, 1e-5);
                }
            }
        }
    }

    @Test
    void ropeInBothStylesAlongEverySequenceDimension() {
        try (MemoryScope s = MemoryScope.open()) {
            int[] dims = {2, 8, 14, 64, 98};
            for (int d : dims) {
                Tensor x = Tensor.randn(d, 2, 7, 3, d);   // [B, T, H, D] with seqDim 1, or [B, H, T, D] read with seqDim 2
                Tensor xd = x.to(dev);
                for (RopeStyle style : RopeStyle.values()) {
                    for (int seqDim : new int[] {0, 1, 2}) {
                        for (int offset : new int[] {0, 5, 1000}) {
                            String what = style + " d=" + d + " seqDim=" + seqDim + " offset=" + offset;
                            assertAllClose(what, Ops.rope(x, seqDim, offset, 10000.0, style).toFloatArray(),
                                    cpu(Ops.rope(xd, seqDim, offset, 10000.0, style)), 1e-6, 1e-6);
                        }
                    }
                }
            }
            // rows 1 / 3 / 17 of a single position each
            for (int rows : ROWS) {
                Tensor x = Tensor.randn(rows, rows, 1, 32);
                assertAllClose("rope rows=" + rows, Ops.rope(x, 0, 3, 500000.0, RopeStyle.HALF_SPLIT).toFloatArray(),
                        cpu(Ops.rope(x.to(dev), 0, 3, 500000.0, RopeStyle.HALF_SPLIT)), 1e-6, 1e-6);
            }
        }
    }
}
