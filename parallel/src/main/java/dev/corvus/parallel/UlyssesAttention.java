package dev.corvus.parallel;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.Communicator;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;

/**
 * DeepSpeed-Ulysses (papers.md 1.4), the all-to-all baseline: re-shard queries, keys and values
 * from sequence to heads, attend over the whole sequence locally, re-shard the output back. Needs
 * the head counts (query and key/value) divisible by the rank count. Shards are contiguous runs
 * of tokens ({@link #layout}).
 */
public final class UlyssesAttention {
    private UlyssesAttention() {}

    private static final int HEADS = 1, SEQ = 2;

    public static SequenceLayout layout(int total, int rank, int ranks) {
        return SequenceLayout.contiguous(total, rank, ranks);
    }

    public static FlashAttention.Result forward(Communicator comm, Tensor q, Tensor k, Tensor v, boolean causal, float scale) {
        return forward(comm, q, k, v, causal, Mask.NO_WINDOW, scale, 0f);
    }

    /**
     * With a sliding window ({@link Mask#NO_WINDOW} for none; causal only) and soft-capped scores
     * (0 for none): each rank attends its heads over the whole sequence, so both pass straight to
     * the local attention; the all-to-alls are unchanged.
     */
    public static FlashAttention.Result forward(Communicator comm, Tensor q, Tensor k, Tensor v, boolean causal, long window, float scale,
            float softcap) {
        checkHeads(comm, q, k);
        Mask mask = mask(causal, window); // before the all-to-alls: every rank refuses alike
        Tensor qh = toHeads(comm, q), kh = toHeads(comm, k), vh = toHeads(comm, v);
        FlashAttention.Result r = FlashAttention.forward(qh, kh, vh, mask, scale, softcap);
        return new FlashAttention.Result(toSequence(comm, r.out()), toSequence(comm, r.lse()));
    }

    public static FlashAttention.Gradients backward(Communicator comm, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
            Tensor dOut, boolean causal, float scale) {
        return backward(comm, q, k, v, out, lse, dOut, causal, Mask.NO_WINDOW, scale, 0f);
    }

    /** The backward of {@link #forward(Communicator, Tensor, Tensor, Tensor, boolean, long, float, float)}. */
    public static FlashAttention.Gradients backward(Communicator comm, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
            Tensor dOut, boolean causal, long window, float scale, float softcap) {
        checkHeads(comm, q, k);
        Mask mask = mask(causal, window);
        // delta is a row sum over features, so it is computed where the rows are and moved as one float per row.
        Tensor delta = FlashAttention.delta(dOut, out);
        Tensor qh = toHeads(comm, q), kh = toHeads(comm, k), vh = toHeads(comm, v);
        Tensor dOh = toHeads(comm, dOut), lseh = toHeads(comm, lse), deltah = toHeads(comm, delta);
        Tensor dq = Tensor.zeros(DType.F32, qh.shape()), dk = Tensor.zeros(DType.F32, kh.shape()), dv = Tensor.zeros(DType.F32, vh.shape());
        FlashAttention.backwardAccumulate(qh, kh, vh, dOh, lseh, deltah, mask, scale, softcap, dq, dk, dv);
        return new FlashAttention.Gradients(toSequence(comm, dq), toSequence(comm, dk), toSequence(comm, dv));
    }

    private static Mask mask(boolean causal, long window) {
        if (!causal && window != Mask.NO_WINDOW) throw new IllegalArgumentException(RingAttention.nonCausalWindow(window));
        return causal ? new Mask(true, 0, 0, window) : Mask.NONE;
    }

    private static void checkHeads(Communicator comm, Tensor q, Tensor k) {
        int p = comm.size();
        if (q.size(HEADS) % p != 0 || k.size(HEADS) % p != 0) {
            throw new IllegalArgumentException("Ulysses needs head counts divisible by the " + p + " ranks, got " + q.size(HEADS)
                    + " query and " + k.size(HEADS) + " key/value heads");
        }
    }

    /** [B, H, n, ...] sequence shards to [B, H/P, n·P, ...] head shards. */
    static Tensor toHeads(Communicator comm, Tensor local) {
        Tensor in = local.dtype() == DType.F32 ? local.contiguous() : Ops.convert(local, DType.F32);
        int[] shape = in.shape();
        shape[HEADS] /= comm.size();
        shape[SEQ] *= comm.size();
        Tensor out = Tensor.zeros(DType.F32, shape);
        comm.allToAll(in, out, HEADS, SEQ);
        return out;
    }

    /** The inverse of {@link #toHeads}. */
    static Tensor toSequence(Communicator comm, Tensor heads) {
        int[] shape = heads.shape();
        shape[HEADS] *= comm.size();
        shape[SEQ] /= comm.size();
        Tensor out = Tensor.zeros(DType.F32, shape);
        comm.allToAll(heads.contiguous(), out, SEQ, HEADS);
        return out;
    }
}
