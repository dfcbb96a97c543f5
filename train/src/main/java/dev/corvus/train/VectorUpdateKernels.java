package dev.corvus.train;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API forms of {@link UpdateKernels}' loops, each a vector body over whole vectors and
 * the scalar loop for the tail. Loaded only when {@link UpdateKernels#VECTOR} is true.
 */
final class VectorUpdateKernels {
    private VectorUpdateKernels() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int FL = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /**
     * Elements summed in float lanes before the partial sum moves to double: short enough that the
     * float partials stay accurate (each lane adds BLOCK / FL squares), long enough that the
     * reduction is a small share of the loop.
     */
    private static final int SUM_BLOCK = 1024;

    static void adamw(MemorySegment p, MemorySegment g, MemorySegment m, MemorySegment v, long n,
            float beta1, float beta2, float eps, float decayFactor, float stepSize, float sqrtBc2) {
        long bound = n - n % FL;
        FloatVector b1 = FloatVector.broadcast(F, beta1), b2 = FloatVector.broadcast(F, beta2);
        FloatVector c1 = FloatVector.broadcast(F, 1 - beta1), c2 = FloatVector.broadcast(F, 1 - beta2);
        FloatVector e = FloatVector.broadcast(F, eps), decay = FloatVector.broadcast(F, decayFactor);
        FloatVector step = FloatVector.broadcast(F, stepSize), bc2 = FloatVector.broadcast(F, sqrtBc2);
        for (long i = 0; i < bound; i += FL) {
            long o = 4 * i;
            FloatVector gi = FloatVector.fromMemorySegment(F, g, o, LE);
            FloatVector mi = b1.mul(FloatVector.fromMemorySegment(F, m, o, LE)).add(c1.mul(gi));
            FloatVector vi = b2.mul(FloatVector.fromMemorySegment(F, v, o, LE)).add(c2.mul(gi.mul(gi)));
            FloatVector denom = vi.sqrt().div(bc2).add(e);
            FloatVector pi = FloatVector.fromMemorySegment(F, p, o, LE).mul(decay);
            mi.intoMemorySegment(m, o, LE);
            vi.intoMemorySegment(v, o, LE);
            pi.sub(step.mul(mi.div(denom))).intoMemorySegment(p, o, LE);
        }
        long o = 4 * bound;
        UpdateKernels.adamwScalar(p.asSlice(o), g.asSlice(o), m.asSlice(o), v.asSlice(o), n - bound,
                beta1, beta2, eps, decayFactor, stepSize, sqrtBc2);
    }

    static double sumOfSquares(MemorySegment x, long n) {
        double total = 0;
        long i = 0;
        for (; i + SUM_BLOCK <= n; i += SUM_BLOCK) {
            FloatVector acc = FloatVector.zero(F);
            for (long j = i; j < i + SUM_BLOCK; j += FL) {
                FloatVector xj = FloatVector.fromMemorySegment(F, x, 4 * j, LE);
                acc = xj.fma(xj, acc);
            }
            total += acc.reduceLanes(VectorOperators.ADD);
        }
        return total + UpdateKernels.sumOfSquaresScalar(x.asSlice(4 * i), n - i);
    }

    static void scale(MemorySegment x, long n, float s) {
        long bound = n - n % FL;
        FloatVector sv = FloatVector.broadcast(F, s);
        for (long i = 0; i < bound; i += FL) FloatVector.fromMemorySegment(F, x, 4 * i, LE).mul(sv).intoMemorySegment(x, 4 * i, LE);
        UpdateKernels.scaleScalar(x.asSlice(4 * bound), n - bound, s);
    }

    static void addInto(MemorySegment dst, MemorySegment src, long n) {
        long bound = n - n % FL;
        for (long i = 0; i < bound; i += FL) {
            FloatVector.fromMemorySegment(F, dst, 4 * i, LE).add(FloatVector.fromMemorySegment(F, src, 4 * i, LE)).intoMemorySegment(dst, 4 * i, LE);
        }
        UpdateKernels.addIntoScalar(dst.asSlice(4 * bound), src.asSlice(4 * bound), n - bound);
    }

    /**
     * {@link UpdateKernels#rowLossAndGradientScalar} on float lanes: the max, then Σ exp(x − max)
     * in float lanes per {@link #SUM_BLOCK} elements (each block's partial moved to double), then
     * the row rewritten as scale·exp(x − lse) with the target's element lowered by scale. The loss
     * is taken from the target's logit before the row is overwritten, as the reference does.
     */
    static double rowLossAndGradient(MemorySegment row, int vocab, int target, float scale) {
        long bound = vocab - vocab % FL;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (long j = 0; j < bound; j += FL) mv = mv.max(FloatVector.fromMemorySegment(F, row, 4 * j, LE));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (long j = bound; j < vocab; j++) max = Math.max(max, row.getAtIndex(UpdateKernels.F32, j));
        FloatVector shift = FloatVector.broadcast(F, max);
        double sumExp = 0;
        long j = 0;
        while (j < bound) {
            long blockEnd = Math.min(bound, j + SUM_BLOCK);
            FloatVector acc = FloatVector.zero(F);
            for (; j < blockEnd; j += FL) acc = acc.add(FloatVector.fromMemorySegment(F, row, 4 * j, LE).sub(shift).lanewise(VectorOperators.EXP));
            sumExp += acc.reduceLanes(VectorOperators.ADD);
        }
        for (j = bound; j < vocab; j++) sumExp += Math.exp((double) row.getAtIndex(UpdateKernels.F32, j) - max);
        double lse = max + Math.log(sumExp);
        double loss = lse - row.getAtIndex(UpdateKernels.F32, target);
        FloatVector lseV = FloatVector.broadcast(F, (float) lse), scaleV = FloatVector.broadcast(F, scale);
        for (j = 0; j < bound; j += FL) {
            FloatVector.fromMemorySegment(F, row, 4 * j, LE).sub(lseV).lanewise(VectorOperators.EXP).mul(scaleV).intoMemorySegment(row, 4 * j, LE);
        }
        for (j = bound; j < vocab; j++) row.setAtIndex(UpdateKernels.F32, j, (float) (scale * Math.exp(row.getAtIndex(UpdateKernels.F32, j) - lse)));
        row.setAtIndex(UpdateKernels.F32, target, row.getAtIndex(UpdateKernels.F32, target) - scale);
        return loss;
    }
}
