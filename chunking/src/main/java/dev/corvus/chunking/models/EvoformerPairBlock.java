package dev.corvus.chunking.models;

import dev.corvus.chunking.Graph;
import dev.corvus.chunking.Node;
import dev.corvus.chunking.Tracer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;

/**
 * The pair-representation half of an AlphaFold Evoformer block, traced for AutoChunk, over a pair
 * tensor z [N, N, C]: row-wise gated self-attention with pair bias (each row i attends over its N
 * entries j; the scores [N, H, N, N] grow as N³), column-wise attention (the same over the first
 * dim, run on z transposed), and a transition (LayerNorm, C -> 4C, ReLU, 4C -> C), each with a
 * residual. The gate is silu(linear) instead of AlphaFold's sigmoid (the op vocabulary has no
 * sigmoid; the memory shape is the same).
 */
public final class EvoformerPairBlock {
    /**
     * @param blocks  pair blocks stacked
     * @param pair    N, residues
     * @param channels C, pair channels
     * @param heads   attention heads
     * @param headDim per-head width
     */
    public record Config(int blocks, int pair, int channels, int heads, int headDim) {
        public Config {
            if (blocks < 1 || pair < 1 || channels < 1 || heads < 1 || headDim < 1) throw new IllegalArgumentException("EvoformerPairBlock: sizes must be positive: " + this);
        }

        public Config withPair(int n) {
            return new Config(blocks, n, channels, heads, headDim);
        }
    }

    private EvoformerPairBlock() {}

    /** The block stack with one input "z" [pair, pair, channels]; weights (seeded) are allocated in {@code weights}. */
    public static Graph trace(Config c, MemoryScope weights, long seed) {
        Tracer t = new Tracer();
        Weights w = new Weights(t, weights, seed);
        int n = c.pair(), ch = c.channels();
        Node z = t.input("z", n, n, ch);
        for (int b = 0; b < c.blocks(); b++) {
            String p = "b" + b + ".";
            z = t.add(z, rowAttention(t, w, c, z, p + "row."));
            Node zt = t.permute(z, 1, 0, 2);
            z = t.add(z, t.permute(rowAttention(t, w, c, zt, p + "col."), 1, 0, 2));
            Node zn = t.layernorm(z, w.gain(p + "trans.norm_w", ch), w.bias(p + "trans.norm_b", ch), 1e-5f);
            Node hidden = t.relu(t.linear(zn, w.linear(p + "trans.w1", 4 * ch, ch), w.bias(p + "trans.b1", 4 * ch)));
            z = t.add(z, t.linear(hidden, w.linear(p + "trans.w2", ch, 4 * ch), w.bias(p + "trans.b2", ch)));
        }
        return t.build(z);
    }

    /**
     * Gated self-attention along dim 1 of x [N, N, C] with a pair bias from x itself: row i's
     * query j attends over keys k with bias b[h, j, k]. Returns the update [N, N, C].
     */
    private static Node rowAttention(Tracer t, Weights w, Config c, Node x, String p) {
        int n = c.pair(), ch = c.channels(), h = c.heads(), d = c.headDim(), hd = h * d;
        Node xn = t.layernorm(x, w.gain(p + "norm_w", ch), w.bias(p + "norm_b", ch), 1e-5f);
        Node q = heads(t, t.linear(xn, w.linear(p + "wq", hd, ch), null), n, h, d);
        Node k = heads(t, t.linear(xn, w.linear(p + "wk", hd, ch), null), n, h, d);
        Node v = heads(t, t.linear(xn, w.linear(p + "wv", hd, ch), null), n, h, d);
        Node bias = t.contiguous(t.permute(t.linear(xn, w.linear(p + "wb", h, ch), null), 2, 0, 1)); // [H, N, N]
        Node scores = t.add(t.scale(t.matmul(q, t.transpose(k, 2, 3)), (float) (1 / Math.sqrt(d))), bias); // [N, H, N, N]
        Node o = t.matmul(t.softmax(scores, -1), v); // [N, H, N, d]
        Node merged = t.reshape(t.permute(o, 0, 2, 1, 3), n, n, hd);
        Node gate = t.silu(t.linear(xn, w.linear(p + "wg", hd, ch), w.bias(p + "bg", hd)));
        return t.linear(t.mul(merged, gate), w.linear(p + "wo", ch, hd), w.bias(p + "bo", ch));
    }

    /** [N, N, H·d] to [N, H, N, d]. */
    private static Node heads(Tracer t, Node x, int n, int h, int d) {
        return t.permute(t.reshape(x, n, n, h, d), 0, 2, 1, 3);
    }

    /** A random pair representation z [pair, pair, channels] in {@code scope}. */
    public static Tensor input(Config c, MemoryScope scope, long seed) {
        return Tensor.randn(scope, seed, 1f, c.pair(), c.pair(), c.channels());
    }
}
