package dev.corvus.model;

import dev.corvus.attention.Attention;
import dev.corvus.attention.Mask;
import dev.corvus.chunking.Node;
import dev.corvus.chunking.Tracer;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import dev.corvus.tensor.op.Embedding;
import dev.corvus.tensor.op.Narrow;
import dev.corvus.tensor.op.Rope;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link DecoderOps} that record: each method traces the op the eager one runs, so
 * {@link LlamaModel}'s forward pass becomes an AutoChunk graph. Every weight tensor becomes one
 * parameter (the same tensor, the same node); the graph's inputs are the token ids and the KV
 * cache's tensors ({@link #cacheInputs}), so its program does not hold one cache's memory.
 */
final class TracedDecoderOps implements DecoderOps<Node> {
    private final Tracer tracer = new Tracer();
    private final Map<Tensor, Node> params = new IdentityHashMap<>();
    /** The KV-cache tensors written and read, each a graph input (after the token ids) in this order. */
    private final Map<Tensor, Node> cacheInputs = new java.util.LinkedHashMap<>();
    private Node tokens;

    Tracer tracer() {
        return tracer;
    }

    /**
     * The cache tensors the graph takes as inputs, in input order after the token ids: bound when
     * the program runs, so one compiled program serves every cache of the same capacity.
     */
    List<Tensor> cacheInputs() {
        return List.copyOf(cacheInputs.keySet());
    }

    private Node param(Tensor t) {
        return params.computeIfAbsent(t, w -> tracer.param("w" + params.size(), w));
    }

    @Override
    public Node tokens(int[] ids) {
        if (tokens != null) throw new IllegalStateException("a traced forward pass takes one token input");
        tokens = tracer.input("tokens", DType.I32, ids.length);
        return tokens;
    }

    @Override
    public Node embedding(Tensor table, Node ids) {
        return tracer.apply(Embedding.OP, Embedding.ATTRS, param(table), ids);
    }

    @Override
    public Node linear(Node x, Tensor weight) {
        return tracer.linear(x, param(weight), null);
    }

    @Override
    public Node addBias(Node x, Tensor bias) {
        return tracer.add(x, param(bias));
    }

    @Override
    public Node rmsnorm(Node x, Tensor weight, float eps) {
        return tracer.rmsnorm(x, param(weight), eps);
    }

    @Override
    public Node add(Node a, Node b) {
        return tracer.add(a, b);
    }

    @Override
    public Node mul(Node a, Node b) {
        return tracer.mul(a, b);
    }

    @Override
    public Node scale(Node x, float factor) {
        return tracer.scale(x, factor);
    }

    @Override
    public Node silu(Node x) {
        return tracer.silu(x);
    }

    @Override
    public Node gelu(Node x, boolean tanhApproximation) {
        return tracer.gelu(x, tanhApproximation);
    }

    @Override
    public Node tanh(Node x) {
        return tracer.unary(UnaryOp.TANH, x);
    }

    @Override
    public Node rope(Node x, int positionOffset, double[] frequencies, double magnitude, RopeStyle style) {
        return tracer.apply(Rope.OP, new Rope(0, positionOffset, frequencies, magnitude, style), x);
    }

    @Override
    public Node view(Node x, int... shape) {
        return tracer.reshape(x, shape);
    }

    @Override
    public Node reshape(Node x, int... shape) {
        return tracer.reshape(x, shape);
    }

    @Override
    public Node permute(Node x, int... order) {
        return tracer.permute(x, order);
    }

    @Override
    public Node unsqueeze(Node x, int dim) {
        int[] s = x.shape(), out = new int[s.length + 1];
        for (int i = 0, j = 0; i < out.length; i++) out[i] = i == dim ? 1 : s[j++];
        return tracer.reshape(x, out);
    }

    @Override
    public Node squeeze(Node x, int dim) {
        int[] s = x.shape(), out = new int[s.length - 1];
        if (s[dim] != 1) throw new IllegalArgumentException("squeeze: dim " + dim + " of " + x.describe() + " is not 1");
        for (int i = 0, j = 0; i < s.length; i++) if (i != dim) out[j++] = s[i];
        return tracer.reshape(x, out);
    }

    @Override
    public Node narrow(Node x, int dim, int start, int length) {
        if (start == 0 && length == x.size(dim)) return x;
        return tracer.apply(Narrow.OP, new Narrow(dim, start, length), x);
    }

    @Override
    public Node concat(int dim, List<Node> parts) {
        return tracer.concat(dim, parts.toArray(Node[]::new));
    }

    @Override
    public Node appendToCache(Tensor cache, Node x, int start) {
        Node c = cacheInputs.get(cache);
        if (c == null) {
            c = tracer.input("cache" + cacheInputs.size(), cache.dtype(), cache.shape());
            cacheInputs.put(cache, c);
        }
        return tracer.apply(DecoderOpDefs.CacheAppend.OP, new DecoderOpDefs.CacheAppend(start), c, x);
    }

    @Override
    public Node attention(Node q, Node k, Node v, Mask mask, float scale, float softcap) {
        return tracer.apply(Attention.OP, new Attention(mask, scale, softcap), q, k, v);
    }

    @Override
    public Node shardAttention(ShardAttention attention, int layer, Node q, Node k, Node v, float scale, long window, float softcap) {
        throw new UnsupportedOperationException("a sharded training forward runs eagerly; it cannot be traced for AutoChunk");
    }

    @Override
    public Node decodeAttention(Node q, Node k, Node v, float scale, float softcap) {
        return attention(q, k, v, Mask.NONE, scale, softcap);
    }
}
