package dev.corvus.train;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.Communicator;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.Operand;
import java.util.Objects;

/**
 * Causal attention (optionally within a sliding window at global positions, scores optionally
 * soft-capped) over a sequence split across the ranks of {@code comm}, as an op a
 * {@link dev.corvus.tensor.op.Tape} records: operands are this rank's shard q [1, heads, n, D],
 * k and v [1, kvHeads, n, D] (rows in the scheme's {@link SequenceParallelScheme#layout}, RoPE
 * already applied at their global positions), the result its rows of the attention over the
 * whole sequence. The forward runs the scheme's forward and keeps its log-sum-exp in
 * {@code saved}; the backward rule runs the scheme's backward from it, so a training step does one
 * forward's and one backward's traffic per layer (no recomputation). Every rank of the group must
 * run the op (and its backward) in the same order: it is a collective.
 *
 * <p><b>Under activation checkpointing</b> the block holding this op is run twice, in the forward
 * and again in the backward ({@link dev.corvus.tensor.op.Tape#checkpoint}). A {@link Saved} made
 * with {@link Saved#keepingOutput} keeps the first run's output and log-sum-exp (in the scope it
 * names, which outlives the checkpointed segment), and the second run on the same {@code saved}
 * returns a copy of that output instead of running the scheme again: the recomputation repeats
 * no communication and no O(N²) attention, so the bytes per step stay those of one forward and
 * one backward ({@link SequenceParallelGradients#expectedBytes}), for the price of holding out and
 * lse ([n, heads·D] + [n, heads] F32 per layer) beside the block's input. Repeating the forward
 * instead would add a whole forward's traffic per layer (for ring, the P - 1 K/V hops) and its
 * attention FLOPs, the costliest part of a long sequence, to save memory that is about the size of
 * the block input checkpointing already keeps.
 *
 * <p>Not in {@link dev.corvus.tensor.op.OpRegistry#all()}: the registry's conformance test runs
 * each op alone on one thread against the scalar backend's reference, and this op needs its
 * peers' ranks running the same call at the same time (on one rank it is plain causal attention,
 * which {@link dev.corvus.attention.Attention} already is). SequenceParallelGradientsTest checks it
 * against the one-device decoder instead.
 *
 * @param saved the forward's log-sum-exp for the backward: one per application, so make the
 *              attributes with {@link #of} for every call; under checkpointing one
 *              {@link Saved#keepingOutput} for an application and its recomputation
 */
public record SequenceParallelAttention(Communicator comm, SequenceParallelScheme scheme, int teamSize, float scale, long window, float softcap,
        Saved saved) {
    public static final OpDef<SequenceParallelAttention> OP = new Def();

    public SequenceParallelAttention {
        Objects.requireNonNull(comm, "comm");
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(saved, "saved");
        if (window <= 0) throw new IllegalArgumentException("sequenceParallelAttention: sliding window " + window + " must be positive (Mask.NO_WINDOW for none)");
        if (!(softcap >= 0f) || Float.isInfinite(softcap)) {
            throw new IllegalArgumentException("sequenceParallelAttention: softcap must be a positive number or 0 for none, got " + softcap);
        }
    }

    /** Plain causal attention: no window, no soft-capping. */
    public SequenceParallelAttention(Communicator comm, SequenceParallelScheme scheme, int teamSize, float scale, Saved saved) {
        this(comm, scheme, teamSize, scale, Mask.NO_WINDOW, 0f, saved);
    }

    /** Attributes for one application. */
    public static SequenceParallelAttention of(Communicator comm, SequenceParallelScheme scheme, int teamSize, float scale) {
        return new SequenceParallelAttention(comm, scheme, teamSize, scale, new Saved());
    }

    /** What the forward leaves for the backward (and, when keeping the output, for a recomputed forward). */
    public static final class Saved {
        private final MemoryScope keep;
        private Tensor lse, out;

        /** Saves the log-sum-exp only, in the scope current when the forward runs. */
        public Saved() {
            this.keep = null;
        }

        private Saved(MemoryScope keep) {
            this.keep = Objects.requireNonNull(keep, "keep");
        }

        /**
         * Saves the output and log-sum-exp in {@code keep}, and answers a second forward (the
         * checkpointed block run again in backward, on equal q, k and v) from them without
         * communicating. {@code keep} must stay open until the backward is done.
         */
        public static Saved keepingOutput(MemoryScope keep) {
            return new Saved(keep);
        }

        @Override
        public String toString() {
            return lse == null ? "nothing saved" : (out != null ? "out and " : "") + "lse " + Shapes.str(lse.shape());
        }
    }

    private static final class Def extends OpDef<SequenceParallelAttention> {
        Def() {
            super("sequenceParallelAttention", "SequenceParallelAttention.OP", SequenceParallelAttention.class);
        }

        @Override
        public String label(SequenceParallelAttention a) {
            return "sequenceParallelAttention(" + a.scheme().label(a.teamSize()) + ")";
        }

        @Override
        public Output infer(SequenceParallelAttention a, Operand... in) {
            String op = label(a);
            if (in.length != 3) throw new IllegalArgumentException(op + ": " + in.length + " operands, expected q, k and v");
            Operand q = in[0], k = in[1], v = in[2];
            if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4 || q.size(0) != 1 || k.size(0) != 1 || !java.util.Arrays.equals(k.shape(), v.shape())
                    || k.size(2) != q.size(2) || k.size(3) != q.size(3) || k.size(1) == 0 || q.size(1) % k.size(1) != 0) {
                throw new IllegalArgumentException(op + ": expected q [1, heads, n, D] and k, v [1, kvHeads, n, D] with kvHeads dividing heads, got q "
                        + Shapes.str(q.shape()) + ", k " + Shapes.str(k.shape()) + ", v " + Shapes.str(v.shape()));
            }
            int p = a.comm().size(), n = q.size(2);
            a.scheme().check(p, a.teamSize(), q.size(1), k.size(1));
            int perRank = a.scheme().chunkMultiple(p) / p;
            if (n % perRank != 0) {
                throw new IllegalArgumentException(op + ": a shard of " + n + " rows does not hold whole zigzag chunks (the sequence of " + (long) n * p
                        + " tokens must be a multiple of " + a.scheme().chunkMultiple(p) + " on " + p + " ranks; pad it at the end)");
            }
            return new Output(DType.F32, q.shape());
        }

        @Override
        public Tensor run(Backend backend, SequenceParallelAttention a, Tensor... in) {
            infer(a, in);
            int[] qs = in[0].shape();
            Saved saved = a.saved();
            if (saved.out != null) {
                // the checkpointed block run again in backward: the first run's output, no communication
                if (!java.util.Arrays.equals(saved.out.shape(), qs)) {
                    throw new IllegalStateException(label(a) + ": run again on q " + Shapes.str(qs) + ", but the kept output is " + Shapes.str(saved.out.shape())
                            + " (a Saved keeping its output serves one attention call and its recomputation)");
                }
                return Ops.copy(saved.out);
            }
            Tensor out = saved.keep != null ? Tensor.zeros(saved.keep, DType.F32, qs) : Tensor.zeros(DType.F32, qs);
            Tensor lse = saved.keep != null ? Tensor.zeros(saved.keep, DType.F32, qs[0], qs[1], qs[2]) : Tensor.zeros(DType.F32, qs[0], qs[1], qs[2]);
            // the scheme's buffers (received blocks, chunk copies) are freed here; only out and lse stay for the backward
            try (MemoryScope work = MemoryScope.open("sequence-parallel attention")) {
                int f = expansion(a, in);
                FlashAttention.Result r = a.scheme().forward(a.comm(), a.teamSize(), f32(in[0]), repeatHeads(f32(in[1]), f), repeatHeads(f32(in[2]), f),
                        a.window(), a.scale(), a.softcap());
                Ops.copyInto(r.out(), out);
                Ops.copyInto(r.lse(), lse);
            }
            saved.lse = lse;
            if (saved.keep != null) saved.out = out;
            return out;
        }

        @Override
        public int[] flow(SequenceParallelAttention a, Operand[] in, int[] outShape, int d) {
            return null; // a collective over the whole sequence: no chunk loop can cut it
        }

        @Override
        public Backward<SequenceParallelAttention> backward() {
            return (a, in, out, g) -> {
                if (a.saved().lse == null) throw new IllegalStateException(label(a) + ": backward before the forward saved its log-sum-exp");
                Tensor dq = Tensor.zeros(DType.F32, in[0].shape()), dk = Tensor.zeros(DType.F32, in[1].shape()), dv = Tensor.zeros(DType.F32, in[2].shape());
                try (MemoryScope work = MemoryScope.open("sequence-parallel attention backward")) {
                    int f = expansion(a, in);
                    FlashAttention.Gradients d = a.scheme().backward(a.comm(), a.teamSize(), f32(in[0]), repeatHeads(f32(in[1]), f),
                            repeatHeads(f32(in[2]), f), out, a.saved().lse, f32(g), a.window(), a.scale(), a.softcap());
                    Ops.copyInto(d.dq(), dq);
                    Ops.copyInto(sumRepeats(d.dk(), f), dk);
                    Ops.copyInto(sumRepeats(d.dv(), f), dv);
                }
                return new Tensor[] {dq, dk, dv};
            };
        }
    }

    private static int expansion(SequenceParallelAttention a, Tensor[] in) {
        return a.scheme().kvExpansion(a.comm().size(), in[0].size(1), in[1].size(1));
    }

    private static Tensor f32(Tensor t) {
        return t.dtype() == DType.F32 ? t.contiguous() : Ops.convert(t, DType.F32);
    }

    /** [1, Hkv, n, D] to [1, Hkv·f, n, D], head j repeated as heads j·f .. j·f+f-1 (query head h still reads the same KV). */
    private static Tensor repeatHeads(Tensor kv, int f) {
        if (f == 1) return kv;
        int[] s = kv.shape();
        return kv.unsqueeze(2).expand(s[0], s[1], f, s[2], s[3]).contiguous().view(s[0], s[1] * f, s[2], s[3]);
    }

    /** The gradient of {@link #repeatHeads}: each head's f copies summed. */
    private static Tensor sumRepeats(Tensor g, int f) {
        if (f == 1) return g;
        int[] s = g.shape();
        return Ops.sum(g.view(s[0], s[1] / f, f, s[2], s[3]), 2, false);
    }
}
