package dev.corvus.train;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The element loops of an optimiser step over contiguous F32 memory (offsets in bytes, counts in
 * elements): the AdamW update, the sum of squares behind the global gradient norm, scaling and
 * accumulating. Each runs on the Vector API ({@link VectorUpdateKernels}) when the CPU backend
 * chosen is the vector one, else on the scalar loops here, which are also the tests' reference.
 *
 * <p>Tensors longer than a few blocks are split between the shared pool's threads
 * ({@link Parallel}), each block computed alike on any thread. The AdamW loop does the same IEEE float operations in the same order in both (no fused
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
        blocks(n, (from, count) -> {
            long o = 4 * from;
            MemorySegment pb = p.asSlice(o), gb = g.asSlice(o), mb = m.asSlice(o), vb = v.asSlice(o);
            if (VECTOR) VectorUpdateKernels.adamw(pb, gb, mb, vb, count, beta1, beta2, eps, decayFactor, stepSize, sqrtBc2);
            else adamwScalar(pb, gb, mb, vb, count, beta1, beta2, eps, decayFactor, stepSize, sqrtBc2);
        });
    }

    /** Elements per block of work handed to the pool; a thread takes at least GRAIN blocks, so small tensors run inline. */
    static final int BLOCK = 1 << 16, GRAIN = 4;

    /** What one block of [from, from + count) does. */
    @FunctionalInterface
    interface BlockBody {
        void run(long from, int count);
    }

    /**
     * Runs body over [0, n) in BLOCK-sized pieces on the shared pool. Each piece is computed the
     * same whichever thread takes it, so results do not depend on the thread count.
     */
    static void blocks(long n, BlockBody body) {
        int tasks = Math.toIntExact((n + BLOCK - 1) / BLOCK);
        Parallel.forRange(tasks, GRAIN, (start, end) -> {
            for (int t = start; t < end; t++) {
                long from = (long) t * BLOCK;
                body.run(from, (int) Math.min(BLOCK, n - from));
            }
        });
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
        // one partial sum per block, added in block order: the same total for any thread count
        double[] partial = new double[Math.toIntExact((n + BLOCK - 1) / BLOCK)];
        blocks(n, (from, count) -> {
            MemorySegment xb = x.asSlice(4 * from);
            partial[(int) (from / BLOCK)] = VECTOR ? VectorUpdateKernels.sumOfSquares(xb, count) : sumOfSquaresScalar(xb, count);
        });
        double sum = 0;
        for (double s : partial) sum += s;
        return sum;
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
        blocks(n, (from, count) -> {
            MemorySegment xb = x.asSlice(4 * from);
            if (VECTOR) VectorUpdateKernels.scale(xb, count, s);
            else scaleScalar(xb, count, s);
        });
    }

    static void scaleScalar(MemorySegment x, long n, float s) {
        for (long i = 0; i < n; i++) x.set(F32, 4 * i, x.get(F32, 4 * i) * s);
    }

    /** dst ← dst + src over n elements. */
    static void addInto(MemorySegment dst, MemorySegment src, long n) {
        blocks(n, (from, count) -> {
            long o = 4 * from;
            if (VECTOR) VectorUpdateKernels.addInto(dst.asSlice(o), src.asSlice(o), count);
            else addIntoScalar(dst.asSlice(o), src.asSlice(o), count);
        });
    }

    static void addIntoScalar(MemorySegment dst, MemorySegment src, long n) {
        for (long i = 0; i < n; i++) dst.set(F32, 4 * i, dst.get(F32, 4 * i) + src.get(F32, 4 * i));
    }

    /**
     * Rows [0, rows) of logits [rows, vocab] (contiguous F32): returns Σ over the scored rows of
     * log-sum-exp minus the target's logit and replaces each scored row by
     * scale·(softmax − onehot(target)), each row with {@link CrossEntropy#IGNORE} as its target by
     * zeros. Rows run in parallel (one row's work is the same whichever thread takes it, and the
     * per-row losses are added in row order, so the sum does not depend on the thread count).
     */
    static double crossEntropyRows(MemorySegment logits, int rows, int vocab, int[] targets, int targetOffset, float scale) {
        double[] losses = new double[rows];
        long rowBytes = 4L * vocab;
        // a row of a 32000-word vocabulary is ~100k exps: a task of 4 rows outweighs the fork by far
        Parallel.forRange(rows, 4, (start, end) -> {
            for (int i = start; i < end; i++) {
                MemorySegment row = logits.asSlice(i * rowBytes, rowBytes);
                int t = targets[targetOffset + i];
                if (t == CrossEntropy.IGNORE) {
                    row.fill((byte) 0);
                    continue;
                }
                losses[i] = VECTOR ? VectorUpdateKernels.rowLossAndGradient(row, vocab, t, scale) : rowLossAndGradientScalar(row, vocab, t, scale);
            }
        });
        double sum = 0;
        for (double l : losses) sum += l;
        return sum;
    }

    /**
     * The reference for one row of logits, in double: log-sum-exp minus the target's logit, and the
     * row replaced by scale·(softmax − onehot(target)).
     */
    static double rowLossAndGradientScalar(MemorySegment row, int vocab, int target, float scale) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < vocab; j++) max = Math.max(max, row.getAtIndex(F32, j));
        double sumExp = 0;
        for (int j = 0; j < vocab; j++) sumExp += Math.exp((double) row.getAtIndex(F32, j) - max);
        double lse = max + Math.log(sumExp);
        double loss = lse - row.getAtIndex(F32, target);
        for (int j = 0; j < vocab; j++) {
            double p = Math.exp(row.getAtIndex(F32, j) - lse);
            row.setAtIndex(F32, j, (float) (scale * (j == target ? p - 1 : p)));
        }
        return loss;
    }
}
