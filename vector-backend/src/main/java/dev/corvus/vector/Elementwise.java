package dev.corvus.vector;

import static dev.corvus.vector.Conversions.F32;
import static dev.corvus.vector.Conversions.LE;
import static dev.corvus.vector.VectorShapes.F;
import static dev.corvus.vector.VectorShapes.FL;

import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.UnaryOp;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Element-wise kernels over contiguous F32 memory: binary ops with the SPI's tiling rule, unary
 * activations, scaling. Every Vector API call names its operator as a constant, which is what C2
 * needs to intrinsify it (a {@code VectorOperators} value passed in as a variable would not be):
 * binary ops pick theirs per vector in a small switch, unary ops have one loop each.
 */
final class Elementwise {
    private Elementwise() {}

    /** Elements per task unit; tasks take at least GRAIN units (16K elements), so small tensors run inline. */
    private static final int BLOCK = 4096;
    private static final int GRAIN = 4;
    /** A broadcast row shorter than this is tiled to a multiple of FL, so the vector loop is not all tail. */
    private static final int SHORT_ROW = 8 * FL;

    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);
    private static final float INV_SQRT_2 = (float) (1 / Math.sqrt(2));

    /** Runs body over [0, n) in BLOCK-sized pieces on the shared pool. */
    private static void blocks(long n, Parallel.RangeBody body) {
        int tasks = Math.toIntExact((n + BLOCK - 1) / BLOCK);
        Parallel.forRange(tasks, GRAIN, (start, end) -> body.run(start * BLOCK, (int) Math.min(n, (long) end * BLOCK)));
    }

    // ---------------------------------------------------------------- binary

    /** out[i] = a[i] op b[i % m]; offsets in bytes, n elements in a and out, m in b. */
    static void binary(BinaryOp op, MemorySegment a, long aOff, MemorySegment b, long bOff, int m, MemorySegment out, long outOff, int n) {
        if (m == n) {
            blocks(n, (lo, hi) -> binarySpan(op, a, aOff + 4L * lo, b, bOff + 4L * lo, out, outOff + 4L * lo, hi - lo));
        } else if (m == 1) {
            float s = b.get(F32, bOff);
            blocks(n, (lo, hi) -> binaryScalar(op, a, aOff + 4L * lo, s, out, outOff + 4L * lo, hi - lo));
        } else {
            // Row broadcast. A short row is repeated FL times so each period is whole vectors.
            MemorySegment period = b;
            long pOff = bOff;
            int p = m;
            if (m < SHORT_ROW && m % FL != 0) {
                float[] tiled = new float[m * FL];
                for (int i = 0; i < tiled.length; i++) tiled[i] = b.get(F32, bOff + 4L * (i % m));
                period = MemorySegment.ofArray(tiled);
                pOff = 0;
                p = tiled.length;
            }
            MemorySegment pb = period;
            long pbOff = pOff;
            int len = p;
            int periods = (n + len - 1) / len;
            Parallel.forRange(periods, Math.max(1, GRAIN * BLOCK / len), (start, end) -> {
                for (int r = start; r < end; r++) {
                    long e = (long) r * len;
                    binarySpan(op, a, aOff + 4 * e, pb, pbOff, out, outOff + 4 * e, (int) Math.min(len, n - e));
                }
            });
        }
    }

    private static void binarySpan(BinaryOp op, MemorySegment a, long aOff, MemorySegment b, long bOff, MemorySegment out, long outOff, int n) {
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += FL) {
            FloatVector x = FloatVector.fromMemorySegment(F, a, aOff + 4L * i, LE);
            FloatVector y = FloatVector.fromMemorySegment(F, b, bOff + 4L * i, LE);
            apply(op, x, y).intoMemorySegment(out, outOff + 4L * i, LE);
        }
        for (; i < n; i++) out.set(F32, outOff + 4L * i, op.apply(a.get(F32, aOff + 4L * i), b.get(F32, bOff + 4L * i)));
    }

    private static void binaryScalar(BinaryOp op, MemorySegment a, long aOff, float s, MemorySegment out, long outOff, int n) {
        FloatVector y = FloatVector.broadcast(F, s);
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += FL) {
            apply(op, FloatVector.fromMemorySegment(F, a, aOff + 4L * i, LE), y).intoMemorySegment(out, outOff + 4L * i, LE);
        }
        for (; i < n; i++) out.set(F32, outOff + 4L * i, op.apply(a.get(F32, aOff + 4L * i), s));
    }

    private static FloatVector apply(BinaryOp op, FloatVector x, FloatVector y) {
        return switch (op) {
            case ADD -> x.add(y);
            case SUB -> x.sub(y);
            case MUL -> x.mul(y);
            case DIV -> x.div(y);
        };
    }

    // ---------------------------------------------------------------- unary and scale

    static void unary(UnaryOp op, MemorySegment x, long xOff, MemorySegment out, long outOff, int n) {
        blocks(n, (lo, hi) -> {
            long in = xOff + 4L * lo, o = outOff + 4L * lo;
            int len = hi - lo;
            // One loop per op, unlike binary: with all seven bodies behind a switch inside one loop,
            // C2 stops inlining the Vector API calls of some arms and boxes their vectors (measured
            // 5-10x slower on NEG and RELU).
            switch (op) {
                case EXP -> exp(x, in, out, o, len);
                case SILU -> silu(x, in, out, o, len);
                case RELU -> relu(x, in, out, o, len);
                case NEG -> neg(x, in, out, o, len);
                case TANH -> tanh(x, in, out, o, len);
                case GELU_TANH -> geluTanh(x, in, out, o, len);
                case GELU_ERF -> geluErf(x, in, out, o, len);
            }
            // The tail takes the scalar definition itself: it is the reference.
            for (int i = F.loopBound(len); i < len; i++) out.set(F32, o + 4L * i, op.apply(x.get(F32, in + 4L * i)));
        });
    }

    /**
     * softplus(x) = max(x, 0) + log1p(e^-|x|), the registry op {@link dev.corvus.tensor.op.Softplus}
     * (no Backend method of its own; {@link VectorBackend#run} takes it).
     */
    static void softplus(MemorySegment x, long xOff, MemorySegment out, long outOff, int n) {
        blocks(n, (lo, hi) -> {
            long in = xOff + 4L * lo, o = outOff + 4L * lo;
            int len = hi - lo;
            for (int i = 0, upper = F.loopBound(len); i < upper; i += FL) {
                FloatVector v = load(x, in + 4L * i);
                v.max(0f).add(v.abs().neg().lanewise(VectorOperators.EXP).lanewise(VectorOperators.LOG1P)).intoMemorySegment(out, o + 4L * i, LE);
            }
            for (int i = F.loopBound(len); i < len; i++) out.set(F32, o + 4L * i, dev.corvus.tensor.op.Softplus.apply(x.get(F32, in + 4L * i)));
        });
    }

    private static FloatVector load(MemorySegment seg, long off) {
        return FloatVector.fromMemorySegment(F, seg, off, LE);
    }

    private static void exp(MemorySegment x, long in, MemorySegment out, long o, int n) {
        for (int i = 0, upper = F.loopBound(n); i < upper; i += FL) load(x, in + 4L * i).lanewise(VectorOperators.EXP).intoMemorySegment(out, o + 4L * i, LE);
    }

    private static void silu(MemorySegment x, long in, MemorySegment out, long o, int n) {
        for (int i = 0, upper = F.loopBound(n); i < upper; i += FL) silu(load(x, in + 4L * i)).intoMemorySegment(out, o + 4L * i, LE);
    }

    private static void relu(MemorySegment x, long in, MemorySegment out, long o, int n) {
        for (int i = 0, upper = F.loopBound(n); i < upper; i += FL) load(x, in + 4L * i).max(0f).intoMemorySegment(out, o + 4L * i, LE);
    }

    private static void neg(MemorySegment x, long in, MemorySegment out, long o, int n) {
        for (int i = 0, upper = F.loopBound(n); i < upper; i += FL) load(x, in + 4L * i).neg().intoMemorySegment(out, o + 4L * i, LE);
    }

    private static void tanh(MemorySegment x, long in, MemorySegment out, long o, int n) {
        for (int i = 0, upper = F.loopBound(n); i < upper; i += FL) load(x, in + 4L * i).lanewise(VectorOperators.TANH).intoMemorySegment(out, o + 4L * i, LE);
    }

    private static void geluTanh(MemorySegment x, long in, MemorySegment out, long o, int n) {
        for (int i = 0, upper = F.loopBound(n); i < upper; i += FL) geluTanh(load(x, in + 4L * i)).intoMemorySegment(out, o + 4L * i, LE);
    }

    private static void geluErf(MemorySegment x, long in, MemorySegment out, long o, int n) {
        for (int i = 0, upper = F.loopBound(n); i < upper; i += FL) geluErf(load(x, in + 4L * i)).intoMemorySegment(out, o + 4L * i, LE);
    }

    static void scale(MemorySegment x, long xOff, float factor, MemorySegment out, long outOff, int n) {
        blocks(n, (lo, hi) -> binaryScalar(BinaryOp.MUL, x, xOff + 4L * lo, factor, out, outOff + 4L * lo, hi - lo));
    }

    /** x * sigmoid(x). */
    static FloatVector silu(FloatVector x) {
        return x.div(x.neg().lanewise(VectorOperators.EXP).add(1f));
    }

    /**
     * 0.5 x (1 + tanh(u)) rewritten as x / (1 + exp(-2u)): the same function, without the
     * cancellation of 1 + tanh(u) for negative u, and with exp's accuracy.
     */
    static FloatVector geluTanh(FloatVector x) {
        FloatVector u = x.mul(x).mul(x).mul(0.044715f).add(x).mul(SQRT_2_OVER_PI);
        return x.div(u.mul(-2f).lanewise(VectorOperators.EXP).add(1f));
    }

    /**
     * 0.5 x (1 + erf(x / sqrt 2)), through erfc of |z| so the small tail for negative x keeps its
     * relative accuracy: x * erfc(|z|) / 2 for x <= 0, x * (1 - erfc(z) / 2) above (which keeps
     * +inf finite-safe: the product never forms inf * 0 there).
     */
    static FloatVector geluErf(FloatVector x) {
        FloatVector half = erfc(x.abs().mul(INV_SQRT_2)).mul(0.5f);
        VectorMask<Float> nonPositive = x.compare(VectorOperators.LE, 0f);
        return x.mul(half.neg().add(1f).blend(half, nonPositive));
    }

    /**
     * erfc(z) for z >= 0: the Chebyshev-fitted form of Numerical Recipes (erfcc, after W. J. Cody),
     * t exp(-z^2 + P(t)) with t = 1 / (1 + z/2). Fractional error below 1.2e-7 for every z, so
     * GELU's absolute error stays under 1e-6 (tested). The Vector API has no erf.
     */
    static FloatVector erfc(FloatVector z) {
        FloatVector t = FloatVector.broadcast(F, 1f).div(z.mul(0.5f).add(1f));
        FloatVector p = t.mul(0.17087277f).add(-0.82215223f);
        p = p.mul(t).add(1.48851587f);
        p = p.mul(t).add(-1.13520398f);
        p = p.mul(t).add(0.27886807f);
        p = p.mul(t).add(-0.18628806f);
        p = p.mul(t).add(0.09678418f);
        p = p.mul(t).add(0.37409196f);
        p = p.mul(t).add(1.00002368f);
        p = p.mul(t).add(-1.26551223f);
        return t.mul(p.sub(z.mul(z)).lanewise(VectorOperators.EXP));
    }
}
