package dev.corvus.model;

import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.List;

/**
 * The tensors of a Llama-family model, each [out, in] for matrices. Any dtype {@code Ops.linear}
 * and {@code Ops.embedding} accept (F32, F16, BF16, Q8_0); norms are F32.
 *
 * @param tokenEmbedding [vocab, dim]
 * @param layers         one entry per block
 * @param finalNorm      [dim]
 * @param classifier     [vocab, dim]; the same tensor as tokenEmbedding when the config shares it
 */
public record LlamaWeights(Tensor tokenEmbedding, List<Layer> layers, Tensor finalNorm, Tensor classifier) {
    public LlamaWeights {
        layers = List.copyOf(layers);
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
        java.util.function.UnaryOperator<Tensor> move = t -> Ops.toDevice(t, device, scope);
        Tensor embedding = move.apply(tokenEmbedding);
        List<Layer> moved = layers.stream().map(l -> new Layer(move.apply(l.attentionNorm()), move.apply(l.wq()), move.apply(l.wk()),
                move.apply(l.wv()), move.apply(l.wo()), move.apply(l.ffnNorm()), move.apply(l.w1()), move.apply(l.w2()), move.apply(l.w3()))).toList();
        Tensor head = classifier == tokenEmbedding ? embedding : move.apply(classifier);
        return new LlamaWeights(embedding, moved, move.apply(finalNorm), head);
    }

    /**
     * One block: attention then SwiGLU MLP.
     *
     * @param attentionNorm [dim]
     * @param wq            [dim, dim]
     * @param wk            [kvDim, dim]
     * @param wv            [kvDim, dim]
     * @param wo            [dim, dim]
     * @param ffnNorm       [dim]
     * @param w1            [hidden, dim] (gate)
     * @param w2            [dim, hidden] (down)
     * @param w3            [hidden, dim] (up)
     */
    public record Layer(Tensor attentionNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor ffnNorm, Tensor w1, Tensor w2, Tensor w3) {}
}
