package dev.corvus.chunking;

import java.util.Arrays;

/**
 * Shape and element strides of a value, simulated without memory: the same view rules as
 * {@link dev.corvus.tensor.Tensor} (permute, narrow, expand, reshape), so the estimator knows which
 * ops will copy a non-contiguous operand before running anything.
 */
record Layout(int[] shape, long[] strides) {
    static Layout contiguous(int... shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i];
        }
        return new Layout(shape.clone(), st);
    }

    int rank() {
        return shape.length;
    }

    long numel() {
        long n = 1;
        for (int s : shape) n *= s;
        return n;
    }

    /** Row-major with no gaps (size-1 dimensions may have any stride), as Tensor.isContiguous. */
    boolean isContiguous() {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    Layout permute(int[] order) {
        int[] s = new int[order.length];
        long[] st = new long[order.length];
        for (int i = 0; i < order.length; i++) {
            s[i] = shape[order[i]];
            st[i] = strides[order[i]];
        }
        return new Layout(s, st);
    }

    Layout narrow(int dim, int length) {
        int[] s = shape.clone();
        s[dim] = length;
        return new Layout(s, strides);
    }

    /** Broadcast to {@code target} as Tensor.expand: new leading and size-1 dimensions get stride 0. */
    Layout expand(int[] target) {
        int lead = target.length - shape.length;
        long[] st = new long[target.length];
        for (int i = 0; i < target.length; i++) {
            int src = i - lead;
            st[i] = src < 0 || (shape[src] == 1 && target[i] != 1) ? 0 : strides[src];
        }
        return new Layout(target.clone(), st);
    }

    @Override
    public String toString() {
        return Arrays.toString(shape) + "/" + Arrays.toString(strides);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Layout l && Arrays.equals(shape, l.shape) && Arrays.equals(strides, l.strides);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + Arrays.hashCode(strides);
    }
}
