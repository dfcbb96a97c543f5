package dev.corvus.tensor.op;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;

/**
 * What rmsnorm and layernorm share: a row-wise normalisation along the last dimension, with
 * per-feature vectors [C] read whole by every chunk, eps checked the same way, and contiguous F32
 * copies of every operand as scratch.
 */
abstract class NormDef<A extends Record> extends OpDef<A> {
    NormDef(String name, String apiName, Class<A> attrsType) {
        super(name, apiName, attrsType);
    }

    /** Checks x, eps and each per-feature vector {@code what[i]} = {@code in[i + 1]}. */
    final Output check(float eps, Operand[] in, String... what) {
        String op = name();
        OpSupport.requireRank(op, in[0], 1);
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            // A negative or NaN eps turns every row into NaN without a word. 0 is allowed (an all-zero row then gives NaN, as in PyTorch).
            throw new IllegalArgumentException(op + ": eps " + eps + " must be a finite number >= 0 (models use 1e-5 or 1e-6)");
        }
        for (int i = 1; i < in.length; i++) OpSupport.requireShape(op, what[i - 1], in[i], in[0].size(-1));
        for (Operand o : in) OpSupport.requireFloat(op, o);
        return new Output(DType.F32, in[0].shape());
    }

    /** Per-feature gradient sums, accumulated in double, as F32 values. */
    static float[] toFloats(double[] sums) {
        float[] f = new float[sums.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) sums[i];
        return f;
    }

    @Override
    public final int[] flow(A attrs, Operand[] in, int[] outShape, int d) {
        if (d == outShape.length - 1) return null;
        return firstAlong(in.length, d);
    }

    @Override
    public final long scratchBytes(A attrs, Layout[] in, DType[] dtypes, int[] outShape) {
        long s = 0;
        for (int i = 0; i < in.length; i++) s += f32Copy(in[i], dtypes[i]);
        return s;
    }
}
