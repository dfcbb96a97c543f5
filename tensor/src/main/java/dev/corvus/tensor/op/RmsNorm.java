package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Tensor;

/** x / sqrt(mean(x²) + eps) * weight along the last dimension; operands x and an optional weight [C]. */
public record RmsNorm(float eps) {
    public static final OpDef<RmsNorm> OP = new NormDef<>("rmsnorm", "Ops.rmsnorm", RmsNorm.class) {
        @Override
        public Output infer(RmsNorm attrs, Operand... in) {
            return check(attrs.eps(), in, "weight");
        }

        @Override
        public Tensor run(Backend be, RmsNorm attrs, Tensor... in) {
            infer(attrs, in);
            Tensor x = OpSupport.f32("rmsnorm", in[0]);
            Tensor out = OpSupport.newOutput(be, x, DType.F32, x.shape());
            be.rmsnorm(x, in.length > 1 ? OpSupport.f32("rmsnorm", in[1]) : null, attrs.eps(), out);
            return out;
        }
    };
}
