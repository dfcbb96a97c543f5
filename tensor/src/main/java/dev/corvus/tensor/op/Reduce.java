package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/** A sum, mean or max along {@code dim}, in F32; {@code keepDim} leaves it as size 1. */
public record Reduce(ReduceOp op, int dim, boolean keepDim) {
    public static final OpDef<Reduce> OP = new Def();

    /** The name eager and traced code report, e.g. "sum". */
    public String label() {
        return op.label();
    }

    private static final class Def extends OpDef<Reduce> {
        Def() {
            super("reduce", "Ops.reduce", Reduce.class);
        }

        @Override
        public String label(Reduce attrs) {
            return attrs.label();
        }

        @Override
        public Output infer(Reduce attrs, Operand... in) {
            Operand x = in[0];
            String name = attrs.label();
            OpSupport.requireRank(name, x, 1);
            int d = Shapes.dim(name, attrs.dim(), x.rank());
            if (attrs.op() == ReduceOp.MAX && x.size(d) == 0) throw new IllegalArgumentException("max: dimension " + d + " of " + Shapes.str(x.shape()) + " is empty");
            OpSupport.requireFloat(name, x);
            int[] shape = x.shape();
            if (attrs.keepDim()) {
                shape[d] = 1;
                return new Output(DType.F32, shape);
            }
            return new Output(DType.F32, OpSupport.without(shape, d));
        }

        @Override
        public Tensor run(Backend be, Reduce attrs, Tensor... in) {
            infer(attrs, in);
            Tensor x = in[0];
            String name = attrs.label();
            int d = Shapes.dim(name, attrs.dim(), x.rank());
            if (x.numel() == 0) {
                // Nothing to read (the kernels expect rows): as in PyTorch, a sum over nothing is 0 and a mean NaN.
                int[] shape = x.shape();
                shape[d] = 1;
                Tensor out = OpSupport.newOutput(be, x, DType.F32, shape);
                if (attrs.op() == ReduceOp.MEAN && out.numel() > 0) out = Scale.OP.run(be, new Scale(Float.NaN), out); // 0 · NaN
                return attrs.keepDim() ? out : out.squeeze(d);
            }
            int last = x.rank() - 1;
            Tensor xin = OpSupport.f32(name, d == last ? x : x.transpose(d, last));
            int[] shape = xin.shape();
            Tensor out = OpSupport.newOutput(be, xin, DType.F32, Arrays.copyOf(shape, shape.length - 1));
            be.reduce(attrs.op(), xin, out);
            Tensor result = d == last ? out : OpSupport.unmoveLast(out, d);
            return attrs.keepDim() ? result.unsqueeze(d) : result;
        }

        @Override
        public int[] flow(Reduce attrs, Operand[] in, int[] outShape, int d) {
            int r = Shapes.dim(attrs.label(), attrs.dim(), in[0].rank());
            if (attrs.keepDim()) return d == r ? null : new int[] {d};
            return new int[] {d < r ? d : d + 1};
        }

        @Override
        public Backward<Reduce> backward() {
            // sum: g broadcast back along the reduced dim; mean: that over its length; max: g goes to
            // the first largest element of each row (the one argmax picks), the rest get 0.
            return (attrs, in, out, g) -> {
                Tensor x = in[0];
                int d = Shapes.dim(attrs.label(), attrs.dim(), x.rank());
                Tensor kept = attrs.keepDim() ? g : g.unsqueeze(d);
                return switch (attrs.op()) {
                    case SUM -> new Tensor[] {kept.expand(x.shape()).contiguous()};
                    case MEAN -> new Tensor[] {Ops.scale(kept.expand(x.shape()).contiguous(), 1f / x.size(d))};
                    case MAX -> new Tensor[] {maxGradient(x, d, kept.contiguous().toFloatArray())};
                };
            };
        }

        private static Tensor maxGradient(Tensor x, int d, float[] g) {
            int[] shape = x.shape();
            int n = shape[d];
            long inner = Shapes.prod(shape, d + 1, shape.length), outer = Shapes.prod(shape, 0, d);
            float[] xs = x.toFloatArray();
            float[] dx = new float[xs.length];
            for (long o = 0; o < outer; o++) {
                for (long i = 0; i < inner; i++) {
                    int best = 0;
                    float bestValue = xs[(int) (o * n * inner + i)];
                    for (int j = 1; j < n && !Float.isNaN(bestValue); j++) {
                        float v = xs[(int) ((o * n + j) * inner + i)];
                        if (v > bestValue || Float.isNaN(v)) {
                            best = j;
                            bestValue = v;
                        }
                    }
                    dx[(int) ((o * n + best) * inner + i)] = g[(int) (o * inner + i)];
                }
            }
            return Grads.like(dx, x);
        }

        @Override
        public long scratchBytes(Reduce attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            Layout x = in[0];
            int d = Shapes.dim(attrs.label(), attrs.dim(), x.rank()), last = x.rank() - 1;
            if (d == last) return f32Copy(x, dtypes[0]);
            // Reduced along a moved-last copy, then the dims are put back with another copy.
            Layout moved = x.permute(OpSupport.swap(x.rank(), d, last));
            int[] reducedShape = Arrays.copyOf(moved.shape(), last);
            int[] back = new int[last];
            for (int i = 0, j = 0; i < last; i++) if (i != d) back[j++] = i;
            back[last - 1] = d;
            boolean copiesBack = d < last - 1 && !Layout.contiguous(reducedShape).permute(back).isContiguous();
            return f32Copy(moved, dtypes[0]) + (copiesBack ? DType.F32.byteSize(Shapes.numel(reducedShape)) : 0);
        }
    }
}
