package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Quants;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/** x · wᵀ + bias for x [..., K], w [N, K] (F32, F16, BF16 or quantised) and an optional bias [N]. */
public record Linear() {
    /** The attributes (there are none). */
    public static final Linear ATTRS = new Linear();
    public static final OpDef<Linear> OP = new Def();

    private static final class Def extends OpDef<Linear> {
        Def() {
            super("linear", "Ops.linear", Linear.class);
        }

        @Override
        public Output infer(Linear attrs, Operand... in) {
            final String op = "linear";
            Operand x = in[0], w = in[1];
            if (w.rank() != 2) throw new IllegalArgumentException(op + ": weight must be [N, K], got shape " + Shapes.str(w.shape()));
            OpSupport.requireRank(op, x, 1);
            if (x.size(-1) != w.size(1)) {
                throw new IllegalArgumentException(op + ": input " + Shapes.str(x.shape()) + " and weight " + Shapes.str(w.shape())
                        + " do not match on K (" + x.size(-1) + " vs " + w.size(1) + ")");
            }
            if (in.length > 2) OpSupport.requireShape(op, "bias", in[2], w.size(0));
            if (w.dtype().isQuantized() && !Shapes.isContiguous(w.shape(), w.strides())) {
                throw new IllegalArgumentException(op + ": a " + w.dtype() + " weight must be contiguous, got strides " + Arrays.toString(w.strides()));
            }
            OpSupport.requireFloat(op, x);
            if (w.dtype() == DType.I32) throw new IllegalArgumentException(op + ": weight is I32; expected F32, F16, BF16 or a quantised type (" + Quants.SUPPORTED + ")");
            int[] shape = x.shape();
            shape[shape.length - 1] = w.size(0);
            return new Output(DType.F32, shape);
        }

        @Override
        public Tensor run(Backend be, Linear attrs, Tensor... in) {
            int[] shape = infer(attrs, in).shape();
            Tensor x = in[0], w = in[1], bias = in.length > 2 ? in[2] : null;
            // The checks above cover matmul's for x · wᵀ, so the product runs without repeating them.
            Tensor x2 = x.rank() == 1 ? x.unsqueeze(0) : x;
            Tensor y = Matmul.product(be, x2, w.t(), x.rank() == 1 ? new int[] {1, shape[0]} : shape);
            if (bias != null) y = Binary.OP.run(be, Binary.ADD, y, bias);
            return x.rank() == 1 ? y.squeeze(0) : y;
        }

        @Override
        public int[] flow(Linear attrs, Operand[] in, int[] outShape, int d) {
            if (d == outShape.length - 1) return null;
            return firstAlong(in.length, d);
        }

        @Override
        public long scratchBytes(Linear attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            // matmul(x, w.t()): an F32 x of any strides is read in place when its batch dims fold
            // into one stride; a bias add leaves the unbiased product behind.
            long xBytes = DType.F32.byteSize(in[0].numel());
            long s = dtypes[0] != DType.F32 || (in[0].rank() > 2 && !OpSupport.collapses(in[0].shape(), in[0].strides())) ? xBytes : 0;
            return s + (in.length == 3 ? DType.F32.byteSize(Shapes.numel(outShape)) : 0);
        }

        @Override
        public double flops(Linear attrs, Operand[] in, int[] outShape) {
            return 2.0 * Shapes.numel(outShape) * in[1].size(1);
        }

        @Override
        public long productRows(Linear attrs, Operand[] in, int[] outShape) {
            return Shapes.numel(outShape) / outShape[outShape.length - 1];
        }

        @Override
        public boolean chunkCutsRows(Linear attrs, int[] outShape, int d) {
            return d < outShape.length - 1;
        }

        @Override
        public Backward<Linear> backward() {
            // Over the rows R of x [R, K] and g [R, N]: dX = g · w, dW = gᵀ · x, dBias = Σ_rows g.
            // A quantised w gets no gradient; dX reads it dequantised.
            return (attrs, in, out, g) -> {
                Tensor x = in[0], w = in[1];
                int n = w.size(0), k = w.size(1);
                Tensor g2 = g.reshape(-1, n), x2 = x.reshape(-1, k);
                Tensor dx = Ops.matmul(g2, w.dtype().isQuantized() ? Ops.dequantize(w) : w).reshape(x.shape());
                Tensor dw = Grads.trainable(w) ? Ops.matmul(g2.t(), x2) : null;
                if (in.length == 2) return new Tensor[] {dx, dw};
                return new Tensor[] {dx, dw, Ops.sum(g2, 0, false)};
            };
        }
    }
}
