package dev.corvus.vector;

import static dev.corvus.vector.Conversions.F32;
import static dev.corvus.vector.Conversions.LE;
import static dev.corvus.vector.VectorShapes.F;
import static dev.corvus.vector.VectorShapes.FL;

import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.RopeTable;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * Kernels that work on one row at a time (softmax, norms, rope, reductions, argmax), rows spread
 * over the shared pool. Row reductions run in float with four independent vector accumulators:
 * each lane then sums about c / (4 FL) terms, which keeps rows of a few thousand well inside the
 * tests' length-scaled tolerances and the adds off each other's latency chain.
 */
final class RowKernels {
    private RowKernels() {}

    /** Elements a task should cover at least, so small tensors run on the calling thread. */
    private static final int GRAIN_ELEMENTS = 16 * 1024;

    /** Swaps adjacent lanes (x0, x1, x2, x3, ...) -> (x1, x0, x3, x2, ...), for interleaved rope. */
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, i -> i ^ 1);
    /** (t0, t1, ...) -> (t0, t0, t1, t1, ...): one table entry per pair. */
    private static final VectorShuffle<Float> DUP_PAIRS = VectorShuffle.fromOp(F, i -> i / 2);
    /** Sign of sin per lane of a pair; multiplying by -1 is exact, so x1 * -s == -(x1 * s). */
    private static final FloatVector MINUS_PLUS = FloatVector.fromArray(F, signs(), 0);

    private static float[] signs() {
        float[] s = new float[FL];
        for (int i = 0; i < FL; i++) s[i] = i % 2 == 0 ? -1f : 1f;
        return s;
    }

    static int grain(int cols) {
        return Math.max(1, GRAIN_ELEMENTS / Math.max(1, cols));
    }

    private static FloatVector load(MemorySegment seg, long off) {
        return FloatVector.fromMemorySegment(F, seg, off, LE);
    }

    // ---------------------------------------------------------------- row reductions

    /** Sum of n floats at byte offset off. */
    static float sum(MemorySegment seg, long off, int n) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (int upper = n - 4 * FL; i <= upper; i += 4 * FL) {
            a0 = a0.add(load(seg, off + 4L * i));
            a1 = a1.add(load(seg, off + 4L * (i + FL)));
            a2 = a2.add(load(seg, off + 4L * (i + 2 * FL)));
            a3 = a3.add(load(seg, off + 4L * (i + 3 * FL)));
        }
        for (int upper = F.loopBound(n); i < upper; i += FL) a0 = a0.add(load(seg, off + 4L * i));
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += seg.get(F32, off + 4L * i);
        return s;
    }

    /** Sum of squares of n floats. */
    static float sumSquares(MemorySegment seg, long off, int n) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (int upper = n - 4 * FL; i <= upper; i += 4 * FL) {
            FloatVector x0 = load(seg, off + 4L * i), x1 = load(seg, off + 4L * (i + FL));
            FloatVector x2 = load(seg, off + 4L * (i + 2 * FL)), x3 = load(seg, off + 4L * (i + 3 * FL));
            a0 = x0.fma(x0, a0);
            a1 = x1.fma(x1, a1);
            a2 = x2.fma(x2, a2);
            a3 = x3.fma(x3, a3);
        }
        for (int upper = F.loopBound(n); i < upper; i += FL) {
            FloatVector x = load(seg, off + 4L * i);
            a0 = x.fma(x, a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float x = seg.get(F32, off + 4L * i);
            s += x * x;
        }
        return s;
    }

    /** Largest of n floats (n >= 0; -inf when empty); NaN if any is NaN, as Math.max does. */
    static float max(MemorySegment seg, long off, int n) {
        FloatVector a0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (int upper = n - 4 * FL; i <= upper; i += 4 * FL) {
            a0 = a0.max(load(seg, off + 4L * i));
            a1 = a1.max(load(seg, off + 4L * (i + FL)));
            a2 = a2.max(load(seg, off + 4L * (i + 2 * FL)));
            a3 = a3.max(load(seg, off + 4L * (i + 3 * FL)));
        }
        for (int upper = F.loopBound(n); i < upper; i += FL) a0 = a0.max(load(seg, off + 4L * i));
        float m = a0.max(a1).max(a2.max(a3)).reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) m = Math.max(m, seg.get(F32, off + 4L * i));
        return m;
    }

    private static void fill(MemorySegment seg, long off, int n, float value) {
        FloatVector v = FloatVector.broadcast(F, value);
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += FL) v.intoMemorySegment(seg, off + 4L * i, LE);
        for (; i < n; i++) seg.set(F32, off + 4L * i, value);
    }

    // ---------------------------------------------------------------- softmax

    static void softmax(MemorySegment x, long xOff, MemorySegment out, long outOff, int rows, int c, int queries, boolean causal, boolean log) {
        Parallel.forRange(rows, grain(c), (start, end) -> {
            for (int r = start; r < end; r++) {
                int visible = causal ? Math.max(0, Math.min(c, r % queries + (c - queries) + 1)) : c;
                long in = xOff + 4L * r * c, o = outOff + 4L * r * c;
                if (log) logSoftmaxRow(x, in, out, o, visible);
                else softmaxRow(x, in, out, o, visible);
                fill(out, o + 4L * visible, c - visible, log ? Float.NEGATIVE_INFINITY : 0f);
            }
        });
    }

    /** exp(x - max) written to out while summing, then one scaling pass. */
    private static void softmaxRow(MemorySegment x, long in, MemorySegment out, long o, int n) {
        if (n == 0) return;
        float max = max(x, in, n);
        FloatVector m = FloatVector.broadcast(F, max);
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = 0;
        for (int upper = n - 2 * FL; i <= upper; i += 2 * FL) {
            FloatVector e0 = load(x, in + 4L * i).sub(m).lanewise(VectorOperators.EXP);
            FloatVector e1 = load(x, in + 4L * (i + FL)).sub(m).lanewise(VectorOperators.EXP);
            e0.intoMemorySegment(out, o + 4L * i, LE);
            e1.intoMemorySegment(out, o + 4L * (i + FL), LE);
            a0 = a0.add(e0);
            a1 = a1.add(e1);
        }
        for (int upper = F.loopBound(n); i < upper; i += FL) {
            FloatVector e = load(x, in + 4L * i).sub(m).lanewise(VectorOperators.EXP);
            e.intoMemorySegment(out, o + 4L * i, LE);
            a0 = a0.add(e);
        }
        float sum = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(x.get(F32, in + 4L * i) - max);
            out.set(F32, o + 4L * i, e);
            sum += e;
        }
        FloatVector inv = FloatVector.broadcast(F, 1 / sum);
        i = 0;
        for (int upper = F.loopBound(n); i < upper; i += FL) load(out, o + 4L * i).mul(inv).intoMemorySegment(out, o + 4L * i, LE);
        for (; i < n; i++) out.set(F32, o + 4L * i, out.get(F32, o + 4L * i) / sum);
    }

    /** (x - max) - log(sum exp(x - max)): subtracting in that order keeps x near max exact. */
    private static void logSoftmaxRow(MemorySegment x, long in, MemorySegment out, long o, int n) {
        if (n == 0) return;
        float max = max(x, in, n);
        FloatVector m = FloatVector.broadcast(F, max);
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = 0;
        for (int upper = n - 2 * FL; i <= upper; i += 2 * FL) {
            a0 = a0.add(load(x, in + 4L * i).sub(m).lanewise(VectorOperators.EXP));
            a1 = a1.add(load(x, in + 4L * (i + FL)).sub(m).lanewise(VectorOperators.EXP));
        }
        for (int upper = F.loopBound(n); i < upper; i += FL) a0 = a0.add(load(x, in + 4L * i).sub(m).lanewise(VectorOperators.EXP));
        float sum = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += (float) Math.exp(x.get(F32, in + 4L * i) - max);
        float logSum = (float) Math.log(sum);
        FloatVector ls = FloatVector.broadcast(F, logSum);
        i = 0;
        for (int upper = F.loopBound(n); i < upper; i += FL) load(x, in + 4L * i).sub(m).sub(ls).intoMemorySegment(out, o + 4L * i, LE);
        for (; i < n; i++) out.set(F32, o + 4L * i, x.get(F32, in + 4L * i) - max - logSum);
    }

    // ---------------------------------------------------------------- norms

    /** weight: byte offset into w, or w == null for none. */
    static void rmsnorm(MemorySegment x, long xOff, MemorySegment w, long wOff, float eps, MemorySegment out, long outOff, int rows, int c) {
        Parallel.forRange(rows, grain(c), (start, end) -> {
            for (int r = start; r < end; r++) {
                long in = xOff + 4L * r * c, o = outOff + 4L * r * c;
                float inv = (float) (1 / Math.sqrt((double) sumSquares(x, in, c) / c + eps));
                scaleShift(x, in, 0f, 0f, inv, w, wOff, null, 0, out, o, c);
            }
        });
    }

    /**
     * Two passes for the statistics: a first mean, then sums of d = x - mean and d^2, which give
     * the corrected mean and the variance without the cancellation of E[x^2] - E[x]^2. The mean
     * is applied as a float pair (hi + lo) so rows far from zero keep their precision.
     */
    static void layernorm(MemorySegment x, long xOff, MemorySegment w, long wOff, MemorySegment b, long bOff, float eps,
            MemorySegment out, long outOff, int rows, int c) {
        Parallel.forRange(rows, grain(c), (start, end) -> {
            for (int r = start; r < end; r++) {
                long in = xOff + 4L * r * c, o = outOff + 4L * r * c;
                float mean0 = sum(x, in, c) / c;
                FloatVector m0 = FloatVector.broadcast(F, mean0);
                FloatVector s0 = FloatVector.zero(F), s1 = s0, q0 = s0, q1 = s0;
                int i = 0;
                for (int upper = c - 2 * FL; i <= upper; i += 2 * FL) {
                    FloatVector d0 = load(x, in + 4L * i).sub(m0), d1 = load(x, in + 4L * (i + FL)).sub(m0);
                    s0 = s0.add(d0);
                    s1 = s1.add(d1);
                    q0 = d0.fma(d0, q0);
                    q1 = d1.fma(d1, q1);
                }
                for (int upper = F.loopBound(c); i < upper; i += FL) {
                    FloatVector d = load(x, in + 4L * i).sub(m0);
                    s0 = s0.add(d);
                    q0 = d.fma(d, q0);
                }
                double s = s0.add(s1).reduceLanes(VectorOperators.ADD), q = q0.add(q1).reduceLanes(VectorOperators.ADD);
                for (; i < c; i++) {
                    float d = x.get(F32, in + 4L * i) - mean0;
                    s += d;
                    q += (double) d * d;
                }
                double mean = mean0 + s / c;
                double var = Math.max(0, (q - s * s / c) / c);
                float hi = (float) mean, lo = (float) (mean - hi);
                scaleShift(x, in, hi, lo, (float) (1 / Math.sqrt(var + eps)), w, wOff, b, bOff, out, o, c);
            }
        });
    }

    /** out = ((x - hi) - lo) * scale * w + b, with w and b optional. */
    private static void scaleShift(MemorySegment x, long in, float hi, float lo, float scale, MemorySegment w, long wOff,
            MemorySegment b, long bOff, MemorySegment out, long o, int c) {
        FloatVector h = FloatVector.broadcast(F, hi), l = FloatVector.broadcast(F, lo), k = FloatVector.broadcast(F, scale);
        int i = 0;
        for (int upper = F.loopBound(c); i < upper; i += FL) {
            FloatVector v = load(x, in + 4L * i).sub(h).sub(l).mul(k);
            if (w != null) v = v.mul(load(w, wOff + 4L * i));
            if (b != null) v = v.add(load(b, bOff + 4L * i));
            v.intoMemorySegment(out, o + 4L * i, LE);
        }
        for (; i < c; i++) {
            float v = (x.get(F32, in + 4L * i) - hi - lo) * scale;
            if (w != null) v *= w.get(F32, wOff + 4L * i);
            if (b != null) v += b.get(F32, bOff + 4L * i);
            out.set(F32, o + 4L * i, v);
        }
    }

    // ---------------------------------------------------------------- rope

    /**
     * Same float products and sums as the scalar loop (no FMA), so results are bit-identical.
     * HALF_SPLIT reads the table directly. INTERLEAVED computes x * (c0, c0, c1, c1, ...) +
     * swapPairs(x) * (-s0, s0, -s1, s1, ...), widening FL/2 table entries per vector in registers.
     */
    static void rope(MemorySegment x, long xOff, MemorySegment out, long outOff, int rows, int d, RopeTable table, int rowsPerPosition,
            RopeStyle style) {
        int half = d / 2, positions = table.positions();
        float[] cos = table.cos(), sin = table.sin();
        boolean interleaved = style == RopeStyle.INTERLEAVED;
        Parallel.forRange(rows, grain(d), (start, end) -> {
            for (int r = start; r < end; r++) {
                int t = (r / rowsPerPosition) % positions * half;
                long in = xOff + 4L * r * d, o = outOff + 4L * r * d;
                if (interleaved) ropeInterleaved(x, in, out, o, d, cos, sin, t);
                else ropeHalfSplit(x, in, out, o, half, cos, sin, t);
            }
        });
    }

    private static void ropeHalfSplit(MemorySegment x, long in, MemorySegment out, long o, int half, float[] cos, float[] sin, int t) {
        long in1 = in + 4L * half, o1 = o + 4L * half;
        int i = 0;
        for (int upper = F.loopBound(half); i < upper; i += FL) {
            FloatVector x0 = load(x, in + 4L * i), x1 = load(x, in1 + 4L * i);
            FloatVector c = FloatVector.fromArray(F, cos, t + i), s = FloatVector.fromArray(F, sin, t + i);
            x0.mul(c).sub(x1.mul(s)).intoMemorySegment(out, o + 4L * i, LE);
            x0.mul(s).add(x1.mul(c)).intoMemorySegment(out, o1 + 4L * i, LE);
        }
        for (; i < half; i++) {
            float x0 = x.get(F32, in + 4L * i), x1 = x.get(F32, in1 + 4L * i), c = cos[t + i], s = sin[t + i];
            out.set(F32, o + 4L * i, x0 * c - x1 * s);
            out.set(F32, o1 + 4L * i, x0 * s + x1 * c);
        }
    }

    private static void ropeInterleaved(MemorySegment x, long in, MemorySegment out, long o, int d, float[] cos, float[] sin, int t) {
        // Each vector reads FL table entries from t + i/2 but uses FL/2: stop where that would
        // run off the table's end (only ever the last position's last pairs).
        int upper = (int) Math.min(F.loopBound(d), 2L * (cos.length - t - FL) + 1);
        int i = 0;
        for (; i < upper; i += FL) {
            FloatVector v = load(x, in + 4L * i);
            FloatVector c = FloatVector.fromArray(F, cos, t + i / 2).rearrange(DUP_PAIRS);
            FloatVector s = FloatVector.fromArray(F, sin, t + i / 2).rearrange(DUP_PAIRS).mul(MINUS_PLUS);
            v.mul(c).add(v.rearrange(SWAP_PAIRS).mul(s)).intoMemorySegment(out, o + 4L * i, LE);
        }
        // i is a multiple of FL, so even: the tail holds whole pairs.
        for (; i < d; i += 2) {
            float x0 = x.get(F32, in + 4L * i), x1 = x.get(F32, in + 4L * (i + 1)), c = cos[t + i / 2], s = sin[t + i / 2];
            out.set(F32, o + 4L * i, x0 * c - x1 * s);
            out.set(F32, o + 4L * (i + 1), x0 * s + x1 * c);
        }
    }

    // ---------------------------------------------------------------- reduce and argmax

    static void reduce(ReduceOp op, MemorySegment x, long xOff, MemorySegment out, long outOff, int rows, int c) {
        Parallel.forRange(rows, grain(c), (start, end) -> {
            for (int r = start; r < end; r++) {
                long in = xOff + 4L * r * c;
                float v = switch (op) {
                    case SUM -> sum(x, in, c);
                    case MEAN -> sum(x, in, c) / c;
                    case MAX -> max(x, in, c);
                };
                out.set(F32, outOff + 4L * r, v);
            }
        });
    }

    /**
     * The row's max first (NaN if any), then the first lane equal to it, or the first NaN. Ties
     * and -0 == +0 resolve to the first index, as the scalar strict-greater scan does.
     */
    static void argmax(MemorySegment x, long xOff, MemorySegment out, long outOff, int rows, int c) {
        Parallel.forRange(rows, grain(c), (start, end) -> {
            for (int r = start; r < end; r++) {
                long in = xOff + 4L * r * c;
                out.set(Conversions.I32, outOff + 4L * r, firstIndexOf(x, in, c, max(x, in, c)));
            }
        });
    }

    /** First index of target (or of a NaN when target is NaN); the max guarantees there is one. */
    private static int firstIndexOf(MemorySegment x, long in, int n, float target) {
        // Separate loops: a mask chosen by a ternary inside one loop would be boxed.
        int upper = F.loopBound(n), i = 0;
        if (Float.isNaN(target)) {
            for (; i < upper; i += FL) {
                VectorMask<Float> m = load(x, in + 4L * i).test(VectorOperators.IS_NAN);
                if (m.anyTrue()) return i + m.firstTrue();
            }
            for (; i < n; i++) if (Float.isNaN(x.get(F32, in + 4L * i))) return i;
        } else {
            for (; i < upper; i += FL) {
                VectorMask<Float> m = load(x, in + 4L * i).compare(VectorOperators.EQ, target);
                if (m.anyTrue()) return i + m.firstTrue();
            }
            for (; i < n; i++) if (x.get(F32, in + 4L * i) == target) return i;
        }
        return 0;
    }
}
