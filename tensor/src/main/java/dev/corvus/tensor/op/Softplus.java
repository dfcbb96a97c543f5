package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * softplus(x) = log(1 + e^x), element-wise, in F32: a smooth ReLU (Mamba's step sizes, some
 * gates). No backend has a method for it: a backend that wants a fast path takes it in
 * {@link Backend#run}, every other one runs the reference loop below.
 */
public record Softplus() {
    public static final Softplus ATTRS = new Softplus();
    public static final OpDef<Softplus> OP = new ElementwiseDef<>("softplus", "Ops.softplus", Softplus.class) {
        @Override
        public Kernel kernelKind() {
            return Kernel.REGISTRY;
        }

        @Override
        void kernel(Backend backend, Softplus attrs, Tensor x, Tensor out) {
            dispatch(backend, attrs, new Tensor[] {x}, out);
        }

        @Override
        protected void referenceKernel(Softplus attrs, Tensor[] in, Tensor out) {
            Tensor x = in[0];
            MemorySegment src = x.segment(), dst = out.segment();
            for (long i = 0, n = x.numel(); i < n; i++) {
                float v = src.get(ValueLayout.JAVA_FLOAT_UNALIGNED, x.byteOffset() + 4 * i);
                dst.set(ValueLayout.JAVA_FLOAT_UNALIGNED, out.byteOffset() + 4 * i, apply(v));
            }
        }

        @Override
        public Backward<Softplus> backward() {
            return (attrs, in, out, g) -> new Tensor[] {Grads.timesDerivative(in[0], g, Softplus::derivative)};
        }
    };

    /**
     * The scalar definition every kernel must match: max(x, 0) + log1p(e^-|x|) in double, which
     * neither overflows for large x nor loses the small values for very negative x.
     */
    /** d softplus / dx = the logistic sigmoid, written so that neither tail overflows. */
    static double derivative(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }

    public static float apply(float x) {
        return (float) (Math.max(x, 0.0) + Math.log1p(Math.exp(-Math.abs((double) x))));
    }
}
