package dev.corvus.chunking;

import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import java.util.Arrays;

/**
 * What running a node costs in memory, decided from its operands' layouts the way the tensor API
 * decides it: whether the result is a view (no memory) or a new buffer, and the scratch an op
 * allocates and drops before returning (a contiguous F32 copy of a strided operand, a matmul's
 * unbiased product, flash attention's log-sum-exp). Kept beside {@code Ops}, rule for rule; the
 * estimator-versus-measured tests fail when the two drift apart.
 */
final class MemoryModel {
    private MemoryModel() {}

    /** Output layout of n given its operands' layouts, with the output shape {@code shape}. */
    static Layout output(Node n, Layout[] in, int[] shape) {
        return switch (n.op()) {
            case PERMUTE -> in[0].permute(n.ints());
            case CONTIGUOUS -> in[0].isContiguous() ? in[0] : Layout.contiguous(shape);
            default -> Layout.contiguous(shape);
        };
    }

    /** True when n returns a view of its first operand rather than new memory. */
    static boolean isView(Node n, Layout[] in) {
        return switch (n.op()) {
            case PERMUTE -> true;
            case RESHAPE, CONTIGUOUS -> in[0].isContiguous();
            default -> false;
        };
    }

    /** Bytes n allocates and frees inside the op, besides its output. */
    static long scratch(Node n, Layout[] in, DType[] dtypes, int[] outShape, Slice slice) {
        long outBytes = DType.F32.byteSize(numel(outShape));
        return switch (n.op()) {
            case INPUT, PARAM, PERMUTE, RESHAPE, CONTIGUOUS, CONCAT, CUSTOM -> 0;
            case SCALE, UNARY, ROPE -> f32Copy(in[0], dtypes[0]);
            case RMSNORM, LAYERNORM -> {
                long s = 0;
                for (int i = 0; i < in.length; i++) s += f32Copy(in[i], dtypes[i]);
                yield s;
            }
            case LINEAR -> {
                // Ops.linear is matmul(x, w.t()): an F32 x of any strides is read in place when its
                // batch dims fold into one stride; a bias add leaves the unbiased product behind.
                long xBytes = DType.F32.byteSize(in[0].numel());
                long s = dtypes[0] != DType.F32 || (in[0].rank() > 2 && !collapses(in[0])) ? xBytes : 0;
                yield s + (in.length == 3 ? outBytes : 0);
            }
            case MATMUL -> matmulScratch(in, dtypes, outShape);
            case BINARY -> binaryScratch((BinaryOp) n.attr(), in, dtypes, outShape);
            case SOFTMAX -> {
                int d = n.intAttr(0), last = in[0].rank() - 1;
                if (d == last) yield f32Copy(in[0], dtypes[0]);
                // Softmax runs over x.transpose(d, last), and its result is transposed back into a copy.
                int[] swap = swap(in[0].rank(), d, last);
                Layout moved = in[0].permute(swap);
                boolean copiesBack = !Layout.contiguous(moved.shape()).permute(swap).isContiguous();
                yield f32Copy(moved, dtypes[0]) + (copiesBack ? outBytes : 0);
            }
            case CAUSAL_SOFTMAX -> {
                int queries = in[0].shape()[in[0].rank() - 2], keys = in[0].shape()[in[0].rank() - 1];
                int diagonal = n.intAttr(0) + (slice != null && slice.dim() == n.rank() - 2 ? slice.start() : 0);
                if (diagonal == keys - queries) yield f32Copy(in[0], dtypes[0]);
                int visible = Math.max(0, queries + diagonal);
                if (visible == 0) yield 0;
                Layout narrowed = in[0].narrow(in[0].rank() - 1, visible);
                yield f32Copy(narrowed, dtypes[0]) + DType.F32.byteSize(narrowed.numel());
            }
            case REDUCE -> {
                int d = n.intAttr(0), last = in[0].rank() - 1;
                if (d == last) yield f32Copy(in[0], dtypes[0]);
                // Reduced along a moved-last copy, then the dims are put back with another copy.
                Layout moved = in[0].permute(swap(in[0].rank(), d, last));
                int[] reducedShape = Arrays.copyOf(moved.shape(), last);
                int[] back = new int[last];
                for (int i = 0, j = 0; i < last; i++) if (i != d) back[j++] = i;
                back[last - 1] = d;
                boolean copiesBack = d < last - 1 && !Layout.contiguous(reducedShape).permute(back).isContiguous();
                yield f32Copy(moved, dtypes[0]) + (copiesBack ? DType.F32.byteSize(numel(reducedShape)) : 0);
            }
            case ATTENTION -> DType.F32.byteSize((long) outShape[0] * outShape[1] * outShape[2]); // the log-sum-exp
        };
    }

    private static int[] swap(int rank, int a, int b) {
        int[] o = new int[rank];
        for (int i = 0; i < rank; i++) o[i] = i;
        o[a] = b;
        o[b] = a;
        return o;
    }

    private static long matmulScratch(Layout[] in, DType[] dtypes, int[] outShape) {
        Layout a = in[0], b = in[1];
        int batchRank = outShape.length - 2;
        int[] batch = Arrays.copyOf(outShape, batchRank);
        long s = 0;
        if (dtypes[0] != DType.F32) {
            s += DType.F32.byteSize(a.numel());
            a = Layout.contiguous(a.shape());
        }
        int n = b.shape()[b.rank() - 1];
        boolean weightLayout = b.strides()[b.rank() - 2] == 1 && (n == 1 || b.strides()[b.rank() - 1] == b.shape()[b.rank() - 2]);
        if (dtypes[1] != DType.F32 && !weightLayout) {
            s += DType.F32.byteSize(b.numel());
            b = Layout.contiguous(b.shape());
        }
        Layout a3 = a.expand(concat(batch, a.shape()[a.rank() - 2], a.shape()[a.rank() - 1]));
        Layout b3 = b.expand(concat(batch, b.shape()[b.rank() - 2], n));
        if (!collapses(a3)) s += DType.F32.byteSize(a3.numel());
        if (!collapses(b3)) s += DType.F32.byteSize(b3.numel()) + (dtypes[1] != DType.F32 ? DType.F32.byteSize(b.numel()) : 0);
        return s;
    }

    private static long binaryScratch(BinaryOp op, Layout[] in, DType[] dtypes, int[] shape) {
        Layout a = in[0], b = in[1];
        DType da = dtypes[0], db = dtypes[1];
        boolean swap = (op == BinaryOp.ADD || op == BinaryOp.MUL) && !Arrays.equals(a.shape(), shape) && Arrays.equals(b.shape(), shape);
        if (swap) {
            Layout t = a;
            a = b;
            b = t;
            DType dt = da;
            da = db;
            db = dt;
        }
        Layout full = Arrays.equals(a.shape(), shape) ? a : a.expand(shape);
        Layout tiled = Arrays.equals(b.shape(), shape) || Shapes.tilesAsRows(b.shape(), shape) ? b : b.expand(shape);
        return f32Copy(full, da) + f32Copy(tiled, db);
    }

    /** Ops.f32: a contiguous F32 operand is used as is; anything else is copied. */
    static long f32Copy(Layout l, DType dtype) {
        return dtype == DType.F32 && l.isContiguous() ? 0 : DType.F32.byteSize(l.numel());
    }

    /** As Ops.flattenBatch: the batch dimensions of [..., r, c] fold into one stride. */
    static boolean collapses(Layout t) {
        int rank = t.rank();
        int inner = -1;
        for (int d = rank - 3; d >= 0; d--) {
            if (t.shape()[d] == 1) continue;
            if (inner >= 0 && t.strides()[d] != t.strides()[inner] * t.shape()[inner]) return false;
            inner = d;
        }
        return true;
    }

    private static int[] concat(int[] head, int... tail) {
        int[] r = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, r, head.length, tail.length);
        return r;
    }

    static long numel(int[] shape) {
        long n = 1;
        for (int s : shape) n *= s;
        return n;
    }
}
