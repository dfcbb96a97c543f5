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

        @Override
        public Backward<LayerNorm> backward() {
            // Per row, x̂ = (x - μ)·s with s = 1/sqrt(var + eps), h = g·w:
            // dx = s·(h - mean(h) - x̂·mean(h·x̂)),  dw = Σ_rows g·x̂,  dbias = Σ_rows g.
            return (attrs, in, out, g) -> {
                int[] rc = Grads.rowsAndColumns(in[0]);
                int rows = rc[0], c = rc[1];
                float[] x = in[0].toFloatArray(), gs = g.toFloatArray(), w = attrs.hasWeight() ? in[1].toFloatArray() : null;
                float[] dx = new float[x.length];
                double[] dw = new double[c], db = new double[c];
                double[] xhat = new double[c];
                for (int r = 0; r < rows; r++) {
                    int o = r * c;
                    double mean = 0;
                    for (int j = 0; j < c; j++) mean += x[o + j];
                    mean /= c;
                    double variance = 0;
                    for (int j = 0; j < c; j++) variance += (x[o + j] - mean) * (x[o + j] - mean);
                    double s = 1 / Math.sqrt(variance / c + attrs.eps());
                    double hMean = 0, hxMean = 0;
                    for (int j = 0; j < c; j++) {
                        xhat[j] = (x[o + j] - mean) * s;
                        double h = gs[o + j] * (w == null ? 1 : w[j]);
                        hMean += h;
                        hxMean += h * xhat[j];
                        dw[j] += gs[o + j] * xhat[j];
                        db[j] += gs[o + j];
                    }
                    hMean /= c;
                    hxMean /= c;
                    for (int j = 0; j < c; j++) dx[o + j] = (float) (s * (gs[o + j] * (w == null ? 1 : w[j]) - hMean - xhat[j] * hxMean));
                }
                Tensor[] grads = new Tensor[in.length];
                grads[0] = Grads.like(dx, in[0]);
                if (attrs.hasWeight()) grads[1] = Grads.like(NormDef.toFloats(dw), in[1]);
                if (attrs.hasBias()) grads[in.length - 1] = Grads.like(NormDef.toFloats(db), in[in.length - 1]);
                return grads;
            };
        }
    };
}
