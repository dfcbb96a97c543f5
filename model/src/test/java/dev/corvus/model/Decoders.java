package dev.corvus.model;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Tiny random decoders of every {@link Architecture} (awkward sizes, GQA, head size != dim/heads
 * where the family allows it, every optional part the family has), and an independent naive
 * forward pass over plain float arrays, one token at a time, that knows every feature: biases,
 * q/k norms, post norms, both RoPE styles with frequency factors, linear scaling and magnitude,
 * sliding windows, soft-capping, embedding scale, SiLU and GELU-tanh gates.
 */
final class Decoders {
    private Decoders() {}

    /** A small config for {@code arch}; the numbers follow each family's GGUF rules so it round-trips through the writer. */
    static LlamaConfig config(Architecture arch) {
        return switch (arch) {
            // Llama 3 style: GQA, rope_freqs factors (in the weights), untied classifier
            case LLAMA -> build(arch, 48, 56, 3, 6, 2, 8, 37, 64, 500000f, 1e-5f, false, 1f, 1f, 0, 0, 0f, 0f);
            // Qwen2: QKV biases, output bias, linear RoPE scaling (factor 4)
            case QWEN2 -> build(arch, 36, 50, 2, 3, 1, 12, 41, 64, 1000000f, 1e-6f, false, 0.25f, 1f, 0, 0, 0f, 0f);
            // Qwen3: per-head q/k norms, head size 14 with dim 40 / 4 heads = 10
            case QWEN3 -> build(arch, 40, 44, 2, 4, 2, 14, 33, 64, 1000000f, 1e-6f, true, 1f, 1f, 0, 0, 0f, 0f);
            // Phi-3: fused qkv and gate|up, long/short factors with an attention factor, original context 16
            case PHI3 -> build(arch, 48, 44, 2, 4, 4, 12, 35, 64, 10000f, 1e-5f, false, 1f, 1.19f, 16, 0, 0f, 0f);
            // Gemma 2: head size 16 (dim/heads 8), every other layer sliding (window 3), both soft-caps
            case GEMMA2 -> build(arch, 32, 40, 4, 4, 2, 16, 29, 64, 10000f, 1e-6f, true, 1f, 1f, 0, 3, 5f, 3f);
            // Gemma 3: layers 0-4 sliding (window 4, base 10000), layer 5 global (base 1e6, linear factor 8), final soft-cap
            case GEMMA3 -> build(arch, 48, 40, 6, 3, 1, 20, 31, 64, 1000000f, 1e-6f, true, 0.125f, 1f, 0, 4, 0f, 10f);
        };
    }

    private static LlamaConfig build(Architecture arch, int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab,
            int seqLen, float theta, float eps, boolean shared, float ropeScale, float magnitude, int originalContext, int window,
            float attentionSoftcap, float finalSoftcap) {
        List<Boolean> sliding = new ArrayList<>();
        int period = arch == Architecture.GEMMA3 ? 6 : 2;
        for (int l = 0; l < layers; l++) sliding.add(window > 0 && l % period < period - 1);
        boolean gemma = arch == Architecture.GEMMA2 || arch == Architecture.GEMMA3;
        float thetaSliding = arch == Architecture.GEMMA3 ? 10000f : theta;
        float scaleSliding = arch == Architecture.GEMMA3 ? 1f : ropeScale;
        return new LlamaConfig(dim, hidden, layers, heads, kvHeads, vocab, seqLen, theta, eps, arch.ropeStyle(), shared,
                arch, headDim, arch.activation(), ropeScale, thetaSliding, scaleSliding, magnitude, originalContext == 0 ? seqLen : originalContext,
                window, sliding, (float) (1 / Math.sqrt(headDim)), attentionSoftcap, finalSoftcap, gemma ? (float) Math.sqrt(dim) : 1f);
    }

    /** Random weights with every part {@code c.architecture()} carries: matrices ~ N(0, 1/in), norms ~ 1 + N(0, 0.1²), biases ~ N(0, 0.1²). */
    static LlamaWeights randomWeights(MemoryScope scope, LlamaConfig c, long seed) {
        Architecture a = c.architecture();
        int dim = c.dim(), q = c.qDim(), kv = c.kvDim(), hidden = c.hiddenDim(), hd = c.headDim();
        Tensor emb = Tensor.randn(scope, seed, 1f, c.vocabSize(), dim);
        List<LlamaWeights.Layer> layers = new ArrayList<>();
        boolean qkvBias = a == Architecture.QWEN2 || a == Architecture.PHI3;
        for (int l = 0; l < c.layers(); l++) {
            long s = seed + 100L * (l + 1);
            layers.add(new LlamaWeights.Layer(norm(scope, s, dim), matrix(scope, s + 1, q, dim), matrix(scope, s + 2, kv, dim),
                    matrix(scope, s + 3, kv, dim), matrix(scope, s + 4, dim, q), norm(scope, s + 5, dim),
                    matrix(scope, s + 6, hidden, dim), matrix(scope, s + 7, dim, hidden), matrix(scope, s + 8, hidden, dim),
                    qkvBias ? bias(scope, s + 9, q) : null, qkvBias ? bias(scope, s + 10, kv) : null, qkvBias ? bias(scope, s + 11, kv) : null,
                    a.qkNorm() ? norm(scope, s + 12, hd) : null, a.qkNorm() ? norm(scope, s + 13, hd) : null,
                    a.llamaBiases() ? bias(scope, s + 14, dim) : null, a.postNorms() ? norm(scope, s + 15, dim) : null,
                    a.llamaBiases() ? bias(scope, s + 16, hidden) : null, a.llamaBiases() ? bias(scope, s + 17, dim) : null,
                    a.llamaBiases() ? bias(scope, s + 18, hidden) : null, a.postNorms() ? norm(scope, s + 19, dim) : null));
        }
        Tensor classifier = c.sharedClassifier() ? emb : matrix(scope, seed + 9, c.vocabSize(), dim);
        Tensor classifierBias = a.outputBias() ? bias(scope, seed + 11, c.vocabSize()) : null;
        Tensor factors = a == Architecture.LLAMA || a == Architecture.PHI3 ? factors(scope, seed + 12, hd / 2) : null;
        Tensor longFactors = a == Architecture.PHI3 ? factors(scope, seed + 13, hd / 2) : null;
        return new LlamaWeights(emb, layers, norm(scope, seed + 10, dim), classifier, classifierBias, factors, longFactors);
    }

    private static Tensor matrix(MemoryScope scope, long seed, int out, int in) {
        return Tensor.randn(scope, seed, (float) (1 / Math.sqrt(in)), out, in);
    }

    private static Tensor norm(MemoryScope scope, long seed, int n) {
        float[] v = Tensor.randn(scope, seed, 0.1f, n).toFloatArray();
        for (int i = 0; i < n; i++) v[i] += 1;
        return Tensor.of(scope, v, n);
    }

    private static Tensor bias(MemoryScope scope, long seed, int n) {
        return Tensor.randn(scope, seed, 0.1f, n);
    }

    /** Divisors in [1, 9): high-frequency pairs barely changed, low ones slowed, like Llama 3's rope_freqs. */
    private static Tensor factors(MemoryScope scope, long seed, int n) {
        float[] v = Tensor.randn(scope, seed, 1f, n).toFloatArray();
        for (int i = 0; i < n; i++) v[i] = 1 + 8f * i / n + 0.1f * Math.abs(v[i]);
        return Tensor.of(scope, v, n);
    }

    // ---------------------------------------------------------------- naive reference

    /** Logits after each of {@code tokens}, token by token; {@code longRope}: rotate with the long factors. */
    static float[][] naiveLogits(LlamaConfig c, LlamaWeights tw, int[] tokens, boolean longRope) {
        int dim = c.dim(), hd = c.headDim(), heads = c.heads(), group = c.heads() / c.kvHeads(), kvDim = c.kvDim();
        float eps = c.normEps();
        float[] emb = tw.tokenEmbedding().toFloatArray(), cls = tw.classifier().toFloatArray(), fin = tw.finalNorm().toFloatArray();
        float[] clsBias = floats(tw.classifierBias());
        float[] factors = floats(longRope && tw.ropeFactorsLong() != null ? tw.ropeFactorsLong() : tw.ropeFactors());
        int L = c.layers();
        float[][][] k = new float[L][tokens.length][], v = new float[L][tokens.length][];
        float[][] logits = new float[tokens.length][];
        for (int pos = 0; pos < tokens.length; pos++) {
            float[] x = new float[dim];
            for (int i = 0; i < dim; i++) x[i] = emb[tokens[pos] * dim + i] * c.embeddingScale();
            for (int l = 0; l < L; l++) {
                LlamaWeights.Layer w = tw.layers().get(l);
                boolean sliding = c.isSliding(l);
                float[] xb = rmsnorm(x, 0, dim, w.attentionNorm().toFloatArray(), eps);
                float[] q = affine(w.wq(), w.bq(), xb);
                k[l][pos] = affine(w.wk(), w.bk(), xb);
                v[l][pos] = affine(w.wv(), w.bv(), xb);
                if (w.qNorm() != null) q = headNorm(q, hd, w.qNorm().toFloatArray(), eps);
                if (w.kNorm() != null) k[l][pos] = headNorm(k[l][pos], hd, w.kNorm().toFloatArray(), eps);
                double theta = sliding ? c.ropeThetaSliding() : c.ropeTheta(), scale = sliding ? c.ropeScaleSliding() : c.ropeScale();
                rope(q, pos, hd, theta, scale, factors, c.ropeMagnitude(), c.architecture() == Architecture.LLAMA);
                rope(k[l][pos], pos, hd, theta, scale, factors, c.ropeMagnitude(), c.architecture() == Architecture.LLAMA);
                float[] att = new float[heads * hd];
                for (int h = 0; h < heads; h++) {
                    int kvOff = (h / group) * hd;
                    int first = sliding ? Math.max(0, pos - c.slidingWindow() + 1) : 0;
                    double[] score = new double[pos + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = first; t <= pos; t++) {
                        double s = 0;
                        for (int d = 0; d < hd; d++) s += (double) q[h * hd + d] * k[l][t][kvOff + d];
                        s *= c.attentionScale();
                        if (c.attentionSoftcap() != 0) s = c.attentionSoftcap() * Math.tanh(s / c.attentionSoftcap());
                        score[t] = s;
                        max = Math.max(max, s);
                    }
                    double sum = 0;
                    for (int t = first; t <= pos; t++) sum += score[t] = Math.exp(score[t] - max);
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int t = first; t <= pos; t++) acc += score[t] / sum * v[l][t][kvOff + d];
                        att[h * hd + d] = (float) acc;
                    }
                }
                float[] o = affine(w.wo(), w.bo(), att);
                if (w.attentionPostNorm() != null) o = rmsnorm(o, 0, dim, w.attentionPostNorm().toFloatArray(), eps);
                add(x, o);
                xb = rmsnorm(x, 0, dim, w.ffnNorm().toFloatArray(), eps);
                float[] g = affine(w.w1(), w.b1(), xb), u = affine(w.w3(), w.b3(), xb);
                for (int i = 0; i < g.length; i++) {
                    double z = g[i];
                    double act = c.activation() == LlamaConfig.Activation.SILU ? z / (1 + Math.exp(-z))
                            : 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
                    g[i] = (float) (act * u[i]);
                }
                float[] m = affine(w.w2(), w.b2(), g);
                if (w.ffnPostNorm() != null) m = rmsnorm(m, 0, dim, w.ffnPostNorm().toFloatArray(), eps);
                add(x, m);
            }
            float[] out = TinyLlama.matvec(cls, rmsnorm(x, 0, dim, fin, eps), c.vocabSize());
            for (int i = 0; i < out.length; i++) {
                double z = out[i] + (clsBias == null ? 0 : clsBias[i]);
                if (c.finalSoftcap() != 0) z = c.finalSoftcap() * Math.tanh(z / c.finalSoftcap());
                out[i] = (float) z;
            }
            logits[pos] = out;
        }
        return logits;
    }

    private static float[] floats(Tensor t) {
        return t == null ? null : t.toFloatArray();
    }

    private static float[] affine(Tensor w, Tensor b, float[] x) {
        float[] y = TinyLlama.matvec(w.toFloatArray(), x, w.size(0));
        if (b != null) {
            float[] bias = b.toFloatArray();
            for (int i = 0; i < y.length; i++) y[i] += bias[i];
        }
        return y;
    }

    private static float[] rmsnorm(float[] x, int from, int n, float[] w, float eps) {
        double ss = 0;
        for (int i = from; i < from + n; i++) ss += (double) x[i] * x[i];
        double inv = 1 / Math.sqrt(ss / n + eps);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = (float) (x[from + i] * inv * w[i]);
        return out;
    }

    /** RMSNorm of every head of x separately. */
    private static float[] headNorm(float[] x, int hd, float[] w, float eps) {
        float[] out = new float[x.length];
        for (int h = 0; h < x.length / hd; h++) System.arraycopy(rmsnorm(x, h * hd, hd, w, eps), 0, out, h * hd, hd);
        return out;
    }

    /**
     * Rotates every head's pair i by pos · scale · theta^(-2i/hd) / factor_i, cos and sin times
     * {@code magnitude}: pairs (2i, 2i+1) when {@code interleaved}, else (i, i + hd/2).
     */
    private static void rope(float[] v, int pos, int hd, double theta, double scale, float[] factors, double magnitude, boolean interleaved) {
        int half = hd / 2;
        for (int h = 0; h < v.length / hd; h++) {
            for (int i = 0; i < half; i++) {
                double angle = pos * scale * Math.pow(theta, -2.0 * i / hd) / (factors == null ? 1 : factors[i]);
                double cs = Math.cos(angle) * magnitude, sn = Math.sin(angle) * magnitude;
                int i0 = h * hd + (interleaved ? 2 * i : i), i1 = h * hd + (interleaved ? 2 * i + 1 : i + half);
                double a = v[i0], b = v[i1];
                v[i0] = (float) (a * cs - b * sn);
                v[i1] = (float) (a * sn + b * cs);
            }
        }
    }

    private static void add(float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }
}
