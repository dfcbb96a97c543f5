package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/** {@link Tensor#permute}: a view with the dimensions reordered; order[i] is the input dim output dim i shows. */
public record Permute(int[] order) {
    public static final OpDef<Permute> OP = new Def();

    /** The order that swaps two dimensions of a rank-{@code rank} value ({@link Tensor#transpose}). */
    public static Permute transpose(int rank, int dim0, int dim1) {
        int a = Shapes.dim("transpose", dim0, rank), b = Shapes.dim("transpose", dim1, rank);
        int[] order = new int[rank];
        for (int i = 0; i < order.length; i++) order[i] = i;
        order[a] = b;
        order[b] = a;
        return new Permute(order);
    }

    /** The order with negative dims resolved, checked against {@code rank}. */
    int[] resolved(int rank) {
        if (order.length != rank) throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " does not match rank " + rank);
        int[] o = new int[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            o[i] = Shapes.dim("permute", order[i], rank);
            if (seen[o[i]]) throw new IllegalArgumentException("permute: dimension " + o[i] + " repeats in " + Arrays.toString(order));
            seen[o[i]] = true;
        }
        return o;
    }

    private static final class Def extends ViewDef<Permute> {
        Def() {
            super("permute", "Tensor.permute", Permute.class);
        }

        @Override
        public Output infer(Permute attrs, Operand... in) {
            int[] o = attrs.resolved(in[0].rank());
            int[] shape = new int[o.length];
            for (int i = 0; i < o.length; i++) shape[i] = in[0].size(o[i]);
            return new Output(in[0].dtype(), shape);
        }

        @Override
        public Tensor run(Backend be, Permute attrs, Tensor... in) {
            return in[0].permute(attrs.order());
        }

        @Override
        public Backward<Permute> backward() {
            return (attrs, in, out, g) -> {
                int[] order = attrs.resolved(in[0].rank()), inverse = new int[order.length];
                for (int i = 0; i < order.length; i++) inverse[order[i]] = i;
                return new Tensor[] {g.permute(inverse)};
            };
        }

        @Override
        public int[] flow(Permute attrs, Operand[] in, int[] outShape, int d) {
            return new int[] {attrs.resolved(in[0].rank())[d]};
        }

        @Override
        public Layout outputLayout(Permute attrs, Layout[] in, int[] outShape) {
            return in[0].permute(attrs.resolved(in[0].rank()));
        }
    }
}
