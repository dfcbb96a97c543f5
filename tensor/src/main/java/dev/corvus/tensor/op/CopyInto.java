package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Storage;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * {@link Ops#copyInto}: writes the second operand (src) into the first (dst, same shape; it may be
 * a view, e.g. a slice of a larger tensor) and returns dst itself. The result is always as if src
 * were read whole before dst is written: when the two may share memory ({@code copyInto(m.t(), m)},
 * overlapping slices of one tensor) src goes through a temporary first, since the backends copy
 * element by element and would otherwise read values they had already overwritten; src and dst
 * the very same view is a no-op. A dst whose elements share memory with each other (a stride-0
 * dimension, as {@link Tensor#expand} makes) is refused: which write would win is undefined.
 *
 * <p>A write into existing memory, not a value: {@link Ops#copyInto} runs it on the backend
 * without a {@link Tape} seeing it (the tape's class comment says what that asks of code under a
 * tape), and it has no gradient.
 */
public record CopyInto() {
    public static final CopyInto ATTRS = new CopyInto();
    public static final OpDef<CopyInto> OP = new Def();

    private static final class Def extends OpDef<CopyInto> {
        Def() {
            super("copyInto", "Ops.copyInto", CopyInto.class);
        }

        @Override
        public Output infer(CopyInto attrs, Operand... in) {
            Operand dst = in[0], src = in[1];
            if (!Arrays.equals(src.shape(), dst.shape())) {
                throw new IllegalArgumentException("copyInto: source shape " + Shapes.str(src.shape()) + " and destination shape "
                        + Shapes.str(dst.shape()) + " differ");
            }
            Convert.checkConversion("copyInto", src.dtype(), dst.dtype());
            if (dst.dtype().isQuantized() && (!Layout.of(dst).isContiguous() || src.dtype() != DType.F32)) {
                throw new IllegalArgumentException("copyInto: a " + dst.dtype() + " destination must be contiguous and fed from F32");
            }
            if (src.dtype().isQuantized() && dst.dtype() != DType.F32 && dst.dtype() != src.dtype()) {
                throw new IllegalArgumentException("copyInto: " + src.dtype() + " can only be dequantized to F32, not " + dst.dtype());
            }
            int[] shape = dst.shape();
            long[] strides = dst.strides();
            for (int d = 0; d < shape.length; d++) {
                if (shape[d] > 1 && strides[d] == 0) {
                    throw new IllegalArgumentException("copyInto: destination " + Shapes.str(shape) + " with strides " + Arrays.toString(strides)
                            + " repeats memory along dim " + d + " (an expanded view), so its elements cannot each get their own value;"
                            + " copy into a tensor of its own instead");
                }
            }
            return new Output(dst.dtype(), shape);
        }

        @Override
        public Tensor run(Backend be, CopyInto attrs, Tensor... in) {
            infer(attrs, in);
            Tensor dst = in[0], src = in[1];
            if (!sharesMemory(src, dst)) {
                be.copy(src, dst);
            } else if (src.storage() != dst.storage() || src.dtype() != dst.dtype() || src.offset() != dst.offset()
                    || !Arrays.equals(src.strides(), dst.strides())) {
                // Staged in dst's dtype: the conversion happens on the way in, and the way out is a plain copy into a layout dst accepts.
                try (MemoryScope staging = MemoryScope.detached("copyInto staging")) {
                    Tensor tmp = be.allocate(staging, dst.dtype(), src.shape());
                    be.copy(src, tmp);
                    be.copy(tmp, dst);
                }
            }
            return dst;
        }

        /** Into a fresh host destination: what dst holds afterwards, without writing the caller's dst. */
        @Override
        public Tensor reference(CopyInto attrs, Tensor... in) {
            Tensor src = Ops.toDevice(in[1], Device.CPU);
            Tensor dst = Tensor.zeros(MemoryScope.forOutputOf(src), in[0].dtype(), in[0].shape());
            return run(dev.corvus.tensor.Backends.scalar(), attrs, dst, src);
        }

        @Override
        public boolean differentiable() {
            return false;
        }

        @Override
        public int[] flow(CopyInto attrs, Operand[] in, int[] outShape, int d) {
            return null; // a write: the destination is given whole
        }

        @Override
        public boolean mayView() {
            return true;
        }

        @Override
        public boolean isView(CopyInto attrs, Layout[] in) {
            return true;
        }

        @Override
        public Layout outputLayout(CopyInto attrs, Layout[] in, int[] outShape) {
            return in[0];
        }
    }

    /**
     * Whether a and b may touch the same bytes: their byte extents intersect in one storage, or in
     * one piece of host memory seen through two storages. Conservative for interleaved views (two
     * columns of one matrix), which then take the temporary: correct, only slower.
     */
    static boolean sharesMemory(Tensor a, Tensor b) {
        if (a.numel() == 0 || b.numel() == 0) return false;
        Storage sa = a.storage(), sb = b.storage();
        long baseA = 0, baseB = 0;
        if (sa != sb) {
            if (!sa.isHost() || !sb.isHost()) return false;
            MemorySegment x = sa.segment(), y = sb.segment();
            if (x.isNative() != y.isNative() || (!x.isNative() && x.heapBase().orElse(null) != y.heapBase().orElse(null))) return false;
            baseA = x.address();
            baseB = y.address();
        }
        long[] ea = byteExtent(a), eb = byteExtent(b);
        return baseA + ea[0] < baseB + eb[1] && baseB + eb[0] < baseA + ea[1];
    }

    /** [first byte, last byte + 1) that t's elements occupy in its storage (whole blocks for quantised types). */
    private static long[] byteExtent(Tensor t) {
        long lo = t.offset(), hi = t.offset();
        int[] shape = t.shape();
        long[] strides = t.strides();
        for (int d = 0; d < shape.length; d++) {
            long reach = (shape[d] - 1) * strides[d];
            if (reach < 0) lo += reach;
            else hi += reach;
        }
        DType dt = t.dtype();
        if (dt.isQuantized()) return new long[] {lo / dt.blockSize() * dt.blockBytes(), (hi / dt.blockSize() + 1) * dt.blockBytes()};
        return new long[] {lo * dt.elementBytes(), (hi + 1) * dt.elementBytes()};
    }
}
