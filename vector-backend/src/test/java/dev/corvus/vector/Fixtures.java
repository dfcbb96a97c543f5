package dev.corvus.vector;

import static org.assertj.core.api.Assertions.fail;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Inputs and comparisons shared by the differential tests: vector backend against the scalar one. */
final class Fixtures {
    private Fixtures() {}

    static final Backend VECTOR = new VectorBackend();
    static final Backend SCALAR = Backends.scalar();

    /** Row counts: one row, a few, and enough to split across the pool for long rows. */
    static final int[] ROWS = {1, 3, 17};

    /** Values every float kernel must get right or propagate like the reference. */
    static final float[] SPECIALS = {
        0f, -0f, 1f, -1f, 80f, -80f, 1e-40f, -1e-40f, Float.MIN_VALUE, -Float.MIN_NORMAL, 1e30f, -1e30f,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 0.5f, -2.5f, 1e-8f
    };

    /** Standard normals times std, from seed. */
    static float[] normal(long seed, int n, double std) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * std);
        return v;
    }

    /** normal(...) with the specials sprinkled over seeded positions (at most one per 5 elements). */
    static float[] withSpecials(long seed, int n, double std, float[] specials) {
        float[] v = normal(seed, n, std);
        SplittableRandom r = new SplittableRandom(seed ^ 0x5eed);
        for (int k = 0; k < Math.min(specials.length, n / 5); k++) v[r.nextInt(n)] = specials[k];
        return v;
    }

    static Tensor zerosLike(Tensor t, DType dtype) {
        return Tensor.zeros(dtype, t.shape());
    }

    /** Raw bytes of a contiguous tensor's storage window. */
    static byte[] bytes(Tensor t) {
        long n = t.dtype().byteSize(t.numel());
        return t.segment().asSlice(t.byteOffset(), n).toArray(ValueLayout.JAVA_BYTE);
    }

    static float[] floats(Tensor t) {
        return t.segment().asSlice(t.byteOffset(), 4 * t.numel()).toArray(ValueLayout.JAVA_FLOAT);
    }

    static int[] ints(Tensor t) {
        return t.segment().asSlice(t.byteOffset(), 4 * t.numel()).toArray(ValueLayout.JAVA_INT);
    }

    /** A tensor of the given dtype whose storage holds exactly these raw 16-bit values. */
    static Tensor shorts(DType dtype, short[] values, int... shape) {
        Tensor t = Tensor.zeros(dtype, shape);
        MemorySegment.copy(values, 0, t.segment(), ValueLayout.JAVA_SHORT_UNALIGNED, t.byteOffset(), values.length);
        return t;
    }

    static void assertSameBytes(String what, Tensor expected, Tensor actual) {
        byte[] e = bytes(expected), a = bytes(actual);
        long at = MemorySegment.ofArray(e).mismatch(MemorySegment.ofArray(a));
        if (at >= 0) fail(what + ": bytes differ first at " + at + " of " + e.length + " (expected " + e[(int) Math.min(at, e.length - 1)] + ")");
    }

    /** Equal floats, NaN matching any NaN, -0 distinct from +0. */
    static void assertSameFloats(String what, float[] expected, float[] actual) {
        if (expected.length != actual.length) fail(what + ": length " + actual.length + " != " + expected.length);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                fail(what + ": at " + i + " of " + expected.length + " expected " + expected[i] + " but got " + actual[i]);
            }
        }
    }
}
