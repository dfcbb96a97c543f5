package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Tensor;

/** {@link dev.corvus.tensor.Ops#copy}: a contiguous copy with the same dtype. */
public record Copy() {
    public static final Copy ATTRS = new Copy();
    public static final OpDef<Copy> OP = new Def();

    private static final class Def extends OpDef<Copy> {
        Def() {
            super("copy", "Ops.copy", Copy.class);
        }

        @Override
        public Output infer(Copy attrs, Operand... in) {
            Operand x = in[0];
            if (x.dtype().isQuantized() && !Layout.of(x).isContiguous()) {
                throw new IllegalArgumentException("copy: a non-contiguous " + x.dtype() + " view cannot be re-blocked; convert it to F32 instead");
            }
            return new Output(x.dtype(), x.shape());
        }

        @Override
        public Tensor run(Backend be, Copy attrs, Tensor... in) {
            Output o = infer(attrs, in);
            Tensor out = OpSupport.newOutput(be, in[0], o.dtype(), o.shape());
            be.copy(in[0], out);
            return out;
        }

        @Override
        public Backward<Copy> backward() {
            return (attrs, in, out, g) -> new Tensor[] {g};
        }

        @Override
        public int[] flow(Copy attrs, Operand[] in, int[] outShape, int d) {
            return in[0].dtype().isQuantized() && d == outShape.length - 1 ? null : new int[] {d}; // blocks are not cut
        }
    }
}
