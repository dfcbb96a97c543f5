package dev.corvus.model;

import dev.corvus.tensor.Tensor;

/**
 * The attention of a sharded training forward ({@link LlamaModel#trainingForward(int[], java.util.List, ShardAttention)}):
 * this rank's rows of a sequence split over several ranks attend causally over the whole
 * sequence, which only the caller can reach (a ring, StarTrail or Ulysses op over a communicator,
 * in the train module; the model does not depend on them). The result must come from a registry
 * op with a backward rule, so that a recording {@link dev.corvus.tensor.op.Tape} differentiates
 * through it.
 *
 * <p>With per-block checkpointing ({@link LlamaModel#trainingForward(int[], java.util.List, ShardAttention, boolean)})
 * a layer's attention is called twice: in the forward and again when the backward re-runs that
 * block. {@code layer} says which call is which, so an implementation can keep what the first
 * call computed (its output and log-sum-exp) and answer the second from it, without repeating the
 * communication.
 */
@FunctionalInterface
public interface ShardAttention {
    /**
     * @param layer the decoder layer calling (0-based)
     * @param q     this rank's queries [1, heads, n, headDim], rotated at their global positions, rows in local order
     * @param k     its keys [1, kvHeads, n, headDim], rotated likewise
     * @param v     its values [1, kvHeads, n, headDim]
     * @param scale   the model's attention scale
     * @param window  keys a query sees, itself included, at global positions (a sliding-window
     *                layer), or {@link dev.corvus.attention.Mask#NO_WINDOW} for full causal attention
     * @param softcap the attention-logit soft-cap c in c·tanh(s/c) of the scaled scores, 0 for none
     * @return out [1, heads, n, headDim] F32: each row's causal attention over every key of the whole
     *         sequence it may see
     */
    Tensor attend(int layer, Tensor q, Tensor k, Tensor v, float scale, long window, float softcap);
}
