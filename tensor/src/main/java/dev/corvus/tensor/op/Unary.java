package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import java.util.EnumMap;
import java.util.Map;

/** op(x), element-wise, in F32: one of the {@link UnaryOp}s every backend has a kernel for. */
public record Unary(UnaryOp op) {
    private static final Map<UnaryOp, Unary> SHARED = new EnumMap<>(UnaryOp.class);

    static {
        for (UnaryOp u : UnaryOp.values()) SHARED.put(u, new Unary(u));
    }

    public static final OpDef<Unary> OP = new ElementwiseDef<>("unary", "Ops.unary", Unary.class) {
        @Override
        public String label(Unary attrs) {
            return attrs.label();
        }

        @Override
        void kernel(Backend backend, Unary attrs, Tensor x, Tensor out) {
            backend.unary(attrs.op(), x, out);
        }
    };

    /** The shared attribute record for {@code op} (no allocation on the eager path). */
    public static Unary of(UnaryOp op) {
        return SHARED.get(op);
    }

    /** The name eager and traced code report, e.g. "silu". */
    public String label() {
        return op.label();
    }
}
