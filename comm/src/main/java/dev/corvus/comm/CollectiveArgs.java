package dev.corvus.comm;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.Arrays;

/**
 * Argument validation shared by {@link InJvmCommunicator} and {@link MpiCommunicator}, so both
 * reject the same calls with the same messages (tests assert them). Each method checks in the
 * order the communicators always did, since the first failing check decides the message. Nothing
 * here touches the group beyond its size, which callers pass in.
 */
final class CollectiveArgs {
    private CollectiveArgs() {}

    /** What allToAll callers need once the arguments are valid. */
    record AllToAll(int scatterDim, int gatherDim, int[] slabShape) {
        /** Size along the scatter dim of the slab each rank receives from one peer. */
        int slab() {
            return slabShape[scatterDim];
        }

        /** Size along the gather dim of each peer's piece of out. */
        int piece() {
            return slabShape[gatherDim];
        }
    }

    /**
     * Longest wait in nanoseconds: about 146 years. Longer timeouts (Duration.ofDays(365_000)
     * overflows toNanos()) are clamped to it, and deadlines now + it still compare correctly with
     * {@code System.nanoTime() - deadline >= 0}, which needs them within 2^63 of now.
     */
    static final long MAX_WAIT_NANOS = 1L << 62;

    /** {@code timeout} in nanoseconds, clamped to {@link #MAX_WAIT_NANOS}. */
    static long timeoutNanos(Duration timeout) {
        return timeout.compareTo(Duration.ofNanos(MAX_WAIT_NANOS)) >= 0 ? MAX_WAIT_NANOS : timeout.toNanos();
    }

    /** "0, 1, 2": a sub-group's list as messages quote it, subGroup(0, 1, 2). */
    static String rankList(int[] ranks) {
        return Arrays.toString(ranks).replace("[", "").replace("]", "");
    }

    static void send(String op, Tensor data, int dest, int size) {
        checkPeer(op, dest, size);
        checkTensor(op, "data", data);
    }

    static void receive(String op, Tensor into, int source, int size) {
        checkPeer(op, source, size);
        checkTensor(op, "into", into);
    }

    /** Returns the resolved gather dim. */
    static int allGather(String op, Tensor local, Tensor out, int dim, int size) {
        checkTensor(op, "local", local);
        checkTensor(op, "out", out);
        int d = Shapes.dim(op, dim, local.rank());
        int[] want = local.shape();
        want[d] = Math.multiplyExact(want[d], size);
        if (!Arrays.equals(want, out.shape())) {
            throw new IllegalArgumentException(op + ": out " + Shapes.str(out.shape()) + " must be " + size + " x local "
                    + Shapes.str(local.shape()) + " along dim " + d + ", i.e. " + Shapes.str(want));
        }
        checkSameDtype(op, "local", local, "out", out);
        checkBlocks(op, local, d, local.size(d));
        return d;
    }

    /** Returns the resolved scatter dim; out's size along it is then the slab per rank. */
    static int reduceScatter(String op, Tensor in, Tensor out, int dim, int size) {
        checkTensor(op, "in", in);
        checkTensor(op, "out", out);
        checkSummable(op, in);
        int d = Shapes.dim(op, dim, in.rank());
        checkDivisible(op, "in", in, d, size);
        int[] want = in.shape();
        want[d] /= size;
        if (!Arrays.equals(want, out.shape())) {
            throw new IllegalArgumentException(op + ": out " + Shapes.str(out.shape()) + " must be in " + Shapes.str(in.shape()) + " / "
                    + size + " along dim " + d + ", i.e. " + Shapes.str(want));
        }
        checkSameDtype(op, "in", in, "out", out);
        return d;
    }

    static AllToAll allToAll(String op, Tensor in, Tensor out, int scatterDim, int gatherDim, int size) {
        checkTensor(op, "in", in);
        checkTensor(op, "out", out);
        int sd = Shapes.dim(op, scatterDim, in.rank());
        int gd = Shapes.dim(op, gatherDim, in.rank());
        checkDivisible(op, "in", in, sd, size);
        int[] slabShape = in.shape();
        slabShape[sd] /= size;
        int[] want = slabShape.clone();
        want[gd] = Math.multiplyExact(want[gd], size);
        if (!Arrays.equals(want, out.shape())) {
            throw new IllegalArgumentException(op + ": out " + Shapes.str(out.shape()) + " must be in " + Shapes.str(in.shape())
                    + " with dim " + sd + " divided by " + size + " and dim " + gd + " multiplied by " + size + ", i.e. " + Shapes.str(want));
        }
        checkSameDtype(op, "in", in, "out", out);
        checkBlocks(op, in, sd, slabShape[sd]);
        checkBlocks(op, out, gd, slabShape[gd]);
        return new AllToAll(sd, gd, slabShape);
    }

    static void allReduce(String op, Tensor data) {
        checkTensor(op, "data", data);
        checkSummable(op, data);
    }

    private static void checkPeer(String op, int peer, int size) {
        if (peer < 0 || peer >= size) throw new IllegalArgumentException(op + ": rank " + peer + " is outside [0, " + size + ")");
    }

    private static void checkTensor(String op, String name, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (!t.device().equals(Device.CPU)) throw new IllegalArgumentException(op + ": " + name + " " + t + " is not on the CPU");
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + name + " " + Shapes.str(t.shape()) + " with strides " + Arrays.toString(t.strides())
                    + " is not contiguous; pass contiguous() or copy it first");
        }
    }

    private static void checkSameDtype(String op, String an, Tensor a, String bn, Tensor b) {
        if (a.dtype() != b.dtype()) throw new IllegalArgumentException(op + ": " + an + " is " + a.dtype() + " but " + bn + " is " + b.dtype());
    }

    private static void checkSummable(String op, Tensor t) {
        if (!Slabs.summable(t.dtype())) throw new IllegalArgumentException(op + ": cannot sum " + t.dtype() + " tensors (F32, F16, BF16 and I32 only)");
    }

    private static void checkDivisible(String op, String name, Tensor t, int d, int size) {
        if (t.size(d) % size != 0) {
            throw new IllegalArgumentException(op + ": dim " + d + " of " + name + " " + Shapes.str(t.shape()) + " has size " + t.size(d)
                    + ", which is not divisible by the group size " + size);
        }
    }

    /** Q8_0 slabs along the last dimension must be whole blocks. */
    private static void checkBlocks(String op, Tensor t, int d, int slab) {
        DType dt = t.dtype();
        if (dt.isQuantized() && d == t.rank() - 1 && slab % dt.blockSize() != 0) {
            throw new IllegalArgumentException(op + ": " + dt + " " + Shapes.str(t.shape()) + " cannot be cut into pieces of " + slab
                    + " along its last dim (blocks of " + dt.blockSize() + ")");
        }
    }
}
