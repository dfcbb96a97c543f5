package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.RopeTable;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;

/**
 * Rotary position embedding of x [..., T, ..., D], where dimension {@code seqDim} indexes
 * positions {@code positionOffset .. positionOffset+T-1} and D is the head dimension; per-pair
 * angular frequencies (D/2 of them, see {@link RopeTable#frequencies}), cos and sin scaled by
 * {@code magnitude}.
 */
public record Rope(int seqDim, int positionOffset, double[] frequencies, double magnitude, RopeStyle style) {
    public static final OpDef<Rope> OP = new Def();

    /** The attributes of plain RoPE with base {@code theta} for x, checking x first so the frequencies can be formed. */
    public static Rope withTheta(Operand x, int seqDim, int positionOffset, double theta, RopeStyle style) {
        OpSupport.requireRank("rope", x, 2);
        if (x.size(-1) % 2 != 0) throw new IllegalArgumentException("rope: head dimension " + x.size(-1) + " of " + Shapes.str(x.shape()) + " is odd");
        return new Rope(seqDim, positionOffset, RopeTable.frequencies(x.size(-1), theta, 1, null), 1, style);
    }

    private static final class Def extends OpDef<Rope> {
        Def() {
            super("rope", "Ops.rope", Rope.class);
        }

        @Override
        public Output infer(Rope attrs, Operand... in) {
            Operand x = in[0];
            OpSupport.requireRank("rope", x, 2);
            int s = Shapes.dim("rope", attrs.seqDim(), x.rank());
            if (s == x.rank() - 1) throw new IllegalArgumentException("rope: the sequence dimension cannot be the last (feature) dimension");
            if (attrs.positionOffset() < 0) throw new IllegalArgumentException("rope: position offset " + attrs.positionOffset() + " is negative");
            int headDim = x.size(-1);
            if (headDim % 2 != 0) throw new IllegalArgumentException("rope: head dimension " + headDim + " of " + Shapes.str(x.shape()) + " is odd");
            double[] frequencies = attrs.frequencies();
            if (frequencies.length != headDim / 2) {
                throw new IllegalArgumentException("rope: " + frequencies.length + " frequencies for head dimension " + headDim + ", expected " + headDim / 2);
            }
            for (int i = 0; i < frequencies.length; i++) {
                if (!Double.isFinite(frequencies[i])) {
                    throw new IllegalArgumentException("rope: frequency " + i + " of " + frequencies.length + " is " + frequencies[i]
                            + "; check the rope theta, scale and factors it came from");
                }
            }
            if (!Double.isFinite(attrs.magnitude())) throw new IllegalArgumentException("rope: magnitude " + attrs.magnitude() + " must be a finite number");
            OpSupport.requireFloat("rope", x);
            return new Output(DType.F32, x.shape());
        }

        @Override
        public Tensor run(Backend be, Rope attrs, Tensor... in) {
            infer(attrs, in);
            Tensor x = OpSupport.f32("rope", in[0]);
            Tensor out = OpSupport.newOutput(be, x, DType.F32, x.shape());
            int[] shape = x.shape();
            int s = Shapes.dim("rope", attrs.seqDim(), x.rank());
            RopeTable table = table(attrs.positionOffset(), shape[s], attrs.frequencies(), attrs.magnitude());
            be.rope(x, out, table, (int) Shapes.prod(shape, s + 1, shape.length - 1), attrs.style());
            return out;
        }

        /**
         * The last table made, kept for the next call with the same positions, frequencies and
         * magnitude: a decoder rotates its keys and then its queries, in every layer, with the same
         * table (12 tables for one stories15M forward, each 2 x positions x d/2 double cos/sin; 1.6%
         * of a one-thread pp64 prefill's samples were making them). The backends only read it.
         */
        private static volatile KeptTable kept;

        private record KeptTable(int positionOffset, int positions, double[] frequencies, double magnitude, RopeTable table) {}

        private static RopeTable table(int positionOffset, int positions, double[] frequencies, double magnitude) {
            KeptTable k = kept;
            if (k != null && k.positionOffset == positionOffset && k.positions == positions && k.magnitude == magnitude
                    && java.util.Arrays.equals(k.frequencies, frequencies)) {
                return k.table;
            }
            RopeTable table = RopeTable.of(positionOffset, positions, frequencies, magnitude);
            kept = new KeptTable(positionOffset, positions, frequencies.clone(), magnitude, table);
            return table;
        }

        @Override
        public int[] flow(Rope attrs, Operand[] in, int[] outShape, int d) {
            return d == outShape.length - 1 ? null : new int[] {d};
        }

        @Override
        public Rope slice(Rope attrs, int dim, int start, int length, int[] outShape) {
            if (dim != Shapes.dim("rope", attrs.seqDim(), outShape.length)) return attrs;
            return new Rope(attrs.seqDim(), attrs.positionOffset() + start, attrs.frequencies(), attrs.magnitude(), attrs.style());
        }

        @Override
        public long scratchBytes(Rope attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            return f32Copy(in[0], dtypes[0]);
        }

        @Override
        public Backward<Rope> backward() {
            // Each pair is rotated by an angle and scaled by the magnitude: the transpose is the rotation
            // by minus that angle, the same op with every frequency negated (cos even, sin odd).
            return (attrs, in, out, g) -> {
                double[] negated = attrs.frequencies().clone();
                for (int i = 0; i < negated.length; i++) negated[i] = -negated[i];
                return new Tensor[] {OP.run(new Rope(attrs.seqDim(), attrs.positionOffset(), negated, attrs.magnitude(), attrs.style()), g)};
            };
        }
    }
}
