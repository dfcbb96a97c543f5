package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;

/** {@link Tensor#reshape}: a view of a contiguous value, else a contiguous copy. One size may be -1. */
public record Reshape(int[] shape) {
    public static final OpDef<Reshape> OP = new Def();

    private static final class Def extends OpDef<Reshape> {
        Def() {
            super("reshape", "Tensor.reshape", Reshape.class);
        }

        @Override
        public Output infer(Reshape attrs, Operand... in) {
            Operand x = in[0];
            int[] s = attrs.shape().clone();
            long known = 1;
            int infer = -1;
            for (int i = 0; i < s.length; i++) {
                if (s[i] == -1 && infer < 0) infer = i;
                else if (s[i] < 0) throw new IllegalArgumentException("reshape: bad size in " + Shapes.str(attrs.shape()));
                else known *= s[i];
            }
            if (infer >= 0 && known > 0) s[infer] = (int) (x.numel() / known);
            if (Shapes.numel(s) != x.numel()) {
                throw new IllegalArgumentException("reshape: shape " + Shapes.str(x.shape()) + " (" + x.numel() + " elements) cannot become "
                        + Shapes.str(attrs.shape()));
            }
            return new Output(x.dtype(), s);
        }

        @Override
        public Tensor run(Backend be, Reshape attrs, Tensor... in) {
            return in[0].reshape(attrs.shape());
        }

        @Override
        public Backward<Reshape> backward() {
            return (attrs, in, out, g) -> new Tensor[] {g.reshape(in[0].shape())};
        }

        @Override
        public int[] flow(Reshape attrs, Operand[] in, int[] outShape, int d) {
            int src = reshapeSource(in[0].shape(), outShape, d);
            return src < 0 ? null : new int[] {src};
        }

        @Override
        public Reshape slice(Reshape attrs, int dim, int start, int length, int[] outShape) {
            int[] shape = outShape.clone();
            shape[dim] = length;
            return new Reshape(shape);
        }

        @Override
        public boolean mayView() {
            return true;
        }

        @Override
        public boolean isView(Reshape attrs, Layout[] in) {
            return in[0].isContiguous();
        }

        @Override
        public long scratchBytes(Reshape attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            return 0;
        }
    }

    /**
     * The input dim output dim d of a reshape keeps, when it is carried over unchanged (the same
     * size with the same number of elements before it); -1 when the reshape merges or splits it.
     */
    public static int reshapeSource(int[] in, int[] out, int d) {
        long before = 1;
        for (int i = 0; i < d; i++) before *= out[i];
        long acc = 1;
        for (int i = 0; i < in.length; i++) {
            if (acc == before && in[i] == out[d]) return in[i] == 1 ? -1 : i;
            if (acc > before) return -1;
            acc *= in[i];
        }
        return -1;
    }
}
