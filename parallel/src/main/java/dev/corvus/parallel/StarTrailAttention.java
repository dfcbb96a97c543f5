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
 * StarTrail (WallFacer) concentric-ring attention (papers.md 2): teams of C ranks replicate their
 * queries, keys and values, so each member needs only 1/C of the keys and values, which travel on
 * C² short sub-rings of G = P/C² ranks ({@link StarTrailTopology}). C = 1 is ring attention,
 * C = √P needs no ring at all.
 *
 * <p>Tensors are per-rank shards, [B, H, n, D] for queries and [B, Hkv, n, D] for keys and values,
 * holding the tokens {@link #layout} gives the rank (zigzag when causal, so every team block is
 * made of 2C chunks with known global positions and causal work stays balanced; contiguous
 * otherwise). A team's gathered tensor is its members' shards one after another.
 *
 * <p><b>Forward</b> (Algorithm 1): all-gather q, k, v over the team; send the team's k, v to the
 * placement target and receive the block placed here (kept locally when the target is this rank);
 * G iterations, each attending the team's queries to the block held (chunk pairs a causal mask
 * hides entirely are skipped) and merging with the online softmax, while the block moves one hop
 * along the sub-ring (no send after the last iteration); then ReduceScatter_combine: all-gather the
 * team's lse, lse* = logsumexp over members, scale each member's partial output by
 * exp(lse - lse*) (0 for rows no key reaches) and sum-reduce-scatter it along the tokens.
 *
 * <p><b>Backward</b> (2.4, keys and values stationary): all-gather k, v over the team and place
 * them again as in the forward; all-gather q, dOut and the rows' (lse, delta) into the team's
 * packet; G steps, each accumulating the packet's queries against the held keys (dk, dv stay here,
 * dq travels in the packet), with (q, dOut, lse, delta) sent on before the compute and dq after
 * it, so after the G-th hop every dq accumulator is home; sum-reduce-scatter dq over the team; send
 * dk, dv back along the inverse placement and sum-reduce-scatter them over the team (adding the
 * gradient of the C copies of each team's keys, one per team group).
 *
 * <p><b>Bytes per rank</b> (F32; q, kv, row = bytes of one rank's query, key and per-row shard;
 * s = 0 when the rank is its own placement target, else 1; exactly {@link CommVolume#starTrailForward}
 * and {@link CommVolume#starTrailBackward}):
 * <ul>
 *   <li>forward: all-gather (C-1)(q + 2kv) + (C-1)·C·row; placement s·2C·kv; ring (G-1)·2C·kv;
 *       reduce-scatter (C-1)·q.
 *   <li>backward: all-gather (C-1)(2q + 2kv + 2row); placement and return 2·s·2C·kv; packets
 *       (G-1)·C(2q + 2row) and, when G > 1, G·C·q of dq; reduce-scatter (C-1)(q + 2kv).
 * </ul>
 */
public final class StarTrailAttention {
    private StarTrailAttention() {}

    private static final int SEQ = RingAttention.SEQ;
    private static final int TAG_PLACE = 1000, TAG_RING = 1100, TAG_PACKET = 1200, TAG_DQ = 1300, TAG_RETURN = 1400;

    /** Tokens rank {@code rank} of {@code ranks} holds: zigzag when causal, contiguous otherwise. */
    public static SequenceLayout layout(int total, int rank, int ranks, boolean causal) {
        return RingAttention.layout(total, rank, ranks, causal);
    }

    /** The tokens of a team's gathered tensor: its members' chunks, member after member. */
    static SequenceLayout teamLayout(int total, StarTrailTopology topo, int team, boolean causal) {
        List<SequenceLayout.Chunk> chunks = new ArrayList<>();
        int at = 0;
        for (int rank : topo.teamRanks(team)) {
            SequenceLayout member = layout(total, rank, topo.ranks(), causal);
            for (SequenceLayout.Chunk c : member.chunks()) chunks.add(new SequenceLayout.Chunk(at + c.localStart(), c.globalStart(), c.length()));
            at += member.localLength();
        }
        return new SequenceLayout(total, chunks);
    }

    public static FlashAttention.Result forward(Communicator comm, int teamSize, Tensor q, Tensor k, Tensor v, boolean causal, float scale) {
        return forward(comm, teamSize, q, k, v, causal, Mask.NO_WINDOW, scale, 0f);
    }

    /**
     * With a sliding window ({@link Mask#NO_WINDOW} for none) and soft-capped scores (0 for none)
     * at global positions: chunk pairs outside the window are skipped, the traffic (gathers,
     * placement, the K/V ring, the combine) is unchanged.
     */
    public static FlashAttention.Result forward(Communicator comm, int teamSize, Tensor q, Tensor k, Tensor v, boolean causal, long window,
            float scale, float softcap) {
        RingAttention.requireCausalForWindow(causal, window);
        StarTrailTopology topo = new StarTrailTopology(comm.size(), teamSize);
        int total = q.size(SEQ) * comm.size();
        Communicator team = comm.subGroup(topo.teamRanks(topo.team(comm.rank())));
        FlashAttention.Result result = forward(comm, team, topo, total, q, k, v, causal, window, scale, softcap);
        team.close(); // only on success: a failure leaves the cluster to report the failed rank
        return result;
    }

    private static FlashAttention.Result forward(Communicator comm, Communicator team, StarTrailTopology topo, int total, Tensor q,
            Tensor k, Tensor v, boolean causal, long window, float scale, float softcap) {
        int r = comm.rank(), g = topo.ringLength(), next = topo.next(r), prev = topo.prev(r);
        Tensor qTeam = gather(team, q), kTeam = gather(team, k), vTeam = gather(team, v);
        Tensor[] held = place(comm, topo, kTeam, vTeam, TAG_PLACE);
        Tensor kCur = held[0], vCur = held[1];
        Tensor kNext = g > 1 ? Tensor.zeros(DType.F32, kCur.shape()) : null, vNext = g > 1 ? Tensor.zeros(DType.F32, vCur.shape()) : null;

        SequenceLayout mine = teamLayout(total, topo, topo.team(r), causal);
        List<Tensor> qc = RingAttention.chunks(qTeam, mine);
        List<Tensor> out = new ArrayList<>(), lse = new ArrayList<>();
        for (Tensor c : qc) {
            out.add(Tensor.zeros(DType.F32, c.shape()));
            lse.add(Tensor.full(Float.NEGATIVE_INFINITY, c.size(0), c.size(1), c.size(2)));
        }
        for (int i = 0; i < g; i++) {
            SequenceLayout source = teamLayout(total, topo, topo.heldTeam(r, i), causal);
            List<Communicator.Request> pending = new ArrayList<>();
            if (i < g - 1) {
                pending.add(comm.send(kCur, next, TAG_RING));
                pending.add(comm.send(vCur, next, TAG_RING + 1));
                pending.add(comm.receive(kNext, prev, TAG_RING));
                pending.add(comm.receive(vNext, prev, TAG_RING + 1));
            }
            try (MemoryScope stepScope = MemoryScope.open("startrail-step")) {
                for (int a = 0; a < qc.size(); a++) {
                    for (int b = 0; b < source.chunks().size(); b++) {
                        Mask mask = RingAttention.blockMask(mine.chunks().get(a), source.chunks().get(b), causal, window);
                        if (mask == null) continue;
                        FlashAttention.Result part = FlashAttention.forward(qc.get(a), source.chunk(kCur, SEQ, b), source.chunk(vCur, SEQ, b),
                                mask, scale, softcap);
                        FlashAttention.merge(out.get(a), lse.get(a), part.out(), part.lse());
                    }
                }
            }
            if (i < g - 1) {
                pending.forEach(Communicator.Request::await);
                Tensor t = kCur; kCur = kNext; kNext = t;
                t = vCur; vCur = vNext; vNext = t;
            }
        }
        return combine(team, RingAttention.join(out, SEQ), RingAttention.join(lse, SEQ));
    }

    public static FlashAttention.Gradients backward(Communicator comm, int teamSize, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
            Tensor dOut, boolean causal, float scale) {
        return backward(comm, teamSize, q, k, v, out, lse, dOut, causal, Mask.NO_WINDOW, scale, 0f);
    }

    /** The backward of {@link #forward(Communicator, int, Tensor, Tensor, Tensor, boolean, long, float, float)}. */
    public static FlashAttention.Gradients backward(Communicator comm, int teamSize, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
            Tensor dOut, boolean causal, long window, float scale, float softcap) {
        RingAttention.requireCausalForWindow(causal, window);
        StarTrailTopology topo = new StarTrailTopology(comm.size(), teamSize);
        int total = q.size(SEQ) * comm.size();
        Communicator team = comm.subGroup(topo.teamRanks(topo.team(comm.rank())));
        FlashAttention.Gradients grads = backward(comm, team, topo, total, q, k, v, out, lse, dOut, causal, window, scale, softcap);
        team.close();
        return grads;
    }

    private static FlashAttention.Gradients backward(Communicator comm, Communicator team, StarTrailTopology topo, int total, Tensor q,
            Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dOut, boolean causal, long window, float scale, float softcap) {
        int r = comm.rank(), g = topo.ringLength(), next = topo.next(r), prev = topo.prev(r);
        Tensor delta = FlashAttention.delta(dOut, out);

        // Keys and values go where the forward placed them and stay there.
        Tensor[] held = place(comm, topo, gather(team, k), gather(team, v), TAG_PLACE + 10);
        SequenceLayout keys = teamLayout(total, topo, topo.heldTeam(r, 0), causal);
        List<Tensor> kc = RingAttention.chunks(held[0], keys), vc = RingAttention.chunks(held[1], keys);
        List<Tensor> dk = RingAttention.zerosLike(kc), dv = RingAttention.zerosLike(vc);

        // The team's packet: queries, their output gradient, (lse, delta) stacked, and a dq accumulator.
        Tensor qP = gather(team, q), dOP = gather(team, dOut);
        Tensor rowsP = gather(team, Ops.concat(0, f32(lse).unsqueeze(0), delta.unsqueeze(0)), 3);
        List<Tensor> dqP = RingAttention.zerosLike(RingAttention.chunks(qP, teamLayout(total, topo, topo.team(r), causal)));
        Tensor qN = null, dON = null, rowsN = null;
        List<Tensor> dqN = null;
        if (g > 1) {
            qN = Tensor.zeros(DType.F32, qP.shape());
            dON = Tensor.zeros(DType.F32, dOP.shape());
            rowsN = Tensor.zeros(DType.F32, rowsP.shape());
            dqN = RingAttention.zerosLike(dqP);
        }
        for (int i = 0; i < g; i++) {
            SequenceLayout queries = teamLayout(total, topo, topo.visitingQueryTeam(r, i), causal);
            List<Communicator.Request> pending = new ArrayList<>();
            if (i < g - 1) {
                pending.add(comm.send(qP, next, TAG_PACKET));
                pending.add(comm.send(dOP, next, TAG_PACKET + 1));
                pending.add(comm.send(rowsP, next, TAG_PACKET + 2));
                pending.add(comm.receive(qN, prev, TAG_PACKET));
                pending.add(comm.receive(dON, prev, TAG_PACKET + 1));
                pending.add(comm.receive(rowsN, prev, TAG_PACKET + 2));
            }
            try (MemoryScope stepScope = MemoryScope.open("startrail-backward-step")) {
                List<Tensor> qc = RingAttention.chunks(qP, queries), dOc = RingAttention.chunks(dOP, queries);
                List<Tensor> lc = RingAttention.chunks(rowsP.select(0, 0), queries), dc = RingAttention.chunks(rowsP.select(0, 1), queries);
                for (int a = 0; a < qc.size(); a++) {
                    for (int b = 0; b < kc.size(); b++) {
                        Mask mask = RingAttention.blockMask(queries.chunks().get(a), keys.chunks().get(b), causal, window);
                        if (mask == null) continue;
                        FlashAttention.backwardAccumulate(qc.get(a), kc.get(b), vc.get(b), dOc.get(a), lc.get(a), dc.get(a), mask, scale,
                                softcap, dqP.get(a), dk.get(b), dv.get(b));
                    }
                }
            }
            // dq moves on with its queries; the G-th hop brings every accumulator home.
            if (g > 1) RingAttention.exchange(comm, dqP, dqN, next, prev, TAG_DQ, pending);
            pending.forEach(Communicator.Request::await);
            if (g > 1) {
                List<Tensor> t = dqP; dqP = dqN; dqN = t;
                for (Tensor z : dqN) RingAttention.fillZero(z);
            }
            if (i < g - 1) {
                Tensor t = qP; qP = qN; qN = t;
                t = dOP; dOP = dON; dON = t;
                t = rowsP; rowsP = rowsN; rowsN = t;
            }
        }
        Tensor dq = scatter(team, RingAttention.join(dqP, SEQ));
        Tensor[] mineKv = returnHome(comm, topo, RingAttention.join(dk, SEQ), RingAttention.join(dv, SEQ));
        return new FlashAttention.Gradients(dq, scatter(team, mineKv[0]), scatter(team, mineKv[1]));
    }

    /** ReduceScatter_combine: merges the members' partials of the team's rows and leaves each member its own rows. */
    static FlashAttention.Result combine(Communicator team, Tensor out, Tensor lse) {
        int c = team.size(), a = team.rank(), rows = lse.size(SEQ), n = rows / c;
        int[] shape = lse.shape();
        Tensor all = Tensor.zeros(DType.F32, c, shape[0], shape[1], shape[2]);
        team.allGather(lse.contiguous().unsqueeze(0), all, 0);
        float[] lses = all.toFloatArray(), mine = lse.toFloatArray();
        int count = mine.length;
        float[] star = new float[count], factor = new float[count];
        for (int i = 0; i < count; i++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int m = 0; m < c; m++) max = Math.max(max, lses[m * count + i]);
            if (max == Float.NEGATIVE_INFINITY) {
                star[i] = max; // no member saw a key: the row stays 0 with lse -inf
                continue;
            }
            double sum = 0;
            for (int m = 0; m < c; m++) sum += Math.exp(lses[m * count + i] - max);
            star[i] = (float) (max + Math.log(sum));
            factor[i] = (float) Math.exp(mine[i] - star[i]);
        }
        Tensor scaled = Ops.mul(out, Tensor.of(factor, shape[0], shape[1], shape[2], 1));
        int[] outShape = out.shape();
        outShape[SEQ] = n;
        Tensor local = Tensor.zeros(DType.F32, outShape);
        team.reduceScatter(scaled, local, SEQ);
        Tensor lseStar = Tensor.of(star, shape).narrow(SEQ, a * n, n).contiguous();
        return new FlashAttention.Result(local, lseStar);
    }

    /** The team's tensor: every member's shard, in member order, along the sequence (F32). */
    static Tensor gather(Communicator team, Tensor local) {
        return gather(team, local, SEQ);
    }

    private static Tensor gather(Communicator team, Tensor local, int dim) {
        Tensor in = f32(local);
        int[] shape = in.shape();
        shape[dim] *= team.size();
        Tensor out = Tensor.zeros(DType.F32, shape);
        team.allGather(in, out, dim);
        return out;
    }

    /** Sum over the team, keeping this member's slab of the sequence. */
    private static Tensor scatter(Communicator team, Tensor full) {
        int[] shape = full.shape();
        shape[SEQ] /= team.size();
        Tensor out = Tensor.zeros(DType.F32, shape);
        team.reduceScatter(full.contiguous(), out, SEQ);
        return out;
    }

    /** Initial placement (Algorithm 2): sends this team's k, v to the target and returns the block placed here. */
    private static Tensor[] place(Communicator comm, StarTrailTopology topo, Tensor kTeam, Tensor vTeam, int tag) {
        int r = comm.rank(), target = topo.placementTarget(r), source = topo.placementSource(r);
        if (target == r) return new Tensor[] {kTeam, vTeam};
        Tensor kHeld = Tensor.zeros(DType.F32, kTeam.shape()), vHeld = Tensor.zeros(DType.F32, vTeam.shape());
        List<Communicator.Request> pending = List.of(comm.send(kTeam, target, tag), comm.send(vTeam, target, tag + 1),
                comm.receive(kHeld, source, tag), comm.receive(vHeld, source, tag + 1));
        pending.forEach(Communicator.Request::await);
        return new Tensor[] {kHeld, vHeld};
    }

    /** The inverse placement: sends the gradients of the block held here to its team, and returns those of this team's block. */
    private static Tensor[] returnHome(Communicator comm, StarTrailTopology topo, Tensor dk, Tensor dv) {
        int r = comm.rank(), owner = topo.placementSource(r), holder = topo.placementTarget(r);
        if (owner == r) return new Tensor[] {dk, dv};
        Tensor dkMine = Tensor.zeros(DType.F32, dk.shape()), dvMine = Tensor.zeros(DType.F32, dv.shape());
        List<Communicator.Request> pending = List.of(comm.send(dk, owner, TAG_RETURN), comm.send(dv, owner, TAG_RETURN + 1),
                comm.receive(dkMine, holder, TAG_RETURN), comm.receive(dvMine, holder, TAG_RETURN + 1));
        pending.forEach(Communicator.Request::await);
        return new Tensor[] {dkMine, dvMine};
    }

    private static Tensor f32(Tensor t) {
        return t.dtype() == DType.F32 ? t.contiguous() : Ops.convert(t, DType.F32);
    }
}
