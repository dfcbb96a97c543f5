package dev.corvus.parallel;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.Communicator;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Ring attention (papers.md 1.2): every rank keeps its queries and passes its keys and values
 * around the ring, merging one partial attention per step with the online softmax. Causal
 * attention uses the zigzag layout (1.3) so every rank does the same unmasked work at every step.
 *
 * <p>Tensors are per-rank shards, [B, H, n, D] for queries and [B, Hkv, n, D] for keys and values,
 * holding the tokens {@link #layout} gives the rank. Forward sends (P-1) key/value shards;
 * backward sends (P-1) key/value shards and P key/value gradient shards (the gradients travel
 * with their keys and come home on a last hop).
 */
public final class RingAttention {
    private RingAttention() {}

    static final int SEQ = 2;

    /** Tokens rank {@code rank} of {@code ranks} holds: zigzag when causal, contiguous otherwise. */
    public static SequenceLayout layout(int total, int rank, int ranks, boolean causal) {
        return causal ? SequenceLayout.zigzag(total, rank, ranks) : SequenceLayout.contiguous(total, rank, ranks);
    }

    /** The visible pairs of one query chunk and one key chunk, or null when none is visible. */
    /** The refusal of a sliding window on non-causal attention, which has no "older" keys to drop. */
    static String nonCausalWindow(long window) {
        return "sequence-parallel attention: a sliding window (" + window + " positions) needs causal attention; pass causal = true or Mask.NO_WINDOW";
    }

    static Mask blockMask(SequenceLayout.Chunk q, SequenceLayout.Chunk k, boolean causal) {
        return blockMask(q, k, causal, Mask.NO_WINDOW);
    }

    /**
     * As above with a sliding window ({@link Mask#NO_WINDOW} for none; causal only) at global
     * positions: null also when the newest key is {@code window} or more positions behind the
     * oldest query (the block pair is skipped, no attention run), the plain causal mask when the
     * oldest key is inside every query's window, the windowed mask otherwise.
     */
    /** Checked on entry, before any rank communicates, so every rank refuses alike. */
    static void requireCausalForWindow(boolean causal, long window) {
        if (!causal && window != Mask.NO_WINDOW) throw new IllegalArgumentException(nonCausalWindow(window));
    }

    static Mask blockMask(SequenceLayout.Chunk q, SequenceLayout.Chunk k, boolean causal, long window) {
        if (!causal) return Mask.NONE;
        if (k.globalStart() > q.globalEnd() - 1) return null;
        boolean windowed = window != Mask.NO_WINDOW;
        if (windowed && q.globalStart() - (k.globalEnd() - 1) >= window) return null;
        boolean past = k.globalEnd() - 1 <= q.globalStart();
        boolean insideWindow = !windowed || (q.globalEnd() - 1) - k.globalStart() < window;
        if (past && insideWindow) return Mask.NONE;
        return new Mask(true, q.globalStart(), k.globalStart(), insideWindow ? Mask.NO_WINDOW : window);
    }

    public static FlashAttention.Result forward(Communicator comm, Tensor q, Tensor k, Tensor v, boolean causal, float scale) {
        return forward(comm, q, k, v, causal, Mask.NO_WINDOW, scale, 0f);
    }

    /**
     * Causal ring attention with a sliding window ({@link Mask#NO_WINDOW} for none) and
     * soft-capped scores (0 for none), both at global positions. Block pairs outside the window
     * are skipped, but every K/V shard still travels the whole ring (a rank cannot stop passing a
     * shard its successors need), so the bytes are those of plain ring attention.
     */
    public static FlashAttention.Result forward(Communicator comm, Tensor q, Tensor k, Tensor v, boolean causal, long window, float scale,
            float softcap) {
        requireCausalForWindow(causal, window);
        int p = comm.size(), r = comm.rank(), next = (r + 1) % p, prev = (r + p - 1) % p;
        int total = q.size(SEQ) * p;
        SequenceLayout mine = layout(total, r, p, causal);
        List<Tensor> qc = chunks(q, mine), kc = chunks(k, mine), vc = chunks(v, mine);
        List<Tensor> kNext = zerosLike(kc), vNext = zerosLike(vc);
        List<Tensor> out = new ArrayList<>(), lse = new ArrayList<>();
        for (Tensor c : qc) {
            out.add(Tensor.zeros(DType.F32, c.shape()));
            lse.add(Tensor.full(Float.NEGATIVE_INFINITY, c.size(0), c.size(1), c.size(2)));
        }
        for (int step = 0; step < p; step++) {
            SequenceLayout source = layout(total, (r - step + p) % p, p, causal);
            List<Communicator.Request> pending = new ArrayList<>();
            if (step < p - 1) {
                exchange(comm, kc, kNext, next, prev, 0, pending);
                exchange(comm, vc, vNext, next, prev, 100, pending);
            }
            try (MemoryScope stepScope = MemoryScope.open("ring-step")) {
                for (int i = 0; i < qc.size(); i++) {
                    for (int j = 0; j < kc.size(); j++) {
                        Mask mask = blockMask(mine.chunks().get(i), source.chunks().get(j), causal, window);
                        if (mask == null) continue;
                        FlashAttention.Result part = FlashAttention.forward(qc.get(i), kc.get(j), vc.get(j), mask, scale, softcap);
                        FlashAttention.merge(out.get(i), lse.get(i), part.out(), part.lse());
                    }
                }
            }
            if (step < p - 1) {
                pending.forEach(Communicator.Request::await);
                List<Tensor> t = kc; kc = kNext; kNext = t;
                t = vc; vc = vNext; vNext = t;
            }
        }
        return new FlashAttention.Result(join(out, SEQ), join(lse, SEQ));
    }

    /**
     * Non-causal ring attention over a sequence of {@code globalKeys} tokens padded at the end to
     * a multiple of P (the DSP layout, papers.md 3.4): every rank holds a contiguous shard of
     * {@code q.size(2)} slots, rank j's first min(chunk, globalKeys - j·chunk) of them real. Pad
     * keys are never attended (each received shard is cut to its real keys before the partial
     * attention); pad query rows hold whatever their query values give and are the caller's to drop. Sends the same (P-1)
     * padded key/value shards as {@link #forward}.
     */
    public static FlashAttention.Result forwardPadded(Communicator comm, Tensor q, Tensor k, Tensor v, int globalKeys, float scale) {
        int p = comm.size(), r = comm.rank(), next = (r + 1) % p, prev = (r + p - 1) % p, chunk = k.size(SEQ);
        if (globalKeys < 1 || globalKeys > chunk * p) {
            throw new IllegalArgumentException("forwardPadded: " + globalKeys + " real keys do not fit " + p + " shards of " + chunk);
        }
        List<Tensor> kc = List.of(Ops.convert(k, DType.F32)), vc = List.of(Ops.convert(v, DType.F32));
        List<Tensor> kNext = zerosLike(kc), vNext = zerosLike(vc);
        Tensor out = Tensor.zeros(DType.F32, q.shape());
        Tensor lse = Tensor.full(Float.NEGATIVE_INFINITY, q.size(0), q.size(1), q.size(2));
        for (int step = 0; step < p; step++) {
            int valid = Math.clamp(globalKeys - (long) ((r - step + p) % p) * chunk, 0, chunk);
            List<Communicator.Request> pending = new ArrayList<>();
            if (step < p - 1) {
                exchange(comm, kc, kNext, next, prev, 600, pending);
                exchange(comm, vc, vNext, next, prev, 700, pending);
            }
            if (valid > 0) {
                try (MemoryScope stepScope = MemoryScope.open("ring-padded-step")) {
                    Tensor kv = kc.getFirst().narrow(SEQ, 0, valid).contiguous(), vv = vc.getFirst().narrow(SEQ, 0, valid).contiguous();
                    FlashAttention.Result part = FlashAttention.forward(q, kv, vv, Mask.NONE, scale);
                    FlashAttention.merge(out, lse, part.out(), part.lse());
                }
            }
            if (step < p - 1) {
                pending.forEach(Communicator.Request::await);
                List<Tensor> t = kc; kc = kNext; kNext = t;
                t = vc; vc = vNext; vNext = t;
            }
        }
        return new FlashAttention.Result(out, lse);
    }

    public static FlashAttention.Gradients backward(Communicator comm, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
            Tensor dOut, boolean causal, float scale) {
        return backward(comm, q, k, v, out, lse, dOut, causal, Mask.NO_WINDOW, scale, 0f);
    }

    /** The backward of {@link #forward(Communicator, Tensor, Tensor, Tensor, boolean, long, float, float)}: same skipped pairs, same bytes as without a window. */
    public static FlashAttention.Gradients backward(Communicator comm, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
            Tensor dOut, boolean causal, long window, float scale, float softcap) {
        requireCausalForWindow(causal, window);
        int p = comm.size(), r = comm.rank(), next = (r + 1) % p, prev = (r + p - 1) % p;
        int total = q.size(SEQ) * p;
        SequenceLayout mine = layout(total, r, p, causal);
        Tensor delta = FlashAttention.delta(dOut, out);
        List<Tensor> qc = chunks(q, mine), dOc = chunks(dOut, mine), lc = chunks(lse, mine), dc = chunks(delta, mine);
        List<Tensor> kc = chunks(k, mine), vc = chunks(v, mine), kNext = zerosLike(kc), vNext = zerosLike(vc);
        List<Tensor> dq = zerosLike(qc), dk = zerosLike(kc), dv = zerosLike(vc), dkNext = zerosLike(kc), dvNext = zerosLike(vc);
        for (int step = 0; step < p; step++) {
            SequenceLayout source = layout(total, (r - step + p) % p, p, causal);
            List<Communicator.Request> pending = new ArrayList<>();
            if (step < p - 1) {
                exchange(comm, kc, kNext, next, prev, 200, pending);
                exchange(comm, vc, vNext, next, prev, 300, pending);
            }
            try (MemoryScope stepScope = MemoryScope.open("ring-backward-step")) {
                for (int i = 0; i < qc.size(); i++) {
                    for (int j = 0; j < kc.size(); j++) {
                        Mask mask = blockMask(mine.chunks().get(i), source.chunks().get(j), causal, window);
                        if (mask == null) continue;
                        FlashAttention.backwardAccumulate(qc.get(i), kc.get(j), vc.get(j), dOc.get(i), lc.get(i), dc.get(i),
                                mask, scale, softcap, dq.get(i), dk.get(j), dv.get(j));
                    }
                }
            }
            // The gradients of these keys move on with them; after the last step they reach home.
            exchange(comm, dk, dkNext, next, prev, 400, pending);
            exchange(comm, dv, dvNext, next, prev, 500, pending);
            pending.forEach(Communicator.Request::await);
            if (step < p - 1) {
                List<Tensor> t = kc; kc = kNext; kNext = t;
                t = vc; vc = vNext; vNext = t;
            }
            List<Tensor> t = dk; dk = dkNext; dkNext = t;
            t = dv; dv = dvNext; dvNext = t;
            for (Tensor z : dkNext) fillZero(z);
            for (Tensor z : dvNext) fillZero(z);
        }
        return new FlashAttention.Gradients(join(dq, SEQ), join(dk, SEQ), join(dv, SEQ));
    }

    static void exchange(Communicator comm, List<Tensor> send, List<Tensor> receive, int to, int from, int tag,
            List<Communicator.Request> pending) {
        for (int i = 0; i < send.size(); i++) {
            pending.add(comm.send(send.get(i), to, tag + i));
            pending.add(comm.receive(receive.get(i), from, tag + i));
        }
    }

    /** Contiguous F32 copies of the layout's chunks along the sequence dimension. */
    static List<Tensor> chunks(Tensor local, SequenceLayout layout) {
        List<Tensor> list = new ArrayList<>();
        for (int i = 0; i < layout.chunks().size(); i++) list.add(Ops.convert(layout.chunk(local, SEQ, i), DType.F32));
        return list;
    }

    static List<Tensor> zerosLike(List<Tensor> like) {
        List<Tensor> list = new ArrayList<>();
        for (Tensor t : like) list.add(Tensor.zeros(DType.F32, t.shape()));
        return list;
    }

    static Tensor join(List<Tensor> parts, int dim) {
        return parts.size() == 1 ? parts.getFirst() : Ops.concat(dim, parts.toArray(Tensor[]::new));
    }

    static void fillZero(Tensor t) {
        t.segment().asSlice(t.byteOffset(), t.dtype().byteSize(t.numel())).fill((byte) 0);
    }
}
