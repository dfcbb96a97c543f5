package dev.corvus.model;

import dev.corvus.attention.Mask;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.util.List;

/**
 * The ops {@link LlamaModel}'s forward pass is written against, so that one source both runs
 * (values are {@link Tensor}s, {@link EagerDecoderOps}) and is traced for AutoChunk (values are
 * graph nodes, {@link TracedDecoderOps}). Weights, norms and the KV cache's tensors are always
 * given as tensors: the tracer captures them as parameters.
 *
 * @param <T> a value of the forward pass: a tensor, or a traced node
 */
interface DecoderOps<T> {
    /** The token ids as a value: an I32 tensor of {@code ids}, or the traced graph's input. */
    T tokens(int[] ids);

    T embedding(Tensor table, T ids);

    /** x · wᵀ through the model's {@link Linear} seam. */
    T linear(T x, Tensor weight);

    T addBias(T x, Tensor bias);

    T rmsnorm(T x, Tensor weight, float eps);

    T add(T a, T b);

    T mul(T a, T b);

    T scale(T x, float factor);

    T silu(T x);

    T gelu(T x, boolean tanhApproximation);

    T tanh(T x);

    /** RoPE along dim 0 (the positions) of x [T, heads, headDim], the first row at {@code positionOffset}. */
    T rope(T x, int positionOffset, double[] frequencies, double magnitude, RopeStyle style);

    /** {@link Tensor#view}: a view of a contiguous value. */
    T view(T x, int... shape);

    /** {@link Tensor#reshape}: a view when the layout allows, else a contiguous copy. */
    T reshape(T x, int... shape);

    T permute(T x, int... order);

    T unsqueeze(T x, int dim);

    T squeeze(T x, int dim);

    /** {@link Tensor#narrow}; the value itself when the range is all of dim. */
    T narrow(T x, int dim, int start, int length);

    T concat(int dim, List<T> parts);

    /**
     * Writes x [T, kvHeads, headDim] into positions [start, start + T) of a cache tensor
     * [1, kvHeads, capacity, headDim] and returns the cached positions [0, start + T) as a view.
     */
    T appendToCache(Tensor cache, T x, int start);

    /** Flash attention of q [1, heads, Nq, headDim] over k, v [1, kvHeads, Nk, headDim]. */
    T attention(T q, T k, T v, Mask mask, float scale, float softcap);

    /** A sharded training forward's attention through the caller's op (eager only: a traced graph has no communicator). */
    T shardAttention(ShardAttention attention, int layer, T q, T k, T v, float scale, long window, float softcap);

    /** Attention of one query q [1, heads, 1, headDim] over all of k, v (the decode path). */
    T decodeAttention(T q, T k, T v, float scale, float softcap);
}
