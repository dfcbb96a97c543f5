package dev.corvus.parallel;

import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Which tokens of a length-{@code total} sequence one rank holds: an ordered list of contiguous
 * chunks, each a run of global positions stored one after another in the rank's local tensor.
 * Sequence-parallel schemes use it to shard inputs, to give every block of keys and queries its
 * global positions (so causal masks stay exact), and to put outputs back together.
 */
public record SequenceLayout(int total, List<Chunk> chunks) {
    /** {@code length} tokens at global positions [globalStart, globalStart + length), local rows [localStart, ...). */
    public record Chunk(int localStart, int globalStart, int length) {
        public int globalEnd() {
            return globalStart + length;
        }
    }

    public SequenceLayout {
        chunks = List.copyOf(chunks);
    }

    /** Rows this rank holds. */
    public int localLength() {
        int n = 0;
        for (Chunk c : chunks) n += c.length();
        return n;
    }

    /** Rank r of p holds tokens [r·n/p, (r+1)·n/p): balanced for full attention, not for causal. */
    public static SequenceLayout contiguous(int total, int rank, int ranks) {
        check(total, rank, ranks, ranks);
        int len = total / ranks;
        return new SequenceLayout(total, List.of(new Chunk(0, rank * len, len)));
    }

    /**
     * Zigzag: the sequence is cut into 2p equal chunks and rank r holds chunks r and 2p-1-r, so
     * under a causal mask every rank has the same amount of unmasked work (papers.md 1.3).
     */
    public static SequenceLayout zigzag(int total, int rank, int ranks) {
        check(total, rank, ranks, 2 * ranks);
        int len = total / (2 * ranks);
        return new SequenceLayout(total, List.of(new Chunk(0, rank * len, len), new Chunk(len, (2 * ranks - 1 - rank) * len, len)));
    }

    private static void check(int total, int rank, int ranks, int parts) {
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new IllegalArgumentException("rank " + rank + " is outside [0, " + ranks + ")");
        if (total % parts != 0) {
            throw new IllegalArgumentException("sequence length " + total + " does not split into " + parts + " equal chunks for " + ranks + " ranks");
        }
    }

    /** The local rows of a full tensor: its chunks along {@code seqDim}, concatenated (a copy). */
    public Tensor shard(Tensor full, int seqDim) {
        if (full.size(seqDim) != total) {
            throw new IllegalArgumentException("shard: dimension " + seqDim + " of " + java.util.Arrays.toString(full.shape())
                    + " is " + full.size(seqDim) + ", the layout covers " + total);
        }
        Tensor[] parts = new Tensor[chunks.size()];
        for (int i = 0; i < parts.length; i++) parts[i] = full.narrow(seqDim, chunks.get(i).globalStart(), chunks.get(i).length());
        return parts.length == 1 ? parts[0].contiguous() : Ops.concat(seqDim, parts);
    }

    /** The local rows of chunk i (a view of the local tensor). */
    public Tensor chunk(Tensor local, int seqDim, int i) {
        Chunk c = chunks.get(i);
        return local.narrow(seqDim, c.localStart(), c.length());
    }

    /** Puts every rank's local tensor back into one full tensor. */
    public static Tensor unshard(List<Tensor> locals, List<SequenceLayout> layouts, int seqDim) {
        List<Tensor> pieces = new ArrayList<>();
        List<int[]> order = new ArrayList<>();
        for (int r = 0; r < locals.size(); r++) {
            SequenceLayout l = layouts.get(r);
            for (int i = 0; i < l.chunks().size(); i++) {
                order.add(new int[] {l.chunks().get(i).globalStart(), pieces.size()});
                pieces.add(l.chunk(locals.get(r), seqDim, i));
            }
        }
        order.sort((a, b) -> Integer.compare(a[0], b[0]));
        Tensor[] sorted = new Tensor[pieces.size()];
        for (int i = 0; i < sorted.length; i++) sorted[i] = pieces.get(order.get(i)[1]);
        return Ops.concat(seqDim, sorted);
    }

    /** Query-key pairs a causal mask leaves visible between two chunks (all of them without a mask). */
    public static long visiblePairs(Chunk q, Chunk k, boolean causal) {
        if (!causal) return (long) q.length() * k.length();
        long pairs = 0;
        for (int i = 0; i < q.length(); i++) {
            long qPos = q.globalStart() + i;
            pairs += Math.max(0, Math.min(k.length(), qPos - k.globalStart() + 1));
        }
        return pairs;
    }
}
