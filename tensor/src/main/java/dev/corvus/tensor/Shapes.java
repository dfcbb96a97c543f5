package dev.corvus.tensor;

import java.util.Arrays;

/**
 * Small helpers on shapes (int[] sizes) and strides (long[] element strides).
 *
 * <p>Internal: public only for other Corvus modules; not supported API, may change in any release.
 */
public final class Shapes {
    private Shapes() {}

    public static String str(int[] shape) {
        return Arrays.toString(shape);
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    public static long[] contiguousStrides(int[] shape) {
        long[] strides = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = s;
            s *= shape[i];
        }
        return strides;
    }

    /** Row-major with no gaps; size-1 dimensions may have any stride. */
    public static boolean isContiguous(int[] shape, long[] strides) {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public static void checkValid(int[] shape) {
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("shape " + str(shape) + " has a negative size");
        }
    }

    /** Resolves a possibly negative dimension index against a rank, naming the op on error. */
    public static int dim(String op, int dim, int rank) {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) {
            throw new IllegalArgumentException(op + ": dimension " + dim + " is out of range for rank " + rank);
        }
        return d;
    }

    /** Product of sizes in [from, to). */
    public static long prod(int[] shape, int from, int to) {
        long n = 1;
        for (int i = from; i < to; i++) n *= shape[i];
        return n;
    }

    /** The broadcast of two shapes (numpy rules), or an error naming both. */
    public static int[] broadcast(String op, int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            int db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b)
                        + " do not broadcast at dimension " + i + " (" + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /**
     * True when b, less leading 1s, equals the trailing dimensions of shape, so it repeats with
     * period numel(b) (a row broadcast the binary kernels take as is).
     */
    public static boolean tilesAsRows(int[] b, int[] shape) {
        int lead = 0;
        while (lead < b.length && b[lead] == 1) lead++;
        int len = b.length - lead;
        if (len > shape.length) return false;
        for (int i = 0; i < len; i++) if (b[lead + i] != shape[shape.length - len + i]) return false;
        return true;
    }
}
