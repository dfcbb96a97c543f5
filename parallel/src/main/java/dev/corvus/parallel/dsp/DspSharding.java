package dev.corvus.parallel.dsp;

import dev.corvus.comm.Communicator;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/**
 * The three DSP primitives (papers.md 3.2-3.4) on row-major F32 activations, with padding, and
 * their backward functions (Corvus has no autograd):
 *
 * <ul>
 *   <li>{@link #split}: unsharded to sharded along a dim; no communication. Pads the dim at the
 *       end to a multiple of P and keeps slab {@code rank}.
 *   <li>{@link #dynamicSwitch}: sharded along one dim to sharded along another; one all-to-all
 *       (scatter the new dim, gather the old one). Pads the new dim first and strips the old
 *       dim's pad after, so padding only ever exists along the currently sharded dim.
 *   <li>{@link #gather}: sharded to unsharded; one all-gather, then the pad is dropped.
 * </ul>
 *
 * Outputs are allocated in the current {@link dev.corvus.tensor.MemoryScope}. Every rank of the
 * group must make the same calls in the same order, with the same layout.
 */
public final class DspSharding {
    private DspSharding() {}

    // ---------------------------------------------------------------- forward

    /** This rank's zero-padded shard of {@code full} along {@code dim}. */
    public static Tensor split(Communicator comm, Tensor full, int dim) {
        return split(comm, full, new DspLayout(full.shape(), dim, comm.size()), 0f);
    }

    /**
     * This rank's shard of {@code full} (shape {@code layout.globalSizes()}): slab {@code rank} of
     * the sharded dim padded at the end with {@code fill} (zeros, a mask value, or NaN in tests).
     */
    public static Tensor split(Communicator comm, Tensor full, DspLayout layout, float fill) {
        checkGroup("split", comm, layout);
        requireShape("split", "full activation", full, layout.globalSizes());
        int dim = layout.shardDim(), chunk = layout.chunk(), valid = layout.validOn(comm.rank());
        Tensor slab = full.narrow(dim, Math.min(comm.rank() * chunk, full.size(dim)), valid);
        if (valid == chunk) return f32(slab);
        Tensor local = Tensor.full(fill, layout.localShape());
        if (valid > 0) Ops.copyInto(slab, local.narrow(dim, 0, valid));
        return local;
    }

    /** The full activation along {@code dim} (of unpadded size {@code globalSize}) on every rank. */
    public static Tensor gather(Communicator comm, Tensor local, int dim, int globalSize) {
        return gather(comm, local, layoutOf(comm, local, dim, globalSize));
    }

    /** The full, unpadded activation on every rank: all-gather along the sharded dim, then drop the pad. */
    public static Tensor gather(Communicator comm, Tensor local, DspLayout layout) {
        checkGroup("gather", comm, layout);
        requireShape("gather", "local shard", local, layout.localShape());
        int dim = layout.shardDim();
        Tensor out = Tensor.zeros(DType.F32, layout.paddedShape());
        comm.allGather(f32(local), out, dim);
        return strip(out, dim, layout.globalSize(dim));
    }

    /**
     * Reshards from {@code fromDim} (currently sharded) to {@code toDim}; {@code globalSizes} are the
     * full activation's unpadded sizes.
     */
    public static Tensor dynamicSwitch(Communicator comm, Tensor local, int fromDim, int toDim, int[] globalSizes) {
        return dynamicSwitch(comm, local, new DspLayout(globalSizes, fromDim, comm.size()), toDim);
    }

    /**
     * The dynamic switch s_from → s_to with one all-to-all: pad {@code toDim} at the end to a
     * multiple of P, scatter it, gather the old shard dim (slabs in rank order) and strip its pad.
     * The result has the layout {@code from.switchTo(toDim)}.
     */
    public static Tensor dynamicSwitch(Communicator comm, Tensor local, DspLayout from, int toDim) {
        checkGroup("dynamicSwitch", comm, from);
        requireShape("dynamicSwitch", "local shard", local, from.localShape());
        int fromDim = from.shardDim();
        if (toDim == fromDim || toDim < 0 || toDim >= local.rank()) {
            throw new IllegalArgumentException("dynamicSwitch: cannot switch from dim " + fromDim + " to dim " + toDim + " of "
                    + Arrays.toString(local.shape()));
        }
        DspLayout to = from.switchTo(toDim);
        Tensor in = padEnd(f32(local), toDim, to.paddedSize(toDim));
        int[] outShape = from.localShape();
        outShape[toDim] = to.chunk();
        outShape[fromDim] = from.paddedSize(fromDim);
        Tensor out = Tensor.zeros(DType.F32, outShape);
        comm.allToAll(in, out, toDim, fromDim);
        return strip(out, fromDim, from.globalSize(fromDim));
    }

    // ---------------------------------------------------------------- backward

    /**
     * Gradient of the full input of {@link #split} from the gradient of this rank's shard: an
     * all-gather (each rank's shard gradient is the only non-zero part of its slab). Parameter
     * gradients computed on shards are summed over the SP group by the caller (all-reduce SUM,
     * papers.md 3.4), which replaces the reference code's gradient scaling.
     */
    public static Tensor splitBackward(Communicator comm, Tensor dLocal, DspLayout layout) {
        return gather(comm, dLocal, layout);
    }

    /**
     * Gradient of this rank's shard from the gradient of {@link #gather}'s (replicated) output: the
     * rank's slab, with zeros in the pad (pad entries never reach the output).
     */
    public static Tensor gatherBackward(Communicator comm, Tensor dFull, DspLayout layout) {
        return split(comm, dFull, layout, 0f);
    }

    /**
     * Gradient of {@link #dynamicSwitch}'s input from the gradient of its output: the all-to-all
     * with scatter and gather swapped, i.e. the switch back from {@code toDim} to {@code from}'s
     * shard dim. The output's pad slots are dropped; the input's pad slots get zero.
     */
    public static Tensor switchBackward(Communicator comm, Tensor dLocal, DspLayout from, int toDim) {
        return dynamicSwitch(comm, dLocal, from.switchTo(toDim), from.shardDim());
    }

    // ---------------------------------------------------------------- helpers

    /** t with {@code dim} grown to {@code size} by zeros at the end, contiguous. */
    static Tensor padEnd(Tensor t, int dim, int size) {
        if (t.size(dim) == size) return t.contiguous();
        int[] shape = t.shape();
        shape[dim] = size;
        Tensor out = Tensor.zeros(DType.F32, shape);
        Ops.copyInto(t, out.narrow(dim, 0, t.size(dim)));
        return out;
    }

    /** t with {@code dim} cut to its first {@code size} entries, contiguous. */
    static Tensor strip(Tensor t, int dim, int size) {
        return t.size(dim) == size ? t : t.narrow(dim, 0, size).contiguous();
    }

    private static Tensor f32(Tensor t) {
        return t.dtype() == DType.F32 ? t.contiguous() : Ops.convert(t, DType.F32);
    }

    private static DspLayout layoutOf(Communicator comm, Tensor local, int dim, int globalSize) {
        int[] global = local.shape();
        global[dim] = globalSize;
        return new DspLayout(global, dim, comm.size());
    }

    private static void checkGroup(String op, Communicator comm, DspLayout layout) {
        if (layout.ranks() != comm.size()) {
            throw new IllegalArgumentException(op + ": " + layout + " does not match a group of " + comm.size() + " ranks");
        }
    }

    private static void requireShape(String op, String what, Tensor t, int[] expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + what + " has shape " + Arrays.toString(t.shape()) + ", expected "
                    + Arrays.toString(expected));
        }
    }
}
