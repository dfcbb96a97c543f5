package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;

/** x * factor, element-wise, in F32. */
public record Scale(float factor) {
    public static final OpDef<Scale> OP = new ElementwiseDef<>("scale", "Ops.scale", Scale.class) {
        @Override
        void kernel(Backend backend, Scale attrs, Tensor x, Tensor out) {
            backend.scale(x, attrs.factor(), out);
        }

        @Override
        public Backward<Scale> backward() {
            return (attrs, in, out, g) -> new Tensor[] {Ops.scale(g, attrs.factor())};
        }
    };
}
