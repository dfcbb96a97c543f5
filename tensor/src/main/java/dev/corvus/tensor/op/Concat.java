package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/** Joins operands of equal shape but for {@code dim}, along {@code dim}; keeps their dtype. */
public record Concat(int dim) {
    public static final OpDef<Concat> OP = new Def();

    private static final class Def extends OpDef<Concat> {
        Def() {
            super("concat", "Ops.concat", Concat.class);
        }

        @Override
        public Output infer(Concat attrs, Operand... parts) {
            if (parts.length == 0) throw new IllegalArgumentException("concat: no tensors given");
            Operand first = parts[0];
            int d = Shapes.dim("concat", attrs.dim(), first.rank());
            int total = 0;
            for (Operand p : parts) {
                if (p.rank() != first.rank() || p.dtype() != first.dtype()) {
                    throw new IllegalArgumentException("concat: " + p.dtype() + " " + Shapes.str(p.shape()) + " does not match "
                            + first.dtype() + " " + Shapes.str(first.shape()));
                }
                for (int i = 0; i < first.rank(); i++) {
                    if (i != d && p.size(i) != first.size(i)) {
                        throw new IllegalArgumentException("concat: shapes " + Shapes.str(first.shape()) + " and " + Shapes.str(p.shape())
                                + " differ at dimension " + i + " (" + first.size(i) + " vs " + p.size(i) + ")");
                    }
                }
                total += p.size(d);
            }
            if (first.dtype().isQuantized()) {
                throw new IllegalArgumentException("concat: " + first.dtype() + " tensors cannot be joined; dequantize first");
            }
            int[] shape = first.shape();
            shape[d] = total;
            return new Output(first.dtype(), shape);
        }

        @Override
        public Tensor run(Backend be, Concat attrs, Tensor... parts) {
            Output o = infer(attrs, parts);
            int d = Shapes.dim("concat", attrs.dim(), parts[0].rank());
            Tensor out = OpSupport.newOutput(be, parts[0], o.dtype(), o.shape());
            int at = 0;
            for (Tensor p : parts) {
                Ops.copyInto(p, out.narrow(d, at, p.size(d)));
                at += p.size(d);
            }
            return out;
        }

        @Override
        public Backward<Concat> backward() {
            return (attrs, parts, out, g) -> {
                int d = Shapes.dim("concat", attrs.dim(), out.rank());
                Tensor[] grads = new Tensor[parts.length];
                int at = 0;
                for (int i = 0; i < parts.length; i++) {
                    grads[i] = g.narrow(d, at, parts[i].size(d));
                    at += parts[i].size(d);
                }
                return grads;
            };
        }

        @Override
        public int[] flow(Concat attrs, Operand[] in, int[] outShape, int d) {
            if (d == Shapes.dim("concat", attrs.dim(), outShape.length)) return null;
            int[] all = new int[in.length];
            Arrays.fill(all, d);
            return all;
        }
    }
}
