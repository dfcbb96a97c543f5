package dev.corvus.tensor.op;

import dev.corvus.tensor.Shapes;
import java.util.Arrays;

/**
 * Shape and element strides of a value, without memory: the view rules of
 * {@link dev.corvus.tensor.Tensor} (permute, narrow, expand), so a memory rule can tell which ops
 * will copy a non-contiguous operand before anything runs.
 */
public record Layout(int[] shape, long[] strides) {
    public static Layout contiguous(int... shape) {
        return new Layout(shape.clone(), Shapes.contiguousStrides(shape));
    }

    /** The layout of an operand as it stands. */
    public static Layout of(Operand o) {
        return new Layout(o.shape(), o.strides());
    }

    public int rank() {
        return shape.length;
    }

    public int size(int dim) {
        return shape[dim < 0 ? dim + shape.length : dim];
    }

    public long numel() {
        return Shapes.numel(shape);
    }

    /** Row-major with no gaps (size-1 dimensions may have any stride), as Tensor.isContiguous. */
    public boolean isContiguous() {
        return Shapes.isContiguous(shape, strides);
    }

    public Layout permute(int[] order) {
        int[] s = new int[order.length];
        long[] st = new long[order.length];
        for (int i = 0; i < order.length; i++) {
            s[i] = shape[order[i]];
            st[i] = strides[order[i]];
        }
        return new Layout(s, st);
    }

    public Layout narrow(int dim, int length) {
        int[] s = shape.clone();
        s[dim] = length;
        return new Layout(s, strides);
    }

    /** Broadcast to {@code target} as Tensor.expand: new leading and size-1 dimensions get stride 0. */
    public Layout expand(int[] target) {
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
