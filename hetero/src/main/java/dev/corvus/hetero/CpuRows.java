package dev.corvus.hetero;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.vector.Gemm;

/**
 * The CPU half of a split layer: out[:, 0:k] = x · W[0:k]ᵀ, bitwise what
 * {@code Ops.linear(x, W.narrow(0, 0, k), null)} gives on the CPU backend in use.
 *
 * <p>On the Vector API backend it makes the same {@link Gemm} call the backend makes for that
 * linear (same m, n, k and kernel), with the joint output's row stride (ldc = n), so the rows land
 * in the leading columns of the output without a copy. Any other CPU backend (the scalar one,
 * forced for tests) runs {@code Ops.linear} and copies the rows in.
 */
final class CpuRows {
    private CpuRows() {}

    private static final boolean VECTOR = Backends.cpu().name().equals("vector");

    /**
     * @param x   [m, K] contiguous F32 on the host
     * @param w   [n, K] host weight; rows [0, k) are used
     * @param out [m, n] contiguous F32 on the host; columns [0, k) are written
     */
    static void compute(Tensor x, Tensor w, int k, Tensor out) {
        int m = x.size(0), kIn = x.size(1), n = out.size(1);
        if (k == 0 || m == 0) return;
        if (!VECTOR) {
            try (MemoryScope tmp = MemoryScope.open("hetero cpu rows")) {
                Ops.copyInto(Ops.linear(x, w.narrow(0, 0, k), null), out.narrow(1, 0, k));
            }
        } else if (w.dtype() == DType.F32) {
            // Ops.linear hands the F32 weight over as w.t(): rows of K along the column stride
            Gemm.sgemm(m, k, kIn, x.segment(), x.byteOffset(), kIn, 1, w.segment(), w.byteOffset(), 1, kIn,
                    out.segment(), out.byteOffset(), n);
        } else {
            Gemm.gemmWeights(m, k, kIn, x.segment(), x.byteOffset(), kIn, 1, w.dtype(), w.segment(), w.byteOffset(),
                    out.segment(), out.byteOffset(), n);
        }
    }
}
