package dev.corvus.chunking;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.Operand;
import java.util.function.Function;

/**
 * The graph's own node kinds, which are not tensor ops and so not in the registry: inputs bound
 * when a program runs, parameters captured at trace time, and custom functions traced as black
 * boxes (no dimension rule, so the compiler stops at them).
 */
final class Sources {
    private Sources() {}

    /** A graph input named {@code name}, bound when the program runs. */
    record Input(String name, DType dtype, int[] shape) {}

    /** A tensor captured at trace time (a weight); never counted as activation memory. */
    record Param(String name, Tensor value) {}

    /** A user function of the operands, said to return {@code dtype} {@code shape}. */
    record Custom(String name, Function<Tensor[], Tensor> fn, DType dtype, int[] shape) {}

    static final OpDef<Input> INPUT = new Source<>("input", Input.class) {
        @Override
        public Output infer(Input attrs, Operand... in) {
            return new Output(attrs.dtype(), attrs.shape().clone());
        }
    };

    static final OpDef<Param> PARAM = new Source<>("param", Param.class) {
        @Override
        public Output infer(Param attrs, Operand... in) {
            return new Output(attrs.value().dtype(), attrs.value().shape());
        }
    };

    static final OpDef<Custom> CUSTOM = new OpDef<>("custom", "custom", Custom.class) {
        @Override
        public Output infer(Custom attrs, Operand... in) {
            return new Output(attrs.dtype(), attrs.shape().clone());
        }

        @Override
        public Tensor run(Backend backend, Custom attrs, Tensor... in) {
            return attrs.fn().apply(in);
        }

        @Override
        public int[] flow(Custom attrs, Operand[] in, int[] outShape, int d) {
            throw new UnsupportedOperationException("AutoChunk has no dimension rule for custom op '" + attrs.name() + "'");
        }
    };

    /** Inputs and parameters hold no computation. */
    private abstract static class Source<A extends Record> extends OpDef<A> {
        Source(String name, Class<A> attrsType) {
            super(name, name, attrsType);
        }

        @Override
        public Tensor run(Backend backend, A attrs, Tensor... in) {
            throw new IllegalStateException(name() + " " + attrs + " is not computed");
        }

        @Override
        public int[] flow(A attrs, Operand[] in, int[] outShape, int d) {
            return new int[0];
        }
    }
}
