package dev.corvus.chunking.models;

import dev.corvus.chunking.Graph;
import dev.corvus.chunking.Node;
import dev.corvus.chunking.Tracer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;

/**
 * A ViT encoder stack, traced for AutoChunk, over patch embeddings x [B, T, C] (the patch
 * convolution is left out: its output is the input here). Per layer: LayerNorm, Q/K/V with biases,
 * non-causal attention (scores materialised with softmax, or flash), output projection and
 * residual, LayerNorm, GELU MLP (C -> 4C -> C) and residual.
 */
public final class VitEncoder {
    /**
     * @param layers    encoder layers
     * @param batch     images B
     * @param patches   tokens per image T
     * @param dim       width C
     * @param heads     attention heads (dividing C)
     * @param flash     flash attention instead of materialised scores
     */
    public record Config(int layers, int batch, int patches, int dim, int heads, boolean flash) {
        public Config {
            if (layers < 1 || batch < 1 || patches < 1 || dim < 1 || heads < 1) throw new IllegalArgumentException("VitEncoder: sizes must be positive: " + this);
            if (dim % heads != 0) throw new IllegalArgumentException("VitEncoder: " + heads + " heads do not divide width " + dim);
        }

        public int headDim() {
            return dim / heads;
        }

        public Config withPatches(int t) {
            return new Config(layers, batch, t, dim, heads, flash);
        }
    }

    private VitEncoder() {}

    /** The encoder with one input "x" [batch, patches, dim]; weights (seeded) are allocated in {@code weights}. */
    public static Graph trace(Config c, MemoryScope weights, long seed) {
        Tracer t = new Tracer();
        Weights w = new Weights(t, weights, seed);
        int b = c.batch(), n = c.patches(), dim = c.dim(), h = c.heads(), d = c.headDim();
        float scale = (float) (1 / Math.sqrt(d));
        Node x = t.input("x", b, n, dim);
        for (int l = 0; l < c.layers(); l++) {
            String p = "l" + l + ".";
            Node xn = t.layernorm(x, w.gain(p + "norm1_w", dim), w.bias(p + "norm1_b", dim), 1e-6f);
            Node q = heads(t, t.linear(xn, w.linear(p + "wq", dim, dim), w.bias(p + "bq", dim)), b, n, h, d);
            Node k = heads(t, t.linear(xn, w.linear(p + "wk", dim, dim), w.bias(p + "bk", dim)), b, n, h, d);
            Node v = heads(t, t.linear(xn, w.linear(p + "wv", dim, dim), w.bias(p + "bv", dim)), b, n, h, d);
            Node o = c.flash() // [B, H, T, D]
                    ? t.attention(q, k, v, false, scale)
                    : t.matmul(t.softmax(t.scale(t.matmul(q, t.transpose(k, 2, 3)), scale), -1), v);
            Node merged = t.reshape(t.permute(o, 0, 2, 1, 3), b, n, dim);
            x = t.add(x, t.linear(merged, w.linear(p + "wo", dim, dim), w.bias(p + "bo", dim)));
            Node hn = t.layernorm(x, w.gain(p + "norm2_w", dim), w.bias(p + "norm2_b", dim), 1e-6f);
            Node hidden = t.gelu(t.linear(hn, w.linear(p + "fc1", 4 * dim, dim), w.bias(p + "fc1_b", 4 * dim)), false);
            x = t.add(x, t.linear(hidden, w.linear(p + "fc2", dim, 4 * dim), w.bias(p + "fc2_b", dim)));
        }
        return t.build(x);
    }

    /** [B, T, C] to [B, H, T, D]. */
    private static Node heads(Tracer t, Node x, int b, int n, int h, int d) {
        return t.permute(t.reshape(x, b, n, h, d), 0, 2, 1, 3);
    }

    /** Random patch embeddings x [batch, patches, dim] in {@code scope}. */
    public static Tensor input(Config c, MemoryScope scope, long seed) {
        return Tensor.randn(scope, seed, 1f, c.batch(), c.patches(), c.dim());
    }
}
