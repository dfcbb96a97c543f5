package dev.corvus.chunking;

import dev.corvus.tensor.op.OpDef;
import java.util.Arrays;

/**
 * Dimension tracing: for an output dimension, which dimension of each operand it comes from, or
 * that the op mixes values along it (a reduction, a matmul output column, a softmax or norm row),
 * in which case a chunk loop cannot cut it. Each op's rule is its definition's
 * {@link OpDef#flow}.
 *
 * <p>A chunk of output slice [s, s+len) along dimension d needs, from operand i, the same slice
 * along {@code flow(n, d)[i]}, or the whole operand when that entry is {@link #WHOLE}.
 */
public final class DimRules {
    /** The operand is read whole by every chunk (a weight, a broadcast size-1 dimension). */
    public static final int WHOLE = OpDef.WHOLE;

    private DimRules() {}

    /**
     * Per operand, the dimension a chunk along output dimension {@code d} slices, or {@link #WHOLE};
     * null when the op mixes values along d.
     *
     * @throws UnsupportedOperationException for an op with no rule (a custom node)
     */
    public static int[] flow(Node n, int d) {
        if (n.isCustom()) {
            throw new UnsupportedOperationException("AutoChunk has no dimension rule for custom op '" + n.label() + "' ("
                    + n.describe() + "); it cannot tell which dimensions the op mixes, so it will not guess. Trace the op from"
                    + " tensor API ops instead, or compile a graph without it");
        }
        return flow(n.op(), n, d);
    }

    private static <A extends Record> int[] flow(OpDef<A> op, Node n, int d) {
        return op.flow(op.cast(n.attrs()), n.inputs().toArray(Node[]::new), n.shape(), d);
    }

    /** The dimension rule of every output dimension: which input dims it flows from, or mixed. */
    public static String explain(Node n) {
        StringBuilder sb = new StringBuilder(n.describe()).append(':');
        for (int d = 0; d < n.rank(); d++) {
            int[] f = flow(n, d);
            sb.append(" d").append(d).append(f == null ? "=mixed" : "<-" + Arrays.toString(f));
        }
        return sb.toString();
    }
}
