package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;

/**
 * Softmax (or log-softmax) along {@code dim}. With {@code causal}, dim must be the last one and
 * the tensor [..., queries, keys]: query row q sees keys j &lt;= q + diagonal, where diagonal is
 * {@link #BOTTOM_RIGHT} (keys - queries, the usual mask) or an explicit value &lt;= keys - queries
 * (a block of query rows cut from a longer causal softmax). Keys no row can see are left 0.
 */
public record Softmax(int dim, boolean causal, boolean log, int diagonal) {
    /** The usual causal diagonal, keys - queries, whatever the shape. */
    public static final int BOTTOM_RIGHT = Integer.MIN_VALUE;
    public static final OpDef<Softmax> OP = new Def();

    /** Plain softmax along dim. */
    public static Softmax along(int dim) {
        return new Softmax(dim, false, false, BOTTOM_RIGHT);
    }

    /** The diagonal for a [..., queries, keys] shape. */
    public int diagonalFor(int[] shape) {
        int queries = shape[shape.length - 2], keys = shape[shape.length - 1];
        return diagonal == BOTTOM_RIGHT ? keys - queries : diagonal;
    }

    private String label() {
        return log ? "logSoftmax" : "softmax";
    }

    private static final class Def extends OpDef<Softmax> {
        Def() {
            super("softmax", "Ops.softmax", Softmax.class);
        }

        @Override
        public String label(Softmax attrs) {
            return attrs.causal() && !attrs.log() ? "causalSoftmax" : attrs.label();
        }

        @Override
        public Output infer(Softmax attrs, Operand... in) {
            Operand x = in[0];
            String op = attrs.label();
            if (attrs.causal() && attrs.diagonal() != BOTTOM_RIGHT) {
                OpSupport.requireRank("causalSoftmax", x, 2);
                int queries = x.size(-2), keys = x.size(-1);
                if (attrs.diagonal() > keys - queries) {
                    throw new IllegalArgumentException("causalSoftmax: diagonal " + attrs.diagonal() + " lets a row of " + Shapes.str(x.shape())
                            + " see past the last key; it must be <= keys - queries = " + (keys - queries));
                }
            }
            OpSupport.requireRank(op, x, 1);
            int d = Shapes.dim(op, attrs.dim(), x.rank());
            if (attrs.causal()) {
                OpSupport.requireRank(op, x, 2);
                if (d != x.rank() - 1) throw new IllegalArgumentException(op + ": a causal mask applies along the last dimension, not " + attrs.dim());
            }
            OpSupport.requireFloat(op, x);
            return new Output(DType.F32, x.shape());
        }

        @Override
        public Tensor run(Backend be, Softmax attrs, Tensor... in) {
            infer(attrs, in);
            Tensor x = in[0];
            if (attrs.causal() && attrs.diagonal() != BOTTOM_RIGHT) {
                int queries = x.size(-2), keys = x.size(-1);
                if (attrs.diagonal() != keys - queries) {
                    Tensor out = OpSupport.newOutput(be, x, DType.F32, x.shape());
                    int visible = queries + attrs.diagonal(); // keys seen by the last row
                    Softmax usual = new Softmax(-1, true, attrs.log(), BOTTOM_RIGHT);
                    if (visible > 0) Ops.copyInto(run(be, usual, x.narrow(-1, 0, visible)), out.narrow(-1, 0, visible));
                    return out;
                }
            }
            int d = Shapes.dim(attrs.label(), attrs.dim(), x.rank());
            int last = x.rank() - 1;
            Tensor xin = OpSupport.f32(attrs.label(), d == last ? x : x.transpose(d, last));
            Tensor out = OpSupport.newOutput(be, xin, DType.F32, xin.shape());
            be.softmax(xin, out, attrs.causal() ? x.size(-2) : 1, attrs.causal(), attrs.log());
            return d == last ? out : out.transpose(d, last).contiguous();
        }

        @Override
        public int[] flow(Softmax attrs, Operand[] in, int[] outShape, int d) {
            return d == Shapes.dim("softmax", attrs.dim(), outShape.length) ? null : new int[] {d};
        }

        @Override
        public Softmax slice(Softmax attrs, int dim, int start, int length, int[] outShape) {
            if (!attrs.causal() || dim != outShape.length - 2) return attrs;
            return new Softmax(attrs.dim(), true, attrs.log(), attrs.diagonalFor(outShape) + start);
        }

        @Override
        public long scratchBytes(Softmax attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            Layout x = in[0];
            int last = x.rank() - 1;
            if (attrs.causal()) {
                int queries = x.size(-2), keys = x.size(-1);
                int diagonal = attrs.diagonalFor(x.shape());
                if (diagonal == keys - queries) return f32Copy(x, dtypes[0]);
                int visible = Math.max(0, queries + diagonal);
                if (visible == 0) return 0;
                Layout narrowed = x.narrow(last, visible);
                return f32Copy(narrowed, dtypes[0]) + DType.F32.byteSize(narrowed.numel());
            }
            int d = Shapes.dim("softmax", attrs.dim(), x.rank());
            if (d == last) return f32Copy(x, dtypes[0]);
            // Softmax runs over x.transpose(d, last), and its result is transposed back into a copy.
            int[] swap = OpSupport.swap(x.rank(), d, last);
            Layout moved = x.permute(swap);
            boolean copiesBack = !Layout.contiguous(moved.shape()).permute(swap).isContiguous();
            return f32Copy(moved, dtypes[0]) + (copiesBack ? DType.F32.byteSize(Shapes.numel(outShape)) : 0);
        }

        @Override
        public Backward<Softmax> backward() {
            // softmax: dx = y ∘ (g - Σ g∘y); log-softmax: dx = g - p · Σ g with p = e^y. Masked keys
            // have y = 0 in a causal softmax, so the first needs no mask; the causal log-softmax
            // leaves 0 there too, so its rule masks g and recomputes p (0 where masked) instead.
            return (attrs, in, out, g) -> {
                int d = Shapes.dim(attrs.label(), attrs.dim(), out.rank());
                if (!attrs.log()) return new Tensor[] {Ops.mul(out, Ops.sub(g, Ops.sum(Ops.mul(g, out), d, true)))};
                if (!attrs.causal()) return new Tensor[] {Ops.sub(g, Ops.mul(Ops.exp(out), Ops.sum(g, d, true)))};
                int queries = out.size(-2), keys = out.size(-1);
                Tensor seen = Ops.mul(g, Grads.causalMask(queries, keys, attrs.diagonalFor(out.shape()), out));
                Tensor p = OP.run(new Softmax(attrs.dim(), true, false, attrs.diagonal()), in[0]);
                return new Tensor[] {Ops.sub(seen, Ops.mul(p, Ops.sum(seen, d, true)))};
            };
        }

        @Override
        public long chunkExtraBytes(Softmax attrs, int[] outShape, int d) {
            // Query blocks above the last see fewer keys: softmax runs on a narrowed copy and is
            // copied back, about two extra passes over half the scores on average.
            return attrs.causal() && d == outShape.length - 2 ? 2 * DType.F32.byteSize(Shapes.numel(outShape)) : 0;
        }
    }
}
