package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Tensor;

/**
 * {@link dev.corvus.tensor.Ops#convert}: a contiguous copy converted to {@code target} (F32, F16,
 * BF16 between each other; quantised types to F32; F32 to Q8_0; I32 only to itself).
 */
public record Convert(DType target) {
    public static final OpDef<Convert> OP = new Def();

    public Convert {
        java.util.Objects.requireNonNull(target, "target");
    }

    /** What to do instead of quantising to a type Corvus has no quantiser for. */
    public static final String QUANTISE_ELSEWHERE = "Corvus quantises only to Q8_0; make other types with llama.cpp's llama-quantize "
            + "(e.g. llama-quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M) and load the result";

    /** The conversions every copy refuses, named after the front end {@code op} the user called. */
    static void checkConversion(String op, DType from, DType to) {
        if ((from == DType.I32) != (to == DType.I32)) {
            throw new IllegalArgumentException(op + ": cannot convert " + from + " to " + to + " (I32 holds indices, not values)");
        }
        if (to.isQuantized() && to != DType.Q8_0 && from != to) {
            throw new UnsupportedOperationException(op + ": cannot quantise " + from + " to " + to + "; " + QUANTISE_ELSEWHERE);
        }
    }

    /** Quantised types only talk to F32: other pairs with one go through it. */
    private static boolean throughF32(DType from, DType to) {
        return (to.isQuantized() && from != DType.F32) || (from.isQuantized() && to != DType.F32);
    }

    private static final class Def extends OpDef<Convert> {
        Def() {
            super("convert", "Ops.convert", Convert.class);
        }

        @Override
        public String label(Convert attrs) {
            return "convert to " + attrs.target();
        }

        @Override
        public Output infer(Convert attrs, Operand... in) {
            checkConversion("convert", in[0].dtype(), attrs.target());
            if (in[0].dtype() == attrs.target()) return Copy.OP.infer(Copy.ATTRS, in);
            return new Output(attrs.target(), in[0].shape());
        }

        @Override
        public Tensor run(Backend be, Convert attrs, Tensor... in) {
            Output o = infer(attrs, in);
            Tensor x = in[0];
            if (x.dtype() == attrs.target()) return Copy.OP.run(be, Copy.ATTRS, x);
            Tensor src = throughF32(x.dtype(), attrs.target()) ? run(be, new Convert(DType.F32), x) : x;
            Tensor out = OpSupport.newOutput(be, x, o.dtype(), o.shape());
            be.copy(src, out);
            return out;
        }

        /** The gradient passes through the rounding (straight through), in F32 as every gradient. */
        @Override
        public Backward<Convert> backward() {
            return (attrs, in, out, g) -> new Tensor[] {g.dtype() == DType.F32 ? g : run(OpSupport.backend("convert", g), new Convert(DType.F32), g)};
        }

        @Override
        public int[] flow(Convert attrs, Operand[] in, int[] outShape, int d) {
            // a quantised side is cut in whole blocks only, along its last dim
            if (d == outShape.length - 1 && (attrs.target().isQuantized() || in[0].dtype().isQuantized())) return null;
            return new int[] {d};
        }

        @Override
        public long scratchBytes(Convert attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            return throughF32(dtypes[0], attrs.target()) ? DType.F32.byteSize(in[0].numel()) : 0;
        }
    }
}
