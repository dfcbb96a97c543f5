package dev.corvus.train;

import dev.corvus.attention.FlashAttention;
import dev.corvus.comm.Communicator;
import dev.corvus.parallel.CommVolume;
import dev.corvus.parallel.RingAttention;
import dev.corvus.parallel.SequenceLayout;
import dev.corvus.parallel.StarTrailAttention;
import dev.corvus.parallel.StarTrailTopology;
import dev.corvus.parallel.UlyssesAttention;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How causal attention runs over a sequence split across P ranks (papers.md 1.2-1.4, 2): each
 * scheme's shard layout, what it accepts, its forward and backward and its exact bytes per rank.
 * Ring and StarTrail hold the zigzag layout (rank r holds chunks r and 2P-1-r of 2P, so causal
 * work is balanced) and accept grouped KV heads as they are; Ulysses holds contiguous shards and
 * moves heads, so it needs the query heads divisible by P and repeats each KV head (the fewest
 * times that make the KV heads divisible by P) when they are not.
 */
public enum SequenceParallelScheme {
    RING, STARTRAIL, ULYSSES;

    /** The scheme named {@code name} (ring, startrail, ulysses; any case), or an error listing them. */
    public static SequenceParallelScheme parse(String name) {
        for (SequenceParallelScheme s : values()) if (s.name().equalsIgnoreCase(name)) return s;
        throw new IllegalArgumentException("unknown sequence-parallel scheme '" + name + "'; expected ring, startrail or ulysses");
    }

    /** The team sizes StarTrail accepts on {@code ranks} ranks: C with C | P and C² | P (1 is ring); {1} for the other schemes. */
    public List<Integer> teamSizes(int ranks) {
        List<Integer> sizes = new ArrayList<>();
        if (this != STARTRAIL) return List.of(1);
        for (int c = 1; (long) c * c <= ranks; c++) if (ranks % ((long) c * c) == 0) sizes.add(c);
        return sizes;
    }

    /** Tokens per chunk of the layout: 2P equal chunks (zigzag) or P (contiguous); a sequence is padded at its end to a multiple. */
    public int chunkMultiple(int ranks) {
        return this == ULYSSES ? ranks : 2 * ranks;
    }

    /** The shard of rank {@code rank} of {@code ranks} over {@code total} tokens (a multiple of {@link #chunkMultiple}). */
    public SequenceLayout layout(int total, int rank, int ranks) {
        return this == ULYSSES ? UlyssesAttention.layout(total, rank, ranks) : RingAttention.layout(total, rank, ranks, true);
    }

    /**
     * Checks that this scheme runs with these ranks, team size and heads; an error saying what to
     * change otherwise.
     */
    public void check(int ranks, int teamSize, int heads, int kvHeads) {
        checkTeamSize(ranks, teamSize);
        if (this == ULYSSES) kvExpansion(ranks, heads, kvHeads);
    }

    /** Checks that this scheme runs on {@code ranks} ranks with team size {@code teamSize} (the heads aside). */
    public void checkTeamSize(int ranks, int teamSize) {
        if (ranks < 1) throw new IllegalArgumentException(label(teamSize) + ": " + ranks + " ranks");
        if (this == STARTRAIL) {
            if (!teamSizes(ranks).contains(teamSize)) {
                throw new IllegalArgumentException("startrail on " + ranks + " ranks: team size " + teamSize + " is not valid (C must divide P and C² must divide P);"
                        + " valid team sizes are " + teamSizes(ranks));
            }
        } else if (teamSize != 1) {
            throw new IllegalArgumentException(label(teamSize) + ": a team size applies to startrail only, got " + teamSize);
        }
    }

    /**
     * How many times Ulysses repeats each KV head: the least f with P | kvHeads·f and
     * kvHeads·f | heads (1 for the other schemes, which take grouped KV heads as they are).
     */
    public int kvExpansion(int ranks, int heads, int kvHeads) {
        if (this != ULYSSES) return 1;
        if (heads % ranks != 0) {
            throw new IllegalArgumentException("ulysses on " + ranks + " ranks needs the query heads divisible by the ranks; the model has " + heads
                    + " heads (use ring or startrail, or a rank count dividing " + heads + ")");
        }
        for (int f = 1; kvHeads * f <= heads; f++) {
            if ((kvHeads * f) % ranks == 0 && heads % (kvHeads * f) == 0) return f;
        }
        throw new IllegalArgumentException("ulysses on " + ranks + " ranks: no repetition of the " + kvHeads + " KV heads divides both the ranks and the "
                + heads + " query heads");
    }

    /** Causal attention, within a sliding window at global positions ({@code Mask.NO_WINDOW}: none), scores soft-capped (0: none). */
    FlashAttention.Result forward(Communicator comm, int teamSize, Tensor q, Tensor k, Tensor v, long window, float scale, float softcap) {
        return switch (this) {
            case RING -> RingAttention.forward(comm, q, k, v, true, window, scale, softcap);
            case STARTRAIL -> StarTrailAttention.forward(comm, teamSize, q, k, v, true, window, scale, softcap);
            case ULYSSES -> UlyssesAttention.forward(comm, q, k, v, true, window, scale, softcap);
        };
    }

    FlashAttention.Gradients backward(Communicator comm, int teamSize, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dOut,
            long window, float scale, float softcap) {
        return switch (this) {
            case RING -> RingAttention.backward(comm, q, k, v, out, lse, dOut, true, window, scale, softcap);
            case STARTRAIL -> StarTrailAttention.backward(comm, teamSize, q, k, v, out, lse, dOut, true, window, scale, softcap);
            case ULYSSES -> UlyssesAttention.backward(comm, q, k, v, out, lse, dOut, true, window, scale, softcap);
        };
    }

    /**
     * Bytes rank {@code rank} sends for one attention call forward and backward on a sequence of
     * {@code total} tokens (padded), as {@link CommVolume} gives them; Ulysses counts its repeated
     * KV heads. A sliding window or soft-capping changes no byte: ring and StarTrail skip the
     * block pairs outside the window but still pass every K/V shard around the whole ring (each
     * shard's later holders may need it), Ulysses moves the same heads.
     */
    public long attentionBytes(int total, int ranks, int rank, int teamSize, int heads, int kvHeads, int headDim) {
        int hkv = kvHeads * kvExpansion(ranks, heads, kvHeads);
        CommVolume.Problem x = new CommVolume.Problem(1, heads, hkv, total, headDim, ranks);
        return switch (this) {
            case RING -> CommVolume.ringForward(x) + CommVolume.ringBackward(x);
            case STARTRAIL -> CommVolume.starTrailForward(x, teamSize)[rank] + CommVolume.starTrailBackward(x, teamSize)[rank];
            case ULYSSES -> CommVolume.ulyssesForward(x) + CommVolume.ulyssesBackward(x);
        };
    }

    /** "ring", "startrail C=2", "ulysses". */
    public String label(int teamSize) {
        String name = name().toLowerCase(Locale.ROOT);
        return this == STARTRAIL ? name + " C=" + teamSize : name;
    }
}
