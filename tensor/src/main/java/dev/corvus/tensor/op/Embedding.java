package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;

/** Rows of table [V, D] (any dtype) picked by I32 ids of any shape: F32 [..ids, D]. Operands: table, ids. */
public record Embedding() {
    public static final Embedding ATTRS = new Embedding();
    public static final OpDef<Embedding> OP = new Def();

    private static final class Def extends OpDef<Embedding> {
        Def() {
            super("embedding", "Ops.embedding", Embedding.class);
        }

        @Override
        public Output infer(Embedding attrs, Operand... in) {
            Operand table = in[0], ids = in[1];
            if (table.rank() != 2) throw new IllegalArgumentException("embedding: table must be [V, D], got " + Shapes.str(table.shape()));
            if (ids.dtype() != DType.I32) throw new IllegalArgumentException("embedding: ids must be I32, got " + ids.dtype());
            if (table.dtype().isQuantized() && !Shapes.isContiguous(table.shape(), table.strides())) {
                throw new IllegalArgumentException("embedding: a " + table.dtype() + " table must be contiguous");
            }
            return new Output(DType.F32, OpSupport.concat(ids.shape(), table.size(1)));
        }

        @Override
        public Tensor run(Backend be, Embedding attrs, Tensor... in) {
            Output o = infer(attrs, in);
            Tensor table = in[0].contiguous(), idc = in[1].contiguous();
            int vocab = table.size(0);
            if (idc.device().equals(Device.CPU)) {
                int[] values = idc.toIntArray();
                for (int i = 0; i < values.length; i++) {
                    if (values[i] < 0 || values[i] >= vocab) {
                        throw new IndexOutOfBoundsException("embedding: id " + values[i] + " at position " + i + " is outside the table's range [0, " + vocab + ")");
                    }
                }
            }
            Tensor out = OpSupport.newOutput(be, table, DType.F32, o.shape());
            be.embedding(table, idc, out);
            return out;
        }

        @Override
        public int[] flow(Embedding attrs, Operand[] in, int[] outShape, int d) {
            return d == outShape.length - 1 ? new int[] {1, WHOLE} : new int[] {WHOLE, d};
        }

        @Override
        public long scratchBytes(Embedding attrs, Layout[] in, DType[] dtypes, int[] outShape) {
            return in[1].isContiguous() ? 0 : DType.I32.byteSize(in[1].numel());
        }

        @Override
        public Backward<Embedding> backward() {
            // The gradient of each looked-up row is added into its table row (an id used twice gets both);
            // ids have none, nor does a quantised table.
            return (attrs, in, out, g) -> {
                Tensor table = in[0];
                if (!Grads.trainable(table)) return new Tensor[] {null, null};
                int dim = table.size(1);
                int[] ids = in[1].contiguous().toIntArray();
                float[] gs = g.toFloatArray();
                double[] rows = new double[Math.toIntExact(table.numel())];
                for (int i = 0; i < ids.length; i++) {
                    for (int j = 0; j < dim; j++) rows[ids[i] * dim + j] += gs[i * dim + j];
                }
                return new Tensor[] {Grads.like(NormDef.toFloats(rows), table), null};
            };
        }
    }
}
