package dev.corvus.vector;

/**
 * How far the integer GEMV may move a product from its float value (see {@link QuantDots}):
 * activations are coded per block of 32 with step d_b = max|x| / 127 and rounding error at most
 * d_b / 2, so output (r, j) moves by at most sum_b (d_b / 2) sum_{p in b} |w[j, p]|.
 */
final class ActivationRounding {
    private ActivationRounding() {}

    /** The bound for every output of x (rows x k, row-major) times w (n x k, row-major) transposed. */
    static double[] bound(float[] x, int rows, int k, float[] w, int n) {
        double[] bound = new double[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int b = 0; b < k / 32; b++) {
                    double amax = 0, weight = 0;
                    for (int p = 32 * b; p < 32 * b + 32; p++) {
                        amax = Math.max(amax, Math.abs(x[r * k + p]));
                        weight += Math.abs(w[j * k + p]);
                    }
                    sum += amax / 127 / 2 * weight;
                }
                bound[r * n + j] = sum;
            }
        }
        return bound;
    }

    /** |actual - expected| <= absTol + relTol |expected| + bound, element by element. */
    static void assertClose(String what, float[] expected, float[] actual, double absTol, double relTol, double[] bound) {
        if (expected.length != actual.length || expected.length != bound.length) {
            throw new AssertionError(what + ": lengths " + expected.length + ", " + actual.length + ", " + bound.length);
        }
        for (int i = 0; i < expected.length; i++) {
            double tol = absTol + relTol * Math.abs(expected[i]) + bound[i];
            if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
                throw new AssertionError(what + ": at " + i + " of " + expected.length + " expected " + expected[i]
                        + " but got " + actual[i] + " (tolerance " + tol + ", of which activation rounding " + bound[i] + ")");
            }
        }
    }
}
