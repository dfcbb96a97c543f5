package dev.corvus.parallel;

import dev.corvus.attention.FlashAttention;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.OpKind;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a sequence-parallel attention scheme on in-JVM ranks: shards full inputs by the scheme's
 * layout, runs forward and backward on every rank, and puts outputs and gradients back together
 * for comparison with single-device attention. Also reports each rank's bytes sent.
 */
public final class ParallelHarness {
    private ParallelHarness() {}

    public static final Duration TIMEOUT = Duration.ofSeconds(60);

    /** One scheme as seen by the harness. */
    public interface Scheme {
        SequenceLayout layout(int total, int rank, int ranks, boolean causal);

        FlashAttention.Result forward(Communicator comm, Tensor q, Tensor k, Tensor v, boolean causal, float scale);

        FlashAttention.Gradients backward(Communicator comm, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dOut,
                boolean causal, float scale);
    }

    public static final Scheme RING = new Scheme() {
        public SequenceLayout layout(int total, int rank, int ranks, boolean causal) {
            return RingAttention.layout(total, rank, ranks, causal);
        }

        public FlashAttention.Result forward(Communicator c, Tensor q, Tensor k, Tensor v, boolean causal, float scale) {
            return RingAttention.forward(c, q, k, v, causal, scale);
        }

        public FlashAttention.Gradients backward(Communicator c, Tensor q, Tensor k, Tensor v, Tensor o, Tensor l, Tensor d, boolean causal, float s) {
            return RingAttention.backward(c, q, k, v, o, l, d, causal, s);
        }
    };

    public static final Scheme ULYSSES = new Scheme() {
        public SequenceLayout layout(int total, int rank, int ranks, boolean causal) {
            return UlyssesAttention.layout(total, rank, ranks);
        }

        public FlashAttention.Result forward(Communicator c, Tensor q, Tensor k, Tensor v, boolean causal, float scale) {
            return UlyssesAttention.forward(c, q, k, v, causal, scale);
        }

        public FlashAttention.Gradients backward(Communicator c, Tensor q, Tensor k, Tensor v, Tensor o, Tensor l, Tensor d, boolean causal, float s) {
            return UlyssesAttention.backward(c, q, k, v, o, l, d, causal, s);
        }
    };

    /** StarTrail with teams of {@code teamSize} ranks. */
    public static Scheme starTrail(int teamSize) {
        return new Scheme() {
            public SequenceLayout layout(int total, int rank, int ranks, boolean causal) {
                return StarTrailAttention.layout(total, rank, ranks, causal);
            }

            public FlashAttention.Result forward(Communicator c, Tensor q, Tensor k, Tensor v, boolean causal, float scale) {
                return StarTrailAttention.forward(c, teamSize, q, k, v, causal, scale);
            }

            public FlashAttention.Gradients backward(Communicator c, Tensor q, Tensor k, Tensor v, Tensor o, Tensor l, Tensor d, boolean causal, float s) {
                return StarTrailAttention.backward(c, teamSize, q, k, v, o, l, d, causal, s);
            }
        };
    }

    /** What one rank produced, as plain arrays (its scope is gone by the time the test reads them). */
    record RankOutput(float[] out, float[] lse, float[] dq, float[] dk, float[] dv, long forwardBytes, long backwardBytes,
            int[] qShape, int[] kShape) {}

    /** Full-sequence results put back together, plus every rank's bytes. */
    record Gathered(Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv, long[] forwardBytes, long[] backwardBytes) {}

    static Gathered run(Scheme scheme, int ranks, Tensor q, Tensor k, Tensor v, Tensor dOut, boolean causal, float scale) {
        int n = q.size(2);
        List<RankOutput> outputs = InJvmCluster.run(ranks, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                SequenceLayout layout = scheme.layout(n, comm.rank(), ranks, causal);
                Tensor ql = layout.shard(q, 2), kl = layout.shard(k, 2), vl = layout.shard(v, 2), dl = layout.shard(dOut, 2);
                long before = comm.stats().totalBytes();
                FlashAttention.Result r = scheme.forward(comm, ql, kl, vl, causal, scale);
                long afterForward = comm.stats().totalBytes();
                FlashAttention.Gradients g = scheme.backward(comm, ql, kl, vl, r.out(), r.lse(), dl, causal, scale);
                long afterBackward = comm.stats().totalBytes();
                return new RankOutput(r.out().toFloatArray(), r.lse().toFloatArray(), g.dq().toFloatArray(), g.dk().toFloatArray(),
                        g.dv().toFloatArray(), afterForward - before, afterBackward - afterForward, ql.shape(), kl.shape());
            }
        });
        List<SequenceLayout> layouts = new ArrayList<>();
        List<Tensor> out = new ArrayList<>(), lse = new ArrayList<>(), dq = new ArrayList<>(), dk = new ArrayList<>(), dv = new ArrayList<>();
        long[] fwd = new long[ranks], bwd = new long[ranks];
        for (int r = 0; r < ranks; r++) {
            RankOutput o = outputs.get(r);
            layouts.add(scheme.layout(n, r, ranks, causal));
            int[] qs = o.qShape(), ks = o.kShape();
            out.add(Tensor.of(o.out(), qs));
            lse.add(Tensor.of(o.lse(), qs[0], qs[1], qs[2]));
            dq.add(Tensor.of(o.dq(), qs));
            dk.add(Tensor.of(o.dk(), ks));
            dv.add(Tensor.of(o.dv(), ks));
            fwd[r] = o.forwardBytes();
            bwd[r] = o.backwardBytes();
        }
        return new Gathered(SequenceLayout.unshard(out, layouts, 2), SequenceLayout.unshard(lse, layouts, 2),
                SequenceLayout.unshard(dq, layouts, 2), SequenceLayout.unshard(dk, layouts, 2), SequenceLayout.unshard(dv, layouts, 2),
                fwd, bwd);
    }

    /** Counted bytes of one kind, for tests that look at a single collective. */
    static long bytes(Communicator comm, OpKind kind) {
        return comm.stats().bytes(kind);
    }
}
