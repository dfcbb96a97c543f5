package dev.corvus.parallel.dsp;

import java.util.Arrays;

/**
 * Where a DSP activation lives (papers.md 3.5): the global (unpadded) sizes, the one dimension
 * sharded over {@code ranks} ranks, and the padding. Padding exists only along the sharded
 * dimension (papers.md 3.4): its global size is rounded up to a multiple of the rank count with
 * fill at the end, and rank r holds the contiguous slab [r·chunk, (r+1)·chunk) of the padded
 * dimension, so the pad lands on the last rank(s). Every other dimension is complete and unpadded.
 *
 * @param globalSizes the full activation's sizes, unpadded
 * @param shardDim    the sharded dimension
 * @param ranks       P, the ranks the dimension is cut over
 */
public record DspLayout(int[] globalSizes, int shardDim, int ranks) {
    public DspLayout {
        globalSizes = globalSizes.clone();
        if (ranks < 1) throw new IllegalArgumentException("DSP needs at least one rank, got " + ranks);
        if (shardDim < 0 || shardDim >= globalSizes.length) {
            throw new IllegalArgumentException("shard dimension " + shardDim + " is outside a rank-" + globalSizes.length + " activation "
                    + Arrays.toString(globalSizes));
        }
        for (int s : globalSizes) {
            if (s < 1) throw new IllegalArgumentException("DSP activation sizes must be positive, got " + Arrays.toString(globalSizes));
        }
    }

    /** Fill entries that round {@code size} up to a multiple of {@code ranks}: (P - size % P) % P. */
    public static int padFor(int size, int ranks) {
        return (ranks - size % ranks) % ranks;
    }

    @Override
    public int[] globalSizes() {
        return globalSizes.clone();
    }

    public int globalSize(int dim) {
        return globalSizes[dim];
    }

    /** Padding along {@code dim}: non-zero only for the sharded dimension. */
    public int pad(int dim) {
        return dim == shardDim ? padFor(globalSizes[dim], ranks) : 0;
    }

    /** The size of {@code dim} with its padding. */
    public int paddedSize(int dim) {
        return globalSizes[dim] + pad(dim);
    }

    /** Entries of the sharded dimension on each rank (padded size / P). */
    public int chunk() {
        return paddedSize(shardDim) / ranks;
    }

    /** Real (non-pad) entries of the sharded dimension on {@code rank}. */
    public int validOn(int rank) {
        return Math.clamp(globalSizes[shardDim] - (long) rank * chunk(), 0, chunk());
    }

    /** Every rank's local shape: the global one with the sharded dimension cut to {@link #chunk()}. */
    public int[] localShape() {
        int[] s = globalSizes.clone();
        s[shardDim] = chunk();
        return s;
    }

    /** The padded full shape (M of papers.md 3.6 is its element count). */
    public int[] paddedShape() {
        int[] s = globalSizes.clone();
        s[shardDim] = paddedSize(shardDim);
        return s;
    }

    /** The layout after a dynamic switch to shard {@code dim} instead. */
    public DspLayout switchTo(int dim) {
        return new DspLayout(globalSizes, dim, ranks);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DspLayout l && l.shardDim == shardDim && l.ranks == ranks && Arrays.equals(l.globalSizes, globalSizes);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(globalSizes) + shardDim) + ranks;
    }

    @Override
    public String toString() {
        return "DspLayout" + Arrays.toString(globalSizes) + " sharded on dim " + shardDim + " over " + ranks + " ranks (pad " + pad(shardDim) + ")";
    }
}
