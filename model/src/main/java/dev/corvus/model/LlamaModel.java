package dev.corvus.model;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;
import java.util.Objects;

/**
 * The Llama forward pass (llama2.c, Llama 2/3 without biases): token embedding, then per block
 * RMSNorm → q, k, v → RoPE → causal attention over the KV cache → output projection → residual,
 * RMSNorm → SwiGLU MLP w2(silu(w1 x) · w3 x) → residual; a final RMSNorm and the classifier on the
 * last position.
 *
 * <p>One {@link #forward} serves both phases. Prefill runs T prompt tokens as one batch (x is
 * [T, dim], so every projection is a GEMM) and attends with a bottom-right causal mask; decode
 * (T = 1) is the same code with GEMVs and {@link FlashAttention#decode} against the cache.
 * Memory: the {@link KvCache} lives in its own long-lived scope; every activation of a call lives
 * in a scope opened by {@code forward} and freed when it returns; only the logits outlive it, in
 * the caller's current scope. Works for any weight dtype {@code Ops.linear} and
 * {@code Ops.embedding} take (F32, F16, BF16, Q8_0), on any CPU backend, and on an accelerator:
 * give it weights moved there ({@link LlamaWeights#to}) and everything but the logits stays there.
 */
public final class LlamaModel {
    private final LlamaConfig config;
    private final LlamaWeights weights;
    /** Every weight-matrix product goes through here (the classifier included). */
    private final Linear linear;
    private final float attentionScale;
    /** Where the weights, the KV cache and every activation live; logits come back to the CPU. */
    private final Device device;

    public LlamaModel(LlamaConfig config, LlamaWeights weights) {
        this(config, weights, Linear.OPS);
    }

    /** A model whose weight-matrix products run through {@code linear} (for example HeteGen's split layers). */
    public LlamaModel(LlamaConfig config, LlamaWeights weights, Linear linear) {
        this.config = config;
        this.weights = weights;
        this.linear = Objects.requireNonNull(linear, "linear");
        this.device = weights.device();
        this.attentionScale = (float) (1.0 / Math.sqrt(config.headDim()));
        checkShapes(config, weights);
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return weights;
    }

    public Device device() {
        return device;
    }

    /** A cache for the model's whole context ({@code seqLen} positions). */
    public KvCache newCache() {
        return newCache(config.seqLen());
    }

    /** A cache for {@code capacity} positions; close it to free its memory. */
    public KvCache newCache(int capacity) {
        return new KvCache(config, capacity, device);
    }

    /**
     * Runs {@code tokens} at positions {@code startPosition ..} and returns the logits [vocab]
     * (F32, in the caller's current scope) predicting the token after the last one. Writes their
     * keys and values into {@code cache}, which must already hold positions [0, startPosition).
     */
    public Tensor forward(int[] tokens, int startPosition, KvCache cache) {
        int T = tokens.length, dim = config.dim(), heads = config.heads(), kvHeads = config.kvHeads(), headDim = config.headDim();
        int length = startPosition + T;
        checkCall(tokens, startPosition, cache);
        float eps = config.normEps();
        Tensor logits = Tensor.zeros(MemoryScope.require("LlamaModel.forward (the logits)"), DType.F32, config.vocabSize());
        try (MemoryScope step = MemoryScope.open("llama.forward")) {
            Tensor x = Ops.embedding(weights.tokenEmbedding(), Tensor.ofInts(tokens, T).to(device)); // [T, dim]
            for (int l = 0; l < config.layers(); l++) {
                LlamaWeights.Layer w = weights.layers().get(l);

                // attention: q, k, v for the T new positions, rotated by their absolute positions
                Tensor xb = Ops.rmsnorm(x, w.attentionNorm(), eps);
                Tensor q = linear.apply(xb, w.wq()).view(T, heads, headDim);
                Tensor k = linear.apply(xb, w.wk()).view(T, kvHeads, headDim);
                Tensor v = linear.apply(xb, w.wv()).view(T, kvHeads, headDim);
                q = Ops.rope(q, 0, startPosition, config.ropeTheta(), config.ropeStyle());
                k = Ops.rope(k, 0, startPosition, config.ropeTheta(), config.ropeStyle());

                // the cache is [1, kvHeads, capacity, headDim]: append k, v at [startPosition, length)
                Tensor kCache = cache.keys[l], vCache = cache.values[l];
                Ops.copyInto(k.permute(1, 0, 2).unsqueeze(0), kCache.narrow(2, startPosition, T));
                Ops.copyInto(v.permute(1, 0, 2).unsqueeze(0), vCache.narrow(2, startPosition, T));

                // causal attention of the T queries over all `length` cached keys (GQA: heads / kvHeads share one)
                Tensor qh = q.permute(1, 0, 2).unsqueeze(0); // [1, heads, T, headDim]
                Tensor att = T == 1
                        ? FlashAttention.decode(qh, kCache, vCache, length, attentionScale)
                        : FlashAttention.forward(qh, kCache.narrow(2, 0, length), vCache.narrow(2, 0, length),
                                Mask.causalBottomRight(T, length), attentionScale).out();
                att = att.squeeze(0).permute(1, 0, 2).reshape(T, dim); // back to [T, heads * headDim]
                x = Ops.add(x, linear.apply(att, w.wo()));

                // SwiGLU MLP
                xb = Ops.rmsnorm(x, w.ffnNorm(), eps);
                Tensor gate = Ops.silu(linear.apply(xb, w.w1()));
                Tensor up = linear.apply(xb, w.w3());
                x = Ops.add(x, linear.apply(Ops.mul(gate, up), w.w2()));
            }

            // final norm and classifier, on the last position only
            Tensor last = Ops.rmsnorm(x.narrow(0, T - 1, 1), weights.finalNorm(), eps);
            Ops.copyInto(linear.apply(last, weights.classifier()).view(config.vocabSize()).to(Device.CPU), logits);
        }
        cache.length = length;
        return logits;
    }

    /**
     * Keys and values of every layer for one sequence: per layer K and V of shape
     * [1, kvHeads, capacity, headDim], F32, in a scope of their own that {@link #close} frees.
     * {@link #length()} counts the positions written so far.
     */
    public static final class KvCache implements AutoCloseable {
        private final MemoryScope scope;
        private final Tensor[] keys, values;
        private final int capacity;
        private int length;

        KvCache(LlamaConfig config, int capacity, Device device) {
            if (capacity <= 0) throw new IllegalArgumentException("KV cache capacity must be positive, got " + capacity);
            this.capacity = capacity;
            this.scope = MemoryScope.detached("llama.kvCache");
            this.keys = new Tensor[config.layers()];
            this.values = new Tensor[config.layers()];
            for (int l = 0; l < config.layers(); l++) {
                keys[l] = Backends.of(device).allocate(scope, DType.F32, 1, config.kvHeads(), capacity, config.headDim());
                values[l] = Backends.of(device).allocate(scope, DType.F32, 1, config.kvHeads(), capacity, config.headDim());
            }
        }

        public int capacity() {
            return capacity;
        }

        /** Positions [0, length) hold keys and values. */
        public int length() {
            return length;
        }

        /** Forgets positions from {@code newLength} on (the next forward must start there or before). */
        public void truncate(int newLength) {
            if (newLength < 0 || newLength > length) {
                throw new IllegalArgumentException("KV cache: cannot truncate to " + newLength + ", it holds " + length + " positions");
            }
            length = newLength;
        }

        public Tensor keys(int layer) {
            return keys[layer];
        }

        public Tensor values(int layer) {
            return values[layer];
        }

        public long byteSize() {
            return scope.liveBytes();
        }

        @Override
        public void close() {
            scope.close();
        }
    }

    // ---------------------------------------------------------------- checks

    private void checkCall(int[] tokens, int startPosition, KvCache cache) {
        if (tokens.length == 0) throw new IllegalArgumentException("forward: no tokens given");
        if (cache.keys.length != config.layers() || cache.keys[0].size(1) != config.kvHeads() || cache.keys[0].size(3) != config.headDim()) {
            throw new IllegalArgumentException("forward: the KV cache " + cache.keys[0] + " x " + cache.keys.length
                    + " layers was not made for this model (" + config + ")");
        }
        if (startPosition < 0 || startPosition > cache.length) {
            throw new IllegalArgumentException("forward: start position " + startPosition + " must be within the " + cache.length
                    + " positions the KV cache holds (positions before it must be cached)");
        }
        if ((long) startPosition + tokens.length > cache.capacity) {
            throw new IllegalArgumentException("forward: positions [" + startPosition + ", " + (startPosition + tokens.length)
                    + ") do not fit the KV cache capacity " + cache.capacity);
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("forward: token id " + tokens[i] + " at index " + i + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
            }
        }
    }

    private static void checkShapes(LlamaConfig c, LlamaWeights w) {
        if (w.layers().size() != c.layers()) {
            throw new IllegalArgumentException("the weights have " + w.layers().size() + " layers, the config " + c.layers());
        }
        int dim = c.dim(), kv = c.kvDim(), hidden = c.hiddenDim();
        requireShape("token embedding", w.tokenEmbedding(), c.vocabSize(), dim);
        requireShape("final norm", w.finalNorm(), dim);
        requireShape("classifier", w.classifier(), c.vocabSize(), dim);
        for (int l = 0; l < c.layers(); l++) {
            LlamaWeights.Layer L = w.layers().get(l);
            String p = "layer " + l + " ";
            requireShape(p + "attention norm", L.attentionNorm(), dim);
            requireShape(p + "wq", L.wq(), dim, dim);
            requireShape(p + "wk", L.wk(), kv, dim);
            requireShape(p + "wv", L.wv(), kv, dim);
            requireShape(p + "wo", L.wo(), dim, dim);
            requireShape(p + "ffn norm", L.ffnNorm(), dim);
            requireShape(p + "w1", L.w1(), hidden, dim);
            requireShape(p + "w2", L.w2(), dim, hidden);
            requireShape(p + "w3", L.w3(), hidden, dim);
        }
    }

    private static void requireShape(String what, Tensor t, int... expected) {
        if (t == null) throw new IllegalArgumentException(what + " is missing");
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(what + " has shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(expected));
        }
    }
}
