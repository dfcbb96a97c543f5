package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;

/** {@link Tensor#contiguous}: the value itself when contiguous, else a contiguous copy. */
public record Contiguous() {
    public static final Contiguous ATTRS = new Contiguous();
    public static final OpDef<Contiguous> OP = new Def();

    private static final class Def extends OpDef<Contiguous> {
        Def() {
            super("contiguous", "Tensor.contiguous", Contiguous.class);
        }

        @Override
        public Output infer(Contiguous attrs, Operand... in) {
            return new Output(in[0].dtype(), in[0].shape());
        }

        @Override
        public Tensor run(Backend be, Contiguous attrs, Tensor... in) {
            return in[0].isContiguous() ? in[0] : Ops.copy(in[0]); // Tensor.contiguous() comes here, so a tape records the copy
        }

        @Override
        public Backward<Contiguous> backward() {
            return (attrs, in, out, g) -> new Tensor[] {g};
        }

        @Override
        public int[] flow(Contiguous attrs, Operand[] in, int[] outShape, int d) {
            return new int[] {d};
        }

        @Override
        public boolean mayView() {
            return true;
        }

        @Override
        public boolean isView(Contiguous attrs, Layout[] in) {
            return in[0].isContiguous();
        }

        @Override
        public Layout outputLayout(Contiguous attrs, Layout[] in, int[] outShape) {
            return in[0].isContiguous() ? in[0] : Layout.contiguous(outShape);
        }
    }
}
