package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/** a op b, element-wise with numpy broadcasting, in F32. */
public record Binary(BinaryOp op) {
    public static final Binary ADD = new Binary(BinaryOp.ADD);
    public static final Binary SUB = new Binary(BinaryOp.SUB);
    public static final Binary MUL = new Binary(BinaryOp.MUL);
    public static final Binary DIV = new Binary(BinaryOp.DIV);
    public static final OpDef<Binary> OP = new Def();

    /** The shared attribute record for {@code op}. */
    public static Binary of(BinaryOp op) {
        return switch (op) {
            case ADD -> ADD;
            case SUB -> SUB;
            case MUL -> MUL;
            case DIV -> DIV;
        };
    }

    /** The name eager and traced code report, e.g. "add". */
    public String label() {
        return op.label();
    }

    private static final class Def extends OpDef<Binary> {
        Def() {
            super("binary", "Ops.binary", Binary.class);
        }

        @Override
        public String label(Binary attrs) {
            return attrs.label();
        }

        @Override
        public Output infer(Binary attrs, Operand... in) {
            String name = attrs.label();
            int[] shape = Shapes.broadcast(name, in[0].shape(), in[1].shape());
            OpSupport.requireFloat(name, in[0]);
            OpSupport.requireFloat(name, in[1]);
            return new Output(DType.F32, shape);
        }

        @Override
        public Tensor run(Backend be, Binary attrs, Tensor... in) {
            String name = attrs.label();
            int[] shape = infer(attrs, in).shape();
            Tensor a = in[0], b = in[1];
            if (swaps(attrs.op(), a.shape(), b.shape(), shape)) {
                Tensor t = a;
                a = b;
                b = t;
            }
            Tensor full = OpSupport.f32(name, Arrays.equals(a.shape(), shape) ? a : a.expand(shape));
            Tensor tiled = Arrays.equals(b.shape(), shape) || Shapes.tilesAsRows(b.shape(), shape) ? OpSupport.f32(name, b) : OpSupport.f32(name, b.expand(shape));
            Tensor out = OpSupport.newOutput(be, full, DType.F32, shape);
            be.binary(attrs.op(), full, tiled, out);
            return out;
        }

        @Override
        public int[] flow(Binary attrs, Operand[] in, int[] outShape, int d) {
            return new int[] {aligned(outShape, in[0], d), aligned(outShape, in[1], d)};
        }

        @Override
        public long scratchBytes(Binary attrs, Layout[] in, DType[] dtypes, int[] shape) {
            Layout a = in[0], b = in[1];
            DType da = dtypes[0], db = dtypes[1];
            if (swaps(attrs.op(), a.shape(), b.shape(), shape)) {
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

        @Override
        public Backward<Binary> backward() {
            // Each operand's gradient is summed back over the dims broadcasting stretched it along.
            return (attrs, in, out, g) -> {
                Tensor a = in[0], b = in[1];
                Tensor ga = switch (attrs.op()) {
                    case ADD, SUB -> g;
                    case MUL -> Ops.mul(g, b);
                    case DIV -> Ops.div(g, b);
                };
                Tensor gb = switch (attrs.op()) {
                    case ADD -> g;
                    case SUB -> Ops.neg(g);
                    case MUL -> Ops.mul(g, a);
                    case DIV -> Ops.neg(Ops.div(Ops.mul(g, out), b)); // d(a/b)/db = -(a/b)/b
                };
                return new Tensor[] {Grads.sumTo(ga, a.shape()), Grads.sumTo(gb, b.shape())};
            };
        }
    }

    /** A commutative op whose second operand has the full shape runs with the operands swapped, so the broadcast one tiles. */
    private static boolean swaps(BinaryOp op, int[] a, int[] b, int[] shape) {
        return (op == BinaryOp.ADD || op == BinaryOp.MUL) && !Arrays.equals(a, shape) && Arrays.equals(b, shape);
    }

    /** Broadcasting aligns dims from the right (matmul batch dims too); a size-1 or missing dim is read whole. */
    static int aligned(int[] outShape, Operand in, int d) {
        int src = d - (outShape.length - in.rank());
        return src < 0 || in.size(src) != outShape[d] ? OpDef.WHOLE : src;
    }
}
