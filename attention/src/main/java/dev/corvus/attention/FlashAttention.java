package dev.corvus.attention;

import dev.corvus.tensor.Tensor;

/**
 * SKELETON — contract only, being implemented.
 *
 * Tiled attention with an online softmax that never materialises the N x N score matrix.
 * Layout: q [B, Hq, Nq, D]; k, v [B, Hkv, Nk, D] with Hkv dividing Hq (query head h reads kv head
 * h / (Hq/Hkv)); inputs F32, F16 or BF16 (any strides); out [B, Hq, Nq, D] F32; lse [B, Hq, Nq]
 * F32 (natural log of the softmax denominator; -infinity for a row that sees no key, whose out
 * row is 0).
 */
public final class FlashAttention {
    private FlashAttention() {}

    /** Output and log-sum-exp of an attention call. */
    public record Result(Tensor out, Tensor lse) {}

    /** Gradients with the shapes of q, k, v (F32). */
    public record Gradients(Tensor dq, Tensor dk, Tensor dv) {}

    /** softmax(scale · q·kᵀ + mask)·v, with the log-sum-exp of every row. */
    public static Result forward(Tensor q, Tensor k, Tensor v, Mask mask, float scale) {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * dq, dk, dv from the forward's inputs, out and lse and the gradient of out, recomputing
     * scores tile by tile (no N x N buffer).
     */
    public static Gradients backward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dOut, Mask mask, float scale) {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * Accumulating block backward for sequence-parallel schemes: with the global lse and
     * delta = rowsum(dOut ∘ out) of the query rows, adds this key block's contribution to dq
     * (for these queries) and to dk, dv (for these keys). dq, dk, dv are F32 accumulators with
     * the shapes of q, k, v.
     */
    public static void backwardAccumulate(Tensor q, Tensor k, Tensor v, Tensor dOut, Tensor lse, Tensor delta,
            Mask mask, float scale, Tensor dq, Tensor dk, Tensor dv) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** delta[b, h, i] = sum_d dOut[b, h, i, d] · out[b, h, i, d], F32 [B, H, N]. */
    public static Tensor delta(Tensor dOut, Tensor out) {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * Merges a partial result over a disjoint set of keys into (out, lse) in place:
     * lse' = max + log1p(exp(-|lse1 - lse2|)), out' = exp(lse1 - lse')·out1 + exp(lse2 - lse')·out2,
     * with (0, -inf) the identity and two -inf rows staying (0, -inf).
     */
    public static void merge(Tensor out, Tensor lse, Tensor partOut, Tensor partLse) {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * One decode step: q [B, Hq, 1, D] (the newest token) against the first {@code length}
     * positions of a KV cache kCache, vCache [B, Hkv, capacity, D]; no mask needed (the cache
     * holds only the past). Returns out [B, Hq, 1, D].
     */
    public static Tensor decode(Tensor q, Tensor kCache, Tensor vCache, int length, float scale) {
        throw new UnsupportedOperationException("skeleton");
    }
}
