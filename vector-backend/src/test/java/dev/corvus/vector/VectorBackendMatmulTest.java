package dev.corvus.vector;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The backend's matmul entry (batches, strides, weight layouts) against the scalar backend; the
 * kernels themselves are covered in depth by {@link GemmTest}.
 */
class VectorBackendMatmulTest {
    /** Sum over k of |a||b| bounds the rounding error of a length-k dot product. */
    private static void assertMatmulClose(String what, Tensor a, Tensor b, float[] expected, float[] actual) {
        int k = a.size(-1);
        Close.assertAllClose(what, expected, actual, Close.reductionTolerance(k, 2e-6) * 4, 1e-5);
    }

    private static float[] both(Tensor a, Tensor b, int batch, int m, int n, Tensor[] vectorOut) {
        Tensor expected = Tensor.zeros(DType.F32, batch, m, n), actual = Tensor.zeros(DType.F32, batch, m, n);
        Fixtures.SCALAR.matmul(a, b, expected);
        Fixtures.VECTOR.matmul(a, b, actual);
        vectorOut[0] = actual;
        return expected.toFloatArray();
    }

    @ParameterizedTest
    @CsvSource({"1,1,1,1", "1,7,13,31", "3,13,33,17", "5,1,64,97", "2,33,257,65", "9,16,32,48", "1,129,97,300"})
    void batchedPlainAndTransposedLayouts(int batch, int m, int k, int n) {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor a = Tensor.randn(1, batch, m, k), b = Tensor.randn(2, batch, k, n);
            Tensor at = Tensor.randn(3, batch, k, m).transpose(1, 2), bt = Tensor.randn(4, batch, n, k).transpose(1, 2);
            Tensor shared = Tensor.randn(5, 1, k, n).expand(batch, k, n);
            Tensor[] out = new Tensor[1];
            for (Tensor[] pair : new Tensor[][] {{a, b}, {at, b}, {a, bt}, {at, bt}, {a, shared}}) {
                float[] expected = both(pair[0], pair[1], batch, m, n, out);
                assertMatmulClose(batch + "x" + m + "x" + k + "x" + n, pair[0], pair[1], expected, out[0].toFloatArray());
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1,32,1", "1,1,64,97", "2,5,96,33", "1,17,128,31", "3,40,256,70"})
    void weightDtypesReadAsStored(int batch, int m, int k, int n) {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor a = Tensor.randn(6, batch, m, k);
            Tensor w32 = Tensor.randn(7, n, k);
            for (DType dt : new DType[] {DType.F16, DType.BF16, DType.Q8_0}) {
                Tensor w = w32.to(dt);
                Tensor b = w.t().unsqueeze(0).expand(batch, k, n);
                Tensor[] out = new Tensor[1];
                float[] expected = both(a, b, batch, m, n, out);
                if (dt.isQuantized()) {
                    // The vector backend quantises a GEMV's activations to 8 bits (QuantDots).
                    double[] bound = ActivationRounding.bound(a.toFloatArray(), batch * m, k, w.to(DType.F32).toFloatArray(), n);
                    ActivationRounding.assertClose(dt + " " + m + "x" + k + "x" + n, expected, out[0].toFloatArray(),
                            Close.reductionTolerance(k, 2e-6) * 4, 1e-5, bound);
                    continue;
                }
                assertMatmulClose(dt + " " + m + "x" + k + "x" + n, a, b, expected, out[0].toFloatArray());
            }
        }
    }

    @Test
    void facadeMatmulAndLinearOnTheSelectedBackend() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.randn(1, 2, 3, 7, 64), w = Tensor.randn(2, 33, 64), bias = Tensor.randn(3, 33);
            float[] viaLinear = Ops.linear(x, w.to(DType.Q8_0), bias).toFloatArray();
            float[] reference = Ops.add(Ops.matmul(x, w.to(DType.Q8_0).to(DType.F32).t()), bias).toFloatArray();
            double[] bound = ActivationRounding.bound(x.toFloatArray(), 2 * 3 * 7, 64, w.to(DType.Q8_0).to(DType.F32).toFloatArray(), 33);
            ActivationRounding.assertClose("linear Q8_0", reference, viaLinear, Close.reductionTolerance(64, 1e-5), 1e-5, bound);
            Tensor q = Tensor.randn(4, 2, 4, 9, 16), k = Tensor.randn(5, 2, 4, 11, 16);
            Tensor scores = Ops.matmul(q, k, false, true);
            float[] perHead = Ops.matmul(q.select(0, 1).select(0, 2), k.select(0, 1).select(0, 2).t()).toFloatArray();
            Close.assertAllClose("head (1, 2)", perHead, scores.select(0, 1).select(0, 2).toFloatArray(), 1e-5, 1e-5);
        }
    }

    @Test
    void weightsInTheWrongLayoutAreRefused() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor a = Tensor.randn(1, 1, 2, 32);
            Tensor w = Tensor.randn(2, 32, 64).to(DType.Q8_0); // [K, N] row-major: blocks run along N
            assertThatThrownBy(() -> Fixtures.VECTOR.matmul(a, w.unsqueeze(0), Tensor.zeros(DType.F32, 1, 2, 64)))
                    .hasMessageContaining("transposed row-major [N, K] weight");
        }
    }
}
