package dev.corvus.chunking;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.op.Layout;
import dev.corvus.tensor.op.OpDef;

/**
 * What running a node costs in memory, read from its op definition's memory rule: whether the
 * result is a view (no memory) or a new buffer, its layout, and the scratch the op allocates and
 * drops before returning. Inside a chunk loop the rule sees the slice's layouts and the
 * attributes {@link OpDef#slice} gives it, as {@link Interpreter} runs it.
 */
final class MemoryModel {
    private MemoryModel() {}

    /** The memory a node takes for these operand layouts (already sliced when {@code slice} is set). */
    record Footprint(Layout output, boolean view, long scratchBytes) {}

    static Footprint of(Node n, Layout[] in, DType[] dtypes, int[] outShape, Slice slice) {
        return of(n.op(), n, in, dtypes, outShape, slice);
    }

    private static <A extends Record> Footprint of(OpDef<A> op, Node n, Layout[] in, DType[] dtypes, int[] outShape, Slice slice) {
        A attrs = Interpreter.sliced(op, op.cast(n.attrs()), n.shape(), slice);
        return new Footprint(op.outputLayout(attrs, in, outShape), op.isView(attrs, in), op.scratchBytes(attrs, in, dtypes, outShape));
    }
}
