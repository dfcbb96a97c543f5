package dev.corvus.attention;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.Layout;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.OpProvider;
import dev.corvus.tensor.op.Operand;
import java.util.List;

/**
 * Flash attention as a registry op: operands q [B, H, Nq, D], k and v [B, Hkv, Nk, D]; the result
 * is {@link FlashAttention#forward}'s out (the log-sum-exp is scratch). A chunk along the queries
 * shifts the mask's query start, so a chunked loop equals the whole.
 */
public record Attention(Mask mask, float scale, float softcap) {
    public static final OpDef<Attention> OP = new Def();

    /** Registers {@link #OP} with {@link dev.corvus.tensor.op.OpRegistry}. */
    public static final class Provider implements OpProvider {
        @Override
        public List<OpDef<?>> ops() {
            return List.of(OP);
        }
    }

    private static final class Def extends OpDef<Attention> {
        Def() {
            super("attention", "FlashAttention.forward", Attention.class);
        }

        @Override
        public Output infer(Attention attrs, Operand... in) {
            if (in.length != 3) throw new IllegalArgumentException("flashAttention: " + in.length + " operands, expected q, k and v");
            FlashAttention.check("flashAttention", in[0], in[1], in[2], attrs.mask(), attrs.scale(), attrs.softcap());
            return new Output(DType.F32, in[0].shape());
        }

        @Override
        public Tensor run(Backend backend, Attention attrs, Tensor... in) {
            return FlashAttention.forward(in[0], in[1], in[2], attrs.mask(), attrs.scale(), attrs.softcap()).out();
        }

        @Override
        public int[] flow(Attention attrs, Operand[] in, int[] outShape, int d) {
            // Queries are independent, keys are summed over.
            if (d == 3) return null;
            if (d == 2) return new int[] {2, WHOLE, WHOLE};
            if (d == 1 && in[1].size(1) != outShape[1]) return null; // grouped KV heads
            return new int[] {d, d, d};
        }

        @Override
        public Attention slice(Attention attrs, int dim, int start, int length, int[] outShape) {
            Mask m = attrs.mask();
            if (dim != 2 || !m.causal()) return attrs;
            return new Attention(new Mask(true, m.queryStart() + start, m.keyStart(), m.window()), attrs.scale(), attrs.softcap());
        }

        @Override
        public long scratchBytes(Attention attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            return DType.F32.byteSize((long) outShape[0] * outShape[1] * outShape[2]); // the log-sum-exp
        }

        @Override
        public double flops(Attention attrs, Operand[] in, int[] outShape) {
            return 4.0 * Shapes.numel(outShape) * in[1].size(2);
        }

        @Override
        public long productRows(Attention attrs, Operand[] in, int[] outShape) {
            return outShape[2];
        }

        @Override
        public Backward<Attention> backward() {
            // FlashAttention's backward by recomputation: the forward is run again only for the
            // log-sum-exp the op does not keep; dQ, dK, dV come tile by tile, no N x N buffer.
            return (attrs, in, out, g) -> {
                Tensor lse = FlashAttention.forward(in[0], in[1], in[2], attrs.mask(), attrs.scale(), attrs.softcap()).lse();
                FlashAttention.Gradients d = FlashAttention.backward(in[0], in[1], in[2], out, lse, g, attrs.mask(), attrs.scale(),
                        attrs.softcap());
                return new Tensor[] {d.dq(), d.dk(), d.dv()};
            };
        }
    }
}
