package dev.corvus.opencl;

import static dev.corvus.tensor.testing.Close.assertAllClose;
import static dev.corvus.tensor.testing.Close.reductionTolerance;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * matmul.cl against the CPU reference (the scalar backend: this module's tests see no other CPU
 * backend) through the public API: the tiled GEMM, the GEMV for few rows in weight layout, and
 * the one-item-per-output kernel for few rows against a row-major b; every weight dtype.
 */
class OpenClMatmulTest {
    private static final int[] SIZES = {1, 7, 13, 31, 33, 64, 65, 97, 129};

    private Device dev;

    @BeforeEach
    void device() {
        dev = OpenClTestSupport.device();
    }

    private static void close(String what, Tensor expected, Tensor actual, int k) {
        assertThat(actual.shape()).as(what).containsExactly(expected.shape());
        double tol = reductionTolerance(k, 2e-6);
        assertAllClose(what, expected.toFloatArray(), actual.to(Device.CPU).toFloatArray(), tol, tol);
    }

    @Test
    void sgemmOverAwkwardSizes() {
        try (MemoryScope s = MemoryScope.open()) {
            int seed = 0;
            for (int m : SIZES) {
                for (int n : SIZES) {
                    int k = SIZES[seed++ % SIZES.length];
                    Tensor a = Tensor.randn(seed, m, k), b = Tensor.randn(seed + 1000, k, n);
                    close("m=" + m + " n=" + n + " k=" + k, Ops.matmul(a, b), Ops.matmul(a.to(dev), b.to(dev)), k);
                }
            }
            // long K, several K slices with a ragged last one
            Tensor a = Tensor.randn(1, 70, 1000), b = Tensor.randn(2, 1000, 66);
            close("k=1000", Ops.matmul(a, b), Ops.matmul(a.to(dev), b.to(dev)), 1000);
        }
    }

    @Test
    void transposedAndNarrowedViews() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int size : new int[] {13, 65, 129}) {
                Tensor a = Tensor.randn(3, size + 3, size), b = Tensor.randn(4, size - 2, size + 3);
                Tensor da = a.to(dev), db = b.to(dev);
                close("aT bT " + size, Ops.matmul(a, b, true, true), Ops.matmul(da, db, true, true), size + 3);
                close("aT " + size, Ops.matmul(a.narrow(1, 1, size - 2), b, true, true),
                        Ops.matmul(da.narrow(1, 1, size - 2), db, true, true), size + 3);
                // row-major b for a few rows (the one-item-per-output kernel) and its transpose (GEMV)
                Tensor x = Tensor.randn(5, 3, size - 2).narrow(0, 1, 2);
                close("few rows " + size, Ops.matmul(x, b), Ops.matmul(x.to(dev), db), size - 2);
                Tensor bt = b.t().contiguous();
                close("few rows bT " + size, Ops.matmul(x, bt.t()), Ops.matmul(x.to(dev), bt.to(dev).t()), size - 2);
            }
        }
    }

    @Test
    void batchesAndBroadcastBatches() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int m : new int[] {1, 3, 33, 97}) {
                Tensor a = Tensor.randn(m, 3, m, 31), b = Tensor.randn(m + 1, 3, 31, 65);
                close("batch 3 m=" + m, Ops.matmul(a, b), Ops.matmul(a.to(dev), b.to(dev)), 31);
                Tensor b1 = Tensor.randn(m + 2, 31, 65);
                close("broadcast b m=" + m, Ops.matmul(a, b1), Ops.matmul(a.to(dev), b1.to(dev)), 31);
                Tensor a1 = Tensor.randn(m + 3, 1, m, 31);
                Tensor b2 = Tensor.randn(m + 4, 2, 1, 31, 7);
                close("broadcast both m=" + m, Ops.matmul(a1, b2), Ops.matmul(a1.to(dev), b2.to(dev)), 31);
            }
        }
    }

    @Test
    void linearWithEveryWeightDtype() {
        try (MemoryScope s = MemoryScope.open()) {
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, DType.Q8_0}) {
                int[] ks = t == DType.Q8_0 ? new int[] {32, 96, 160} : new int[] {7, 33, 129};
                for (int k : ks) {
                    for (int n : new int[] {1, 13, 65}) {
                        Tensor w = Tensor.randn(k * 31 + n, n, k).to(t);
                        Tensor dw = w.to(dev);
                        // m <= 4: GEMV; m > 4: tiled GEMM with the weight dequantized in local memory
                        for (int m : new int[] {1, 2, 4, 5, 33, 129}) {
                            Tensor x = Tensor.randn(m * 7 + k, m, k);
                            close(t + " linear m=" + m + " n=" + n + " k=" + k, Ops.linear(x, w, null), Ops.linear(x.to(dev), dw, null), k);
                        }
                        Tensor x1 = Tensor.randn(k, k);
                        close(t + " linear vector k=" + k, Ops.linear(x1, w, null), Ops.linear(x1.to(dev), dw, null), k);
                    }
                }
            }
        }
    }

    @Test
    void batchedWeightsAndBroadcastWeights() {
        try (MemoryScope s = MemoryScope.open()) {
            for (DType t : new DType[] {DType.F16, DType.BF16, DType.Q8_0}) {
                Tensor w = Tensor.randn(9, 3, 65, 64).to(t);    // three [N=65, K=64] weights
                Tensor dw = w.to(dev);
                for (int m : new int[] {1, 3, 70}) {
                    Tensor x = Tensor.randn(m, 3, m, 64);
                    close(t + " batched m=" + m, Ops.matmul(x, w.transpose(1, 2)), Ops.matmul(x.to(dev), dw.transpose(1, 2)), 64);
                    Tensor w2 = w.narrow(0, 1, 1).squeeze(0);            // one weight shared by every batch, at an offset
                    close(t + " broadcast m=" + m, Ops.matmul(x, w2.t()), Ops.matmul(x.to(dev), dw.narrow(0, 1, 1).squeeze(0).t()), 64);
                }
            }
        }
    }

    @Test
    void rejectsMismatchedOperandsWithClearMessages() {
        try (MemoryScope s = MemoryScope.open()) {
            OpenClBackend be = OpenClBackendProvider.backend(dev);
            Tensor a = Tensor.randn(1, 1, 4, 8).to(dev), b = Tensor.randn(2, 1, 9, 2).to(dev), out = Tensor.zeros(DType.F32, 1, 4, 2).to(dev);
            assertThatThrownBy(() -> be.matmul(a, b, out)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("opencl matmul").hasMessageContaining("[1, 4, 8]").hasMessageContaining("[1, 9, 2]");
            Tensor h = Tensor.randn(3, 1, 8, 2).to(DType.F16).to(dev);      // F16 but not in weight layout
            assertThatThrownBy(() -> be.matmul(a, h, out)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("transpose of a row-major [N, K] weight");
        }
    }
}
