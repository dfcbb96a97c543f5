package dev.corvus.chunking.models;

import dev.corvus.chunking.Graph;
import dev.corvus.chunking.Node;
import dev.corvus.chunking.Tracer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;

/**
 * A Llama-style decoder layer stack in prefill, traced for AutoChunk: input x [T, C], and per
 * layer RMSNorm, Q/K/V projections, RoPE, causal attention (the N x N scores materialised, or
 * flash attention), output projection and residual, RMSNorm, SwiGLU MLP and residual.
 *
 * <pre>{@code
 * var c = new TransformerStack.Config(2, 256, 4, 688, 4096, TransformerStack.Attention.FLASH);
 * Graph g = TransformerStack.trace(c, weights, 1);
 * Tensor x = TransformerStack.input(c, scope, 2);
 * }</pre>
 */
public final class TransformerStack {
    /** How attention runs: scores materialised through matmul and causal softmax, or flash. */
    public enum Attention {
        MATERIALISED,
        FLASH
    }

    /**
     * @param layers    decoder layers
     * @param dim       model width C
     * @param heads     attention heads (dividing C)
     * @param hidden    SwiGLU hidden width
     * @param seq       sequence length T (prefill tokens)
     * @param attention how attention runs
     */
    public record Config(int layers, int dim, int heads, int hidden, int seq, Attention attention) {
        public Config {
            if (layers < 1 || dim < 1 || heads < 1 || hidden < 1 || seq < 1) throw new IllegalArgumentException("TransformerStack: sizes must be positive: " + this);
            if (dim % heads != 0 || (dim / heads) % 2 != 0) {
                throw new IllegalArgumentException("TransformerStack: " + heads + " heads must divide width " + dim + " into even head dimensions");
            }
        }

        public int headDim() {
            return dim / heads;
        }

        public Config withSeq(int n) {
            return new Config(layers, dim, heads, hidden, n, attention);
        }
    }

    private TransformerStack() {}

    /** The stack as a graph with one input "x" [seq, dim]; weights (seeded) are allocated in {@code weights}. */
    public static Graph trace(Config c, MemoryScope weights, long seed) {
        Tracer t = new Tracer();
        Weights w = new Weights(t, weights, seed);
        int n = c.seq(), dim = c.dim(), h = c.heads(), d = c.headDim();
        float scale = (float) (1 / Math.sqrt(d));
        Node x = t.input("x", n, dim);
        for (int l = 0; l < c.layers(); l++) {
            String p = "l" + l + ".";
            Node xn = t.rmsnorm(x, w.gain(p + "attn_norm", dim), 1e-5f);
            Node q = t.rope(heads(t, t.linear(xn, w.linear(p + "wq", dim, dim), null), n, h, d), 1, 0, 10000, RopeStyle.HALF_SPLIT);
            Node k = t.rope(heads(t, t.linear(xn, w.linear(p + "wk", dim, dim), null), n, h, d), 1, 0, 10000, RopeStyle.HALF_SPLIT);
            Node v = heads(t, t.linear(xn, w.linear(p + "wv", dim, dim), null), n, h, d);
            Node o = switch (c.attention()) { // [H, T, D]
                case MATERIALISED -> t.matmul(t.causalSoftmax(t.scale(t.matmul(q, t.transpose(k, 1, 2)), scale)), v);
                case FLASH -> t.reshape(t.attention(t.reshape(q, 1, h, n, d), t.reshape(k, 1, h, n, d), t.reshape(v, 1, h, n, d), true, scale), h, n, d);
            };
            Node merged = t.reshape(t.permute(o, 1, 0, 2), n, dim);
            x = t.add(x, t.linear(merged, w.linear(p + "wo", dim, dim), null));
            Node hn = t.rmsnorm(x, w.gain(p + "mlp_norm", dim), 1e-5f);
            Node gate = t.silu(t.linear(hn, w.linear(p + "w1", c.hidden(), dim), null));
            Node up = t.linear(hn, w.linear(p + "w3", c.hidden(), dim), null);
            x = t.add(x, t.linear(t.mul(gate, up), w.linear(p + "w2", dim, c.hidden()), null));
        }
        return t.build(x);
    }

    /** [T, C] to [H, T, D]. */
    private static Node heads(Tracer t, Node x, int n, int h, int d) {
        return t.permute(t.reshape(x, n, h, d), 1, 0, 2);
    }

    /** A random input x [seq, dim] in {@code scope}. */
    public static Tensor input(Config c, MemoryScope scope, long seed) {
        return Tensor.randn(scope, seed, 1f, c.seq(), c.dim());
    }
}
