package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Tensor;

/**
 * (x - mean) / sqrt(var + eps) * weight + bias along the last dimension. The operands are x, then
 * the weight [C] if {@code hasWeight}, then the bias [C] if {@code hasBias}.
 */
public record LayerNorm(float eps, boolean hasWeight, boolean hasBias) {
    public static final OpDef<LayerNorm> OP = new NormDef<>("layernorm", "Ops.layernorm", LayerNorm.class) {
        @Override
        public Output infer(LayerNorm attrs, Operand... in) {
            int expected = 1 + (attrs.hasWeight() ? 1 : 0) + (attrs.hasBias() ? 1 : 0);
            if (in.length != expected) {
                throw new IllegalArgumentException("layernorm: " + in.length + " operands for " + attrs + ", expected " + expected);
            }
            return attrs.hasWeight() ? check(attrs.eps(), in, "weight", "bias") : check(attrs.eps(), in, "bias");
        }

        @Override
        public Tensor run(Backend be, LayerNorm attrs, Tensor... in) {
            infer(attrs, in);
            Tensor x = OpSupport.f32("layernorm", in[0]);
            Tensor weight = attrs.hasWeight() ? OpSupport.f32("layernorm", in[1]) : null;
            Tensor bias = attrs.hasBias() ? OpSupport.f32("layernorm", in[in.length - 1]) : null;
            Tensor out = OpSupport.newOutput(be, x, DType.F32, x.shape());
            be.layernorm(x, weight, bias, attrs.eps(), out);
            return out;
        }
    };
}
