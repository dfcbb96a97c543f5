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

        @Override
        public Backward<RmsNorm> backward() {
            // Per row, r = 1/sqrt(mean(x²) + eps), y = x·r·w:
            // dx = r·g·w - x·r³·Σ(g·w·x)/C,  dw = Σ_rows g·x·r.
            return (attrs, in, out, g) -> {
                int[] rc = Grads.rowsAndColumns(in[0]);
                int rows = rc[0], c = rc[1];
                float[] x = in[0].toFloatArray(), gs = g.toFloatArray(), w = in.length > 1 ? in[1].toFloatArray() : null;
                float[] dx = new float[x.length];
                double[] dw = new double[c];
                for (int r = 0; r < rows; r++) {
                    int o = r * c;
                    double squares = 0, dot = 0;
                    for (int j = 0; j < c; j++) {
                        squares += (double) x[o + j] * x[o + j];
                        dot += (double) gs[o + j] * (w == null ? 1 : w[j]) * x[o + j];
                    }
                    double inv = 1 / Math.sqrt(squares / c + attrs.eps());
                    double coefficient = inv * inv * inv * dot / c;
                    for (int j = 0; j < c; j++) {
                        dx[o + j] = (float) (inv * gs[o + j] * (w == null ? 1 : w[j]) - x[o + j] * coefficient);
                        dw[j] += gs[o + j] * x[o + j] * inv;
                    }
                }
                Tensor dX = Grads.like(dx, in[0]);
                return w == null ? new Tensor[] {dX} : new Tensor[] {dX, Grads.like(NormDef.toFloats(dw), in[1])};
            };
        }
    };
}
