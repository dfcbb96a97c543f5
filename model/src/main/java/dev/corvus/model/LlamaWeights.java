package dev.corvus.model;

import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The tensors of a decoder of the Llama family, each [out, in] for matrices. Any dtype
 * {@code Ops.linear} and {@code Ops.embedding} accept; norms, biases and RoPE factors are F32.
 * Optional parts are null when a family lacks them.
 *
 * @param tokenEmbedding  [vocab, dim]
 * @param layers          one entry per block
 * @param finalNorm       [dim]
 * @param classifier      [vocab, dim]; the same tensor as tokenEmbedding when the config shares it
 * @param classifierBias  [vocab] or null (Qwen2, Phi-3 may have one)
 * @param ropeFactors     [headDim/2] per-pair RoPE frequency divisors or null: Llama 3's rope_freqs, Phi-3's short factors
 * @param ropeFactorsLong [headDim/2] or null: Phi-3's factors for contexts beyond the original one
 */
public record LlamaWeights(Tensor tokenEmbedding, List<Layer> layers, Tensor finalNorm, Tensor classifier, Tensor classifierBias,
        Tensor ropeFactors, Tensor ropeFactorsLong) {
    public LlamaWeights {
        layers = List.copyOf(layers);
    }

    /** Weights without classifier bias or RoPE factors. */
    public LlamaWeights(Tensor tokenEmbedding, List<Layer> layers, Tensor finalNorm, Tensor classifier) {
        this(tokenEmbedding, layers, finalNorm, classifier, null, null, null);
    }

    /** The device the weights are on (the token embedding's). */
    public Device device() {
        return tokenEmbedding.device();
    }

    /**
     * These weights copied to {@code device}, the copies living in {@code scope}; a classifier
     * shared with the token embedding stays shared.
     */
    public LlamaWeights to(Device device, MemoryScope scope) {
        UnaryOperator<Tensor> move = t -> Ops.toDevice(t, device, scope);
        return map(move, move);
    }

    /**
     * These weights with every matrix (token embedding, classifier and the block projections)
     * replaced by {@code f} of it, e.g. converted to another dtype; norms, biases and RoPE
     * factors stay as they are, a shared classifier stays shared.
     */
    public LlamaWeights mapMatrices(UnaryOperator<Tensor> f) {
        return map(f, UnaryOperator.identity());
    }

    private LlamaWeights map(UnaryOperator<Tensor> matrix, UnaryOperator<Tensor> vector) {
        UnaryOperator<Tensor> m = t -> t == null ? null : matrix.apply(t), v = t -> t == null ? null : vector.apply(t);
        Tensor embedding = m.apply(tokenEmbedding);
        List<Layer> mapped = layers.stream().map(l -> new Layer(v.apply(l.attentionNorm), m.apply(l.wq), m.apply(l.wk), m.apply(l.wv),
                m.apply(l.wo), v.apply(l.ffnNorm), m.apply(l.w1), m.apply(l.w2), m.apply(l.w3), v.apply(l.bq), v.apply(l.bk), v.apply(l.bv),
                v.apply(l.qNorm), v.apply(l.kNorm), v.apply(l.bo), v.apply(l.attentionPostNorm), v.apply(l.b1), v.apply(l.b2), v.apply(l.b3),
                v.apply(l.ffnPostNorm))).toList();
        Tensor head = classifier == tokenEmbedding ? embedding : m.apply(classifier);
        return new LlamaWeights(embedding, mapped, v.apply(finalNorm), head, v.apply(classifierBias), v.apply(ropeFactors),
                v.apply(ropeFactorsLong));
    }

    /**
     * One block: attention then the gated MLP. Fused GGUF projections (attn_qkv, Phi-3's gate+up
     * ffn_up) arrive here as row views of the fused tensor, so every family has separate q, k, v,
     * gate and up matrices.
     *
     * @param attentionNorm     [dim]
     * @param wq                [heads·headDim, dim]
     * @param wk                [kvHeads·headDim, dim]
     * @param wv                [kvHeads·headDim, dim]
     * @param wo                [dim, heads·headDim]
     * @param ffnNorm           [dim]
     * @param w1                [hidden, dim] (gate)
     * @param w2                [dim, hidden] (down)
     * @param w3                [hidden, dim] (up)
     * @param bq                [heads·headDim] or null; likewise bk, bv [kvHeads·headDim]
     * @param qNorm             [headDim] RMSNorm of each query head before RoPE (Qwen3, Gemma 3) or null; likewise kNorm
     * @param bo                [dim] or null
     * @param attentionPostNorm [dim] RMSNorm of the attention output before the residual add (Gemma) or null
     * @param b1                [hidden] or null; likewise b2 [dim], b3 [hidden]
     * @param ffnPostNorm       [dim] RMSNorm of the MLP output before the residual add (Gemma) or null
     */
    public record Layer(Tensor attentionNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor ffnNorm, Tensor w1, Tensor w2, Tensor w3,
            Tensor bq, Tensor bk, Tensor bv, Tensor qNorm, Tensor kNorm, Tensor bo, Tensor attentionPostNorm, Tensor b1, Tensor b2, Tensor b3,
            Tensor ffnPostNorm) {
        /** A plain Llama block: no biases, no q/k or post norms. */
        public Layer(Tensor attentionNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor ffnNorm, Tensor w1, Tensor w2, Tensor w3) {
            this(attentionNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3, null, null, null, null, null, null, null, null, null, null, null);
        }

        /** The block's weight matrices by name (wq, wk, wv, wo, w1, w2, w3), in the order the forward pass uses them. */
        public Map<String, Tensor> matrices() {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("wq", wq);
            m.put("wk", wk);
            m.put("wv", wv);
            m.put("wo", wo);
            m.put("w1", w1);
            m.put("w2", w2);
            m.put("w3", w3);
            return m;
        }
    }
}
