package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/** Index of the largest element along {@code dim} (I32, that dimension removed; the first on ties, NaN is largest). */
public record Argmax(int dim) {
    public static final OpDef<Argmax> OP = new Def();

    private static final class Def extends OpDef<Argmax> {
        Def() {
            super("argmax", "Ops.argmax", Argmax.class);
        }

        @Override
        public Output infer(Argmax attrs, Operand... in) {
            Operand x = in[0];
            OpSupport.requireRank("argmax", x, 1);
            int d = Shapes.dim("argmax", attrs.dim(), x.rank());
            if (x.size(d) == 0) throw new IllegalArgumentException("argmax: dimension " + d + " of " + Shapes.str(x.shape()) + " is empty");
            OpSupport.requireFloat("argmax", x);
            return new Output(DType.I32, OpSupport.without(x.shape(), d));
        }

        @Override
        public Tensor run(Backend be, Argmax attrs, Tensor... in) {
            infer(attrs, in);
            Tensor x = in[0];
            int d = Shapes.dim("argmax", attrs.dim(), x.rank());
            Tensor xin = OpSupport.f32("argmax", d == x.rank() - 1 ? x : x.transpose(d, x.rank() - 1));
            int[] shape = xin.shape();
            Tensor out = OpSupport.newOutput(be, xin, DType.I32, Arrays.copyOf(shape, shape.length - 1));
            be.argmax(xin, out);
            return d == x.rank() - 1 ? out : OpSupport.unmoveLast(out, d);
        }

        @Override
        public boolean differentiable() {
            return false; // an index: piecewise constant, nothing to pass back
        }

        @Override
        public int[] flow(Argmax attrs, Operand[] in, int[] outShape, int d) {
            int r = Shapes.dim("argmax", attrs.dim(), in[0].rank());
            return new int[] {d < r ? d : d + 1};
        }

        @Override
        public long scratchBytes(Argmax attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            int d = Shapes.dim("argmax", attrs.dim(), in[0].rank()), last = in[0].rank() - 1;
            return f32Copy(d == last ? in[0] : in[0].permute(OpSupport.swap(in[0].rank(), d, last)), dtypes[0]);
        }
    }
}
