package dev.corvus.chunking;

import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.OpDef;
import java.util.Arrays;
import java.util.List;

/**
 * Runs one node through its op definition. Inside a chunk loop the node sees slices, and its
 * attributes become the definition's {@link OpDef#slice} of them: the few ops whose attributes
 * depend on absolute positions along the chunk dim (a causal diagonal, rope's position offset,
 * flash attention's query start, a reshape's size) get them shifted by the slice's start.
 */
final class Interpreter {
    private Interpreter() {}

    static Tensor run(Node n, List<Tensor> in, Slice slice) {
        if (n.isSource()) throw new IllegalStateException(n.describe() + " is not computed");
        Tensor out = run(n.op(), n.attrs(), n.shape(), in.toArray(Tensor[]::new), slice);
        return n.isCustom() ? checkCustom(n, out, slice) : out;
    }

    private static <A extends Record> Tensor run(OpDef<A> op, Record attrs, int[] shape, Tensor[] in, Slice slice) {
        return op.run(sliced(op, op.cast(attrs), shape, slice), in);
    }

    /** The attributes that compute {@code slice} of a node of full output shape {@code shape} (all of it when null). */
    static <A extends Record> A sliced(OpDef<A> op, A attrs, int[] shape, Slice slice) {
        return slice == null ? attrs : op.slice(attrs, slice.dim(), slice.start(), slice.length(), shape);
    }

    /** A custom op's result is trusted by everything downstream, so it must be what was traced (the slice's shape inside a chunk loop). */
    private static Tensor checkCustom(Node n, Tensor out, Slice slice) {
        int[] want = n.shape();
        if (slice != null) want[slice.dim()] = slice.length();
        if (out == null) {
            throw new IllegalStateException("custom op '" + n.label() + "' returned null; it must return a " + n.dtype() + " "
                    + Shapes.str(want) + " tensor");
        }
        if (!Arrays.equals(out.shape(), want) || out.dtype() != n.dtype()) {
            throw new IllegalStateException("custom op '" + n.label() + "' returned " + out.dtype() + " " + Shapes.str(out.shape())
                    + ", but it was traced as " + n.dtype() + " " + Shapes.str(want));
        }
        return out;
    }
}
