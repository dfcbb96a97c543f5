package dev.corvus.train;

import dev.corvus.tensor.Backends;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The element loops of an optimiser step over contiguous F32 memory (offsets in bytes, counts in
 * elements): the AdamW update, the sum of squares behind the global gradient norm, scaling and
 * accumulating. Each runs on the Vector API ({@link VectorUpdateKernels}) when the CPU backend
 * chosen is the vector one, else on the scalar loops here, which are also the tests' reference.
 *
 * <p>The AdamW loop does the same IEEE float operations in the same order in both (no fused
 * multiply-add, sqrt and division correctly rounded in each lane), so the two paths agree bit for
 * bit and a run resumed on either continues exactly.
 */
final class UpdateKernels {
    private UpdateKernels() {}

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** The elements of a contiguous F32 tensor. */
    static MemorySegment memory(dev.corvus.tensor.Tensor t) {
        return t.segment().asSlice(t.byteOffset(), 4 * t.numel());
    }

    /** Whether the Vector API loops run (the vector backend was chosen, so jdk.incubator.vector is readable and C2 is on). */
    static final boolean VECTOR = Backends.cpu().name().equals("vector");

    /**
     * One AdamW step over n elements, in PyTorch's order: p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g;
     * v ← β2·v + (1 − β2)·g²; p ← p − (lr / bc1) · m / (√v / √bc2 + ε), with bc1 = 1 − β1^t and
     * bc2 = 1 − β2^t.
     *
     * @param decayFactor 1 − lr·wd (1 for a parameter without weight decay)
     * @param stepSize    lr / bc1
     * @param sqrtBc2     √bc2
     */
    static void adamw(MemorySegment p, MemorySegment g, MemorySegment m, MemorySegment v, long n,
            float beta1, float beta2, float eps, float decayFactor, float stepSize, float sqrtBc2) {
        if (VECTOR) VectorUpdateKernels.adamw(p, g, m, v, n, beta1, beta2, eps, decayFactor, stepSize, sqrtBc2);
        else adamwScalar(p, g, m, v, n, beta1, beta2, eps, decayFactor, stepSize, sqrtBc2);
    }

    static void adamwScalar(MemorySegment p, MemorySegment g, MemorySegment m, MemorySegment v, long n,
            float beta1, float beta2, float eps, float decayFactor, float stepSize, float sqrtBc2) {
        float oneMinusBeta1 = 1 - beta1, oneMinusBeta2 = 1 - beta2;
        for (long i = 0; i < n; i++) {
            long o = 4 * i;
            float gi = g.get(F32, o);
            float mi = beta1 * m.get(F32, o) + oneMinusBeta1 * gi;
            float vi = beta2 * v.get(F32, o) + oneMinusBeta2 * (gi * gi);
            float denom = (float) Math.sqrt(vi) / sqrtBc2 + eps;
            float pi = p.get(F32, o) * decayFactor;
            m.set(F32, o, mi);
            v.set(F32, o, vi);
            p.set(F32, o, pi - stepSize * (mi / denom));
        }
    }

    /** Σ x² over n elements. */
    static double sumOfSquares(MemorySegment x, long n) {
        return VECTOR ? VectorUpdateKernels.sumOfSquares(x, n) : sumOfSquaresScalar(x, n);
    }

    /** The reference: every square added in double. */
    static double sumOfSquaresScalar(MemorySegment x, long n) {
        double sum = 0;
        for (long i = 0; i < n; i++) {
            double xi = x.get(F32, 4 * i);
            sum += xi * xi;
        }
        return sum;
    }

    /** x ← x·s over n elements. */
    static void scale(MemorySegment x, long n, float s) {
        if (VECTOR) VectorUpdateKernels.scale(x, n, s);
        else scaleScalar(x, n, s);
    }

    static void scaleScalar(MemorySegment x, long n, float s) {
        for (long i = 0; i < n; i++) x.set(F32, 4 * i, x.get(F32, 4 * i) * s);
    }

    /** dst ← dst + src over n elements. */
    static void addInto(MemorySegment dst, MemorySegment src, long n) {
        if (VECTOR) VectorUpdateKernels.addInto(dst, src, n);
        else addIntoScalar(dst, src, n);
    }

    static void addIntoScalar(MemorySegment dst, MemorySegment src, long n) {
        for (long i = 0; i < n; i++) dst.set(F32, 4 * i, dst.get(F32, 4 * i) + src.get(F32, 4 * i));
    }
}
