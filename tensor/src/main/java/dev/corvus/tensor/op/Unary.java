package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Ops;
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

        @Override
        public Backward<Unary> backward() {
            return (attrs, in, out, g) -> switch (attrs.op()) {
                case NEG -> new Tensor[] {Ops.neg(g)};
                case EXP -> new Tensor[] {Ops.mul(g, out)};
                default -> new Tensor[] {Grads.timesDerivative(in[0], g, x -> derivative(attrs.op(), x))};
            };
        }
    };

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
    private static final double GELU_CUBIC = 0.044715;

    /** d op(x) / dx in double, the derivative of {@link UnaryOp#apply}. */
    static double derivative(UnaryOp op, double x) {
        return switch (op) {
            case EXP -> Math.exp(x);
            case NEG -> -1;
            case RELU -> x > 0 ? 1 : 0;
            case TANH -> 1 - Math.tanh(x) * Math.tanh(x);
            case SILU -> {
                double s = 1 / (1 + Math.exp(-x));
                yield s * (1 + x * (1 - s));
            }
            case GELU_TANH -> {
                double t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x));
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * x * x);
            }
            case GELU_ERF -> 0.5 * (1 + UnaryOp.erf(x / Math.sqrt(2))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
        };
    }

    /** The shared attribute record for {@code op} (no allocation on the eager path). */
    public static Unary of(UnaryOp op) {
        return SHARED.get(op);
    }

    /** The name eager and traced code report, e.g. "silu". */
    public String label() {
        return op.label();
    }
}
