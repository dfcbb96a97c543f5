package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;

/**
 * {@link Tensor#narrow}: a view of positions [start, start + length) of {@code dim}. The traced
 * decoder's narrows and {@link Ops#split}'s pieces are this op; {@link Tensor#narrow} itself stays
 * a method, which a {@link Tape} traces through the storage.
 */
public record Narrow(int dim, int start, int length) {
    public static final OpDef<Narrow> OP = new Def();

    private static final class Def extends ViewDef<Narrow> {
        Def() {
            super("narrow", "Tensor.narrow", Narrow.class);
        }

        @Override
        public Output infer(Narrow attrs, Operand... in) {
            if (in.length != 1) throw new IllegalArgumentException("narrow: " + in.length + " operands, expected 1");
            Operand x = in[0];
            int[] shape = x.shape();
            int d = Shapes.dim("narrow", attrs.dim(), shape.length);
            int start = attrs.start(), length = attrs.length();
            if (start < 0 || length < 0 || (long) start + length > shape[d]) {
                throw new IndexOutOfBoundsException("narrow: range [" + start + ", " + ((long) start + length) + ") is outside dimension "
                        + d + " of size " + shape[d] + " in shape " + Shapes.str(shape));
            }
            DType dtype = x.dtype();
            if (dtype.isQuantized() && x.strides()[d] == 1 && (start % dtype.blockSize() != 0 || length % dtype.blockSize() != 0)) {
                throw new IllegalArgumentException("narrow: " + dtype + " can only be cut along its block dimension at multiples of " + dtype.blockSize());
            }
            shape[d] = length;
            return new Output(dtype, shape);
        }

        @Override
        public Tensor run(Backend backend, Narrow attrs, Tensor... in) {
            return in[0].narrow(attrs.dim(), attrs.start(), attrs.length());
        }

        /** The output's gradient in its place, zeros elsewhere. */
        @Override
        public Backward<Narrow> backward() {
            return (attrs, in, out, g) -> {
                Tensor grad = OpSupport.newOutput(OpSupport.backend("narrow", g), g, DType.F32, in[0].shape());
                Ops.copyInto(g, grad.narrow(attrs.dim(), attrs.start(), attrs.length()));
                return new Tensor[] {grad};
            };
        }

        @Override
        public int[] flow(Narrow attrs, Operand[] in, int[] outShape, int d) {
            return d == Shapes.dim("narrow", attrs.dim(), outShape.length) ? null : firstAlong(1, d);
        }

        @Override
        public Layout outputLayout(Narrow attrs, Layout[] in, int[] outShape) {
            return in[0].narrow(Shapes.dim("narrow", attrs.dim(), outShape.length), attrs.length());
        }
    }
}
