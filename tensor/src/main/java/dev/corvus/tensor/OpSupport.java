package dev.corvus.tensor;

import java.util.Arrays;

/**
 * The plumbing op definitions share: the backend of a set of operands, F32 widening, output
 * allocation, shape checks and the layout helpers the kernels' contracts need.
 *
 * <p>Internal: public only for op definitions ({@link dev.corvus.tensor.op.OpDef}) in Corvus
 * modules; not supported API, may change in any release.
 */
public final class OpSupport {
    private OpSupport() {}

    /** The backend for the operands' common device; every operand must be alive and on it. */
    public static Backend backend(String op, Tensor... operands) {
        Device device = null;
        for (Tensor t : operands) {
            if (t == null) continue;
            if (!t.scope().isAlive()) {
                throw new IllegalStateException(op + ": operand " + t.dtype() + " " + Shapes.str(t.shape())
                        + " belongs to MemoryScope '" + t.scope().name() + "', which is closed");
            }
            if (device == null) device = t.device();
            else if (!device.equals(t.device())) {
                throw new IllegalArgumentException(op + ": operands are on different devices (" + device + " and " + t.device()
                        + "); transfer one explicitly first");
            }
        }
        return Backends.of(device == null ? Device.CPU : device);
    }

    /** A zeroed output on {@code backend}'s device, in the output scope of {@code like}. */
    public static Tensor newOutput(Backend backend, Tensor like, DType dtype, int... shape) {
        return backend.allocate(MemoryScope.forOutputOf(like), dtype, shape);
    }

    /** t as a contiguous F32 tensor, widening F16/BF16 and dequantizing quantised types; I32 is refused. */
    public static Tensor f32(String op, Tensor t) {
        if (t.dtype() == DType.F32) return t.contiguous();
        if (t.dtype() == DType.I32) throw new IllegalArgumentException(op + ": expected a floating-point tensor, got I32 " + Shapes.str(t.shape()));
        return Ops.convert(t, DType.F32);
    }

    /** The same refusal as {@link #f32} for an operand that is only checked, not converted. */
    public static void requireFloat(String op, dev.corvus.tensor.op.Operand t) {
        if (t.dtype() == DType.I32) throw new IllegalArgumentException(op + ": expected a floating-point tensor, got I32 " + Shapes.str(t.shape()));
    }

    public static void requireShape(String op, String what, dev.corvus.tensor.op.Operand t, int... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + what + " has shape " + Shapes.str(t.shape()) + ", expected " + Shapes.str(expected));
        }
    }

    public static void requireRank(String op, dev.corvus.tensor.op.Operand t, int min) {
        if (t.rank() < min) {
            throw new IllegalArgumentException(op + ": needs rank >= " + min + ", got shape " + Shapes.str(t.shape()));
        }
    }

    /** A view of t [..., r, c] as [B, r, c] when its batch dimensions collapse into one stride; else null. */
    public static Tensor flattenBatch(Tensor t) {
        int rank = t.rank();
        int[] shape = t.shape();
        long[] strides = t.strides();
        if (!collapses(shape, strides)) return null;
        long batchStride = 0; // the innermost batch dimension that is not 1 sets the folded stride
        for (int d = rank - 3; d >= 0 && batchStride == 0; d--) if (shape[d] != 1) batchStride = strides[d];
        return new Tensor(t.storage(), t.dtype(), new int[] {(int) Shapes.prod(shape, 0, rank - 2), shape[rank - 2], shape[rank - 1]},
                new long[] {batchStride, strides[rank - 2], strides[rank - 1]}, t.offset());
    }

    /** Whether the batch dimensions of a [..., r, c] layout fold into one stride (what {@link #flattenBatch} needs). */
    public static boolean collapses(int[] shape, long[] strides) {
        int inner = -1;
        for (int d = shape.length - 3; d >= 0; d--) {
            if (shape[d] == 1) continue;
            if (inner >= 0 && strides[d] != strides[inner] * shape[inner]) return false;
            inner = d;
        }
        return true;
    }

    /**
     * Reductions ran over x.transpose(d, last) with the last dimension removed; the remaining dims
     * are in transposed order with the old last dim sitting at position d. Put it back at the end.
     */
    public static Tensor unmoveLast(Tensor reduced, int d) {
        int rank = reduced.rank();
        if (d >= rank) return reduced;
        int[] order = new int[rank];
        for (int i = 0, j = 0; i < rank; i++) if (i != d) order[j++] = i;
        order[rank - 1] = d;
        return reduced.permute(order).contiguous();
    }

    /** shape without dimension d (what a reduction along d leaves). */
    public static int[] without(int[] shape, int d) {
        int[] out = new int[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) if (i != d) out[j++] = shape[i];
        return out;
    }

    /** head followed by tail. */
    public static int[] concat(int[] head, int... tail) {
        int[] r = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, r, head.length, tail.length);
        return r;
    }

    /** The identity order of {@code rank} dims with a and b swapped. */
    public static int[] swap(int rank, int a, int b) {
        int[] o = new int[rank];
        for (int i = 0; i < rank; i++) o[i] = i;
        o[a] = b;
        o[b] = a;
        return o;
    }
}
