package dev.corvus.tensor.op;

import static dev.corvus.tensor.OpSupport.concat;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Quants;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/**
 * Batched matrix product of a [..., M, K] and b [..., K, N]; batch dimensions broadcast. b may be
 * a transposed F16/BF16/quantised weight ({@code w.t()} for w of shape [N, K]), read as stored.
 */
public record Matmul() {
    /** The attributes (there are none). */
    public static final Matmul ATTRS = new Matmul();
    public static final OpDef<Matmul> OP = new Def();

    private static final class Def extends OpDef<Matmul> {
        Def() {
            super("matmul", "Ops.matmul", Matmul.class);
        }

        @Override
        public Output infer(Matmul attrs, Operand... in) {
            Operand a = in[0], b = in[1];
            OpSupport.requireRank("matmul", a, 2);
            OpSupport.requireRank("matmul", b, 2);
            int m = a.size(-2), k = a.size(-1), kb = b.size(-2), n = b.size(-1);
            if (k != kb) {
                throw new IllegalArgumentException("matmul: shapes " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape())
                        + " do not match on K (" + k + " vs " + kb + ")");
            }
            OpSupport.requireFloat("matmul", a);
            if (b.dtype() == DType.I32) throw new IllegalArgumentException("matmul: b is I32; expected F32, F16, BF16 or a quantised type (" + Quants.SUPPORTED + ")");
            if (b.dtype().isQuantized() && !weightLayout(b.shape(), b.strides())) {
                throw new IllegalArgumentException("matmul: a " + b.dtype() + " operand must be the transpose of a row-major [N, K] weight (w.t()), got shape "
                        + Shapes.str(b.shape()) + " strides " + Arrays.toString(b.strides()));
            }
            int[] batch = Shapes.broadcast("matmul", Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2));
            return new Output(DType.F32, concat(batch, m, n));
        }

        @Override
        public Tensor run(Backend be, Matmul attrs, Tensor... in) {
            return product(be, in[0], in[1], infer(attrs, in).shape());
        }

        @Override
        public int[] flow(Matmul attrs, Operand[] in, int[] outShape, int d) {
            int last = outShape.length - 1;
            if (d == last) return null;
            if (d == last - 1) return new int[] {in[0].rank() - 2, WHOLE};
            return new int[] {Binary.aligned(outShape, in[0], d), Binary.aligned(outShape, in[1], d)}; // batch dims broadcast like element-wise ones
        }

        @Override
        public long scratchBytes(Matmul attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            Layout a = in[0], b = in[1];
            int[] batch = Arrays.copyOf(outShape, outShape.length - 2);
            long s = 0;
            if (dtypes[0] != DType.F32) {
                s += DType.F32.byteSize(a.numel());
                a = Layout.contiguous(a.shape());
            }
            int n = b.size(-1);
            if (dtypes[1] != DType.F32 && !weightLayout(b.shape(), b.strides())) {
                s += DType.F32.byteSize(b.numel());
                b = Layout.contiguous(b.shape());
            }
            Layout a3 = a.expand(concat(batch, a.size(-2), a.size(-1)));
            Layout b3 = b.expand(concat(batch, b.size(-2), n));
            if (!OpSupport.collapses(a3.shape(), a3.strides())) s += DType.F32.byteSize(a3.numel());
            if (!OpSupport.collapses(b3.shape(), b3.strides())) s += DType.F32.byteSize(b3.numel()) + (dtypes[1] != DType.F32 ? DType.F32.byteSize(b.numel()) : 0);
            return s;
        }

        @Override
        public double flops(Matmul attrs, Operand[] in, int[] outShape) {
            return 2.0 * Shapes.numel(outShape) * in[0].size(-1);
        }

        @Override
        public long productRows(Matmul attrs, Operand[] in, int[] outShape) {
            return outShape[outShape.length - 2];
        }

        @Override
        public Backward<Matmul> backward() {
            // dA = g · bᵀ, dB = aᵀ · g, each summed over the batch dims its operand was broadcast along.
            // A quantised b is a transposed weight (w.t()): it gets no gradient, and dA reads it dequantised.
            return (attrs, in, out, g) -> {
                Tensor a = in[0], b = in[1];
                Tensor bT = b.dtype().isQuantized() ? Ops.dequantize(b.t()) : b.t();
                Tensor da = Grads.sumTo(Ops.matmul(g, bT), a.shape());
                Tensor db = Grads.trainable(b) ? Grads.sumTo(Ops.matmul(a.t(), g), b.shape()) : null;
                return new Tensor[] {da, db};
            };
        }
    }

    /** a · b for operands {@link #OP} (or linear) has checked, into a new output of {@code outShape}. */
    static Tensor product(Backend be, Tensor a, Tensor b, int[] outShape) {
        final String op = "matmul";
        int m = a.size(-2), k = a.size(-1), n = b.size(-1);
        int[] batch = Arrays.copyOf(outShape, outShape.length - 2);
        if (a.dtype() != DType.F32) a = OpSupport.f32(op, a);
        if (b.dtype() != DType.F32 && !weightLayout(b.shape(), b.strides())) b = OpSupport.f32(op, b);
        if (k == 0 || Shapes.numel(outShape) == 0) {
            // PyTorch's answer: an empty product is empty, and one over K = 0 is all zeros (the output starts zeroed).
            // Flattening an empty batch below would ask view() to infer -1 from 0 elements.
            return OpSupport.newOutput(be, a, DType.F32, outShape);
        }
        Tensor a3 = OpSupport.flattenBatch(a.expand(concat(batch, m, k)));
        Tensor b3 = OpSupport.flattenBatch(b.expand(concat(batch, k, n)));
        if (a3 == null) a3 = a.expand(concat(batch, m, k)).contiguous().reshape(-1, m, k);
        if (b3 == null) {
            if (b.dtype() != DType.F32) b = OpSupport.f32(op, b);
            b3 = b.expand(concat(batch, k, n)).contiguous().reshape(-1, k, n);
        }
        Tensor out = OpSupport.newOutput(be, a, DType.F32, outShape);
        be.matmul(a3, b3, out.reshape(-1, m, n));
        return out;
    }

    /**
     * The layout a non-F32 b is read in as stored: the transpose of row-major [N, K] rows (stride 1
     * along K, K elements between columns).
     */
    static boolean weightLayout(int[] shape, long[] strides) {
        int r = shape.length;
        return strides[r - 2] == 1 && (shape[r - 1] == 1 || strides[r - 1] == shape[r - 2]);
    }
}
