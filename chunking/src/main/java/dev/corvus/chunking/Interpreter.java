package dev.corvus.chunking;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Runs one node through the tensor API. Inside a chunk loop the node sees slices, and the few ops
 * whose attributes depend on absolute positions along the chunk dim get them shifted by the
 * slice's start: a causal mask's diagonal, rope's position offset, flash attention's query start,
 * a reshape's size along the chunk dim.
 */
final class Interpreter {
    private Interpreter() {}

    @SuppressWarnings("unchecked")
    static Tensor run(Node n, List<Tensor> in, Slice slice) {
        int shift = slice == null ? 0 : slice.start();
        return switch (n.op()) {
            case INPUT, PARAM -> throw new IllegalStateException(n.describe() + " is not computed");
            case LINEAR -> Ops.linear(in.get(0), in.get(1), in.size() > 2 ? in.get(2) : null);
            case MATMUL -> Ops.matmul(in.get(0), in.get(1));
            case BINARY -> Ops.binary((BinaryOp) n.attr(), in.get(0), in.get(1));
            case SCALE -> Ops.scale(in.get(0), (float) n.realAttr(0));
            case UNARY -> Ops.unary((UnaryOp) n.attr(), in.get(0));
            case SOFTMAX -> Ops.softmax(in.get(0), n.intAttr(0));
            case CAUSAL_SOFTMAX -> Ops.causalSoftmax(in.get(0), n.intAttr(0) + (along(slice, n.rank() - 2) ? shift : 0));
            case RMSNORM -> Ops.rmsnorm(in.get(0), in.size() > 1 ? in.get(1) : null, (float) n.realAttr(0));
            case LAYERNORM -> Ops.layernorm(in.get(0), in.size() > 1 ? in.get(1) : null, in.size() > 2 ? in.get(2) : null, (float) n.realAttr(0));
            case ROPE -> Ops.rope(in.get(0), n.intAttr(0), n.intAttr(1) + (along(slice, n.intAttr(0)) ? shift : 0), n.realAttr(0),
                    (RopeStyle) n.attr());
            case REDUCE -> Ops.reduce((ReduceOp) n.attr(), in.get(0), n.intAttr(0), n.intAttr(1) == 1);
            case CONCAT -> Ops.concat(n.intAttr(0), in.toArray(Tensor[]::new));
            case ATTENTION -> {
                boolean causal = n.intAttr(0) == 1;
                Mask mask = causal ? Mask.causal(n.intAttr(1) + (along(slice, 2) ? shift : 0), 0) : Mask.NONE;
                yield FlashAttention.forward(in.get(0), in.get(1), in.get(2), mask, (float) n.realAttr(0)).out();
            }
            case RESHAPE -> {
                int[] shape = n.ints().clone();
                if (slice != null) shape[slice.dim()] = slice.length();
                yield in.get(0).reshape(shape);
            }
            case PERMUTE -> in.get(0).permute(n.ints());
            case CONTIGUOUS -> in.get(0).contiguous();
            case CUSTOM -> checkCustom(n, ((Function<Tensor[], Tensor>) n.attr()).apply(in.toArray(Tensor[]::new)), slice);
        };
    }

    /** A custom op's result is trusted by everything downstream, so it must be what was traced (the slice's shape inside a chunk loop). */
    private static Tensor checkCustom(Node n, Tensor out, Slice slice) {
        int[] want = n.shape();
        if (slice != null) want[slice.dim()] = slice.length();
        if (out == null) {
            throw new IllegalStateException("custom op '" + n.label() + "' returned null; it must return a " + n.dtype() + " "
                    + Shapes.str(want) + " tensor");
        }
        if (!Arrays.equals(out.shape(), want) || out.dtype() != n.dtype()) {
            throw new IllegalStateException("custom op '" + n.label() + "' returned " + out.dtype() + " " + Shapes.str(out.shape())
                    + ", but it was traced as " + n.dtype() + " " + Shapes.str(want));
        }
        return out;
    }

    private static boolean along(Slice slice, int dim) {
        return slice != null && slice.dim() == dim;
    }
}
