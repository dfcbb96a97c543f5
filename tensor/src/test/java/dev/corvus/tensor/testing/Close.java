package dev.corvus.tensor.testing;

import static org.assertj.core.api.Assertions.fail;

/**
 * Differential-test helpers shared by every module: the awkward sizes kernels must survive, and
 * comparisons whose tolerance grows with the reduction length.
 */
public final class Close {
    private Close() {}

    /** Lengths that catch tail handling, odd tiling and register-tile edges. */
    public static final int[] AWKWARD = {1, 2, 3, 7, 8, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97, 127, 257, 1000, 4099};

    /** Tolerance for a value that sums {@code length} products: grows like sqrt(length), plus a floor. */
    public static double reductionTolerance(int length, double base) {
        return base * Math.sqrt(Math.max(1, length));
    }

    /**
     * Asserts |expected - actual| <= absTol + relTol * |expected| for every element; NaNs and
     * infinities must match exactly. Reports the first bad index with both values.
     */
    public static void assertAllClose(String what, float[] expected, float[] actual, double absTol, double relTol) {
        if (expected.length != actual.length) fail(what + ": length " + actual.length + " != expected " + expected.length);
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.isNaN(e) || Float.isInfinite(e)) {
                if (Float.compare(e, a) != 0 && !(Float.isNaN(e) && Float.isNaN(a))) {
                    fail(what + ": at " + i + " expected " + e + " but got " + a);
                }
                continue;
            }
            double err = Math.abs((double) e - a);
            if (!(err <= absTol + relTol * Math.abs(e))) {
                fail(what + ": at " + i + " of " + expected.length + " expected " + e + " but got " + a
                        + " (|err| " + err + " > " + (absTol + relTol * Math.abs(e)) + ")");
            }
        }
    }
}
