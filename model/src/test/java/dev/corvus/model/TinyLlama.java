package dev.corvus.model;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Small random Llama models for tests that need no checkpoint, and a naive reference forward pass
 * written with plain float loops (llama2.c's run.c, one token at a time) to check
 * {@link LlamaModel} against.
 */
final class TinyLlama {
    private TinyLlama() {}

    static LlamaConfig config(int heads, int kvHeads) {
        // dim and hidden are multiples of 32 so every matrix can also be Q8_0
        return new LlamaConfig(64, 96, 2, heads, kvHeads, 50, 24, 10000f, 1e-5f, RopeStyle.INTERLEAVED, true);
    }

    /** Random weights in {@code scope}: matrices ~ N(0, 1/in), norms ~ 1 + N(0, 0.1²). */
    static LlamaWeights randomWeights(MemoryScope scope, LlamaConfig c, long seed) {
        Tensor emb = Tensor.randn(scope, seed, 1f, c.vocabSize(), c.dim());
        List<LlamaWeights.Layer> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            long s = seed + 100L * (l + 1);
            layers.add(new LlamaWeights.Layer(norm(scope, s, c.dim()),
                    matrix(scope, s + 1, c.dim(), c.dim()), matrix(scope, s + 2, c.kvDim(), c.dim()),
                    matrix(scope, s + 3, c.kvDim(), c.dim()), matrix(scope, s + 4, c.dim(), c.dim()),
                    norm(scope, s + 5, c.dim()),
                    matrix(scope, s + 6, c.hiddenDim(), c.dim()), matrix(scope, s + 7, c.dim(), c.hiddenDim()),
                    matrix(scope, s + 8, c.hiddenDim(), c.dim())));
        }
        Tensor classifier = c.sharedClassifier() ? emb : matrix(scope, seed + 9, c.vocabSize(), c.dim());
        return new LlamaWeights(emb, layers, norm(scope, seed + 10, c.dim()), classifier);
    }

    private static Tensor matrix(MemoryScope scope, long seed, int out, int in) {
        return Tensor.randn(scope, seed, (float) (1 / Math.sqrt(in)), out, in);
    }

    private static Tensor norm(MemoryScope scope, long seed, int n) {
        float[] v = Tensor.randn(scope, seed, 0.1f, n).toFloatArray();
        for (int i = 0; i < n; i++) v[i] += 1;
        return Tensor.of(scope, v, n);
    }

    /** The same weights with every matrix (embedding and classifier included) passed through {@code f}; norms kept. */
    static LlamaWeights mapMatrices(LlamaWeights w, UnaryOperator<Tensor> f) {
        return w.mapMatrices(f);
    }

    /** Q8_0 copies of every matrix, in the current scope. */
    static LlamaWeights quantized(LlamaWeights w) {
        return mapMatrices(w, t -> Ops.convert(t, DType.Q8_0));
    }

    // ---------------------------------------------------------------- naive reference (float loops, one token at a time)

    /** Logits after each of {@code tokens}, computed token by token with a KV cache in float arrays. */
    static float[][] naiveLogits(LlamaConfig c, LlamaWeights tw, int[] tokens) {
        int dim = c.dim(), hd = c.headDim(), kvDim = c.kvDim(), group = c.heads() / c.kvHeads();
        float[] emb = tw.tokenEmbedding().toFloatArray(), cls = tw.classifier().toFloatArray(), fin = tw.finalNorm().toFloatArray();
        int L = c.layers();
        float[][][] k = new float[L][tokens.length][], v = new float[L][tokens.length][];
        float[][] logits = new float[tokens.length][];
        for (int pos = 0; pos < tokens.length; pos++) {
            float[] x = new float[dim];
            System.arraycopy(emb, tokens[pos] * dim, x, 0, dim);
            for (int l = 0; l < L; l++) {
                LlamaWeights.Layer w = tw.layers().get(l);
                float[] xb = rmsnorm(x, w.attentionNorm().toFloatArray(), c.normEps());
                float[] q = matvec(w.wq().toFloatArray(), xb, dim);
                k[l][pos] = matvec(w.wk().toFloatArray(), xb, kvDim);
                v[l][pos] = matvec(w.wv().toFloatArray(), xb, kvDim);
                rope(q, pos, hd, c.ropeTheta());
                rope(k[l][pos], pos, hd, c.ropeTheta());
                float[] att = new float[dim];
                for (int h = 0; h < c.heads(); h++) {
                    int kvOff = (h / group) * hd;
                    double[] score = new double[pos + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t <= pos; t++) {
                        double s = 0;
                        for (int d = 0; d < hd; d++) s += (double) q[h * hd + d] * k[l][t][kvOff + d];
                        score[t] = s / Math.sqrt(hd);
                        max = Math.max(max, score[t]);
                    }
                    double sum = 0;
                    for (int t = 0; t <= pos; t++) sum += score[t] = Math.exp(score[t] - max);
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int t = 0; t <= pos; t++) acc += score[t] / sum * v[l][t][kvOff + d];
                        att[h * hd + d] = (float) acc;
                    }
                }
                add(x, matvec(w.wo().toFloatArray(), att, dim));
                xb = rmsnorm(x, w.ffnNorm().toFloatArray(), c.normEps());
                float[] g = matvec(w.w1().toFloatArray(), xb, c.hiddenDim()), u = matvec(w.w3().toFloatArray(), xb, c.hiddenDim());
                for (int i = 0; i < g.length; i++) g[i] = (float) (g[i] / (1 + Math.exp(-g[i])) * u[i]);
                add(x, matvec(w.w2().toFloatArray(), g, dim));
            }
            logits[pos] = matvec(cls, rmsnorm(x, fin, c.normEps()), c.vocabSize());
        }
        return logits;
    }

    private static float[] rmsnorm(float[] x, float[] w, float eps) {
        double ss = 0;
        for (float f : x) ss += (double) f * f;
        double inv = 1 / Math.sqrt(ss / x.length + eps);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = (float) (x[i] * inv * w[i]);
        return out;
    }

    /** w [rows, x.length] times x, accumulated in double: the naive references' one matrix-vector product. */
    static float[] matvec(float[] w, float[] x, int rows) {
        float[] out = new float[rows];
        for (int r = 0; r < rows; r++) {
            double acc = 0;
            for (int j = 0; j < x.length; j++) acc += (double) w[r * x.length + j] * x[j];
            out[r] = (float) acc;
        }
        return out;
    }

    /** Rotates pairs (2i, 2i+1) of every head by pos · theta^(-2i/headDim). */
    private static void rope(float[] v, int pos, int hd, float theta) {
        for (int i = 0; i < v.length; i += 2) {
            int pair = (i % hd) / 2;
            double angle = pos * Math.pow(theta, -2.0 * pair / hd);
            double c = Math.cos(angle), s = Math.sin(angle), a = v[i], b = v[i + 1];
            v[i] = (float) (a * c - b * s);
            v[i + 1] = (float) (a * s + b * c);
        }
    }

    private static void add(float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }
}
