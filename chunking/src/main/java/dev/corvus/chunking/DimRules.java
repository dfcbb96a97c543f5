package dev.corvus.chunking;

import java.util.Arrays;

/**
 * Dimension tracing, one rule per op kind: for an output dimension, which dimension of each
 * operand it comes from, or that the op mixes values along it (a reduction, a matmul output
 * column, a softmax or norm row), in which case a chunk loop cannot cut it.
 *
 * <p>A chunk of output slice [s, s+len) along dimension d needs, from operand i, the same slice
 * along {@code flow(n, d)[i]}, or the whole operand when that entry is {@link #WHOLE}.
 */
public final class DimRules {
    /** The operand is read whole by every chunk (a weight, a broadcast size-1 dimension). */
    public static final int WHOLE = -1;

    private DimRules() {}

    /**
     * Per operand, the dimension a chunk along output dimension {@code d} slices, or {@link #WHOLE};
     * null when the op mixes values along d.
     *
     * @throws UnsupportedOperationException for an op with no rule (a {@link Op#CUSTOM} node)
     */
    public static int[] flow(Node n, int d) {
        int rank = n.rank();
        int last = rank - 1;
        return switch (n.op()) {
            case INPUT, PARAM -> new int[0];
            case SCALE, UNARY, CONTIGUOUS -> new int[] {d};
            case BINARY -> new int[] {aligned(n, n.input(0), d), aligned(n, n.input(1), d)};
            case LINEAR -> d == last ? null : wholeExcept(n, 0, d);
            case MATMUL -> {
                if (d == last) yield null;
                if (d == last - 1) yield new int[] {n.input(0).rank() - 2, WHOLE};
                yield new int[] {aligned(n, n.input(0), d), aligned(n, n.input(1), d)}; // batch dims broadcast like element-wise ones
            }
            case SOFTMAX -> d == n.intAttr(0) ? null : new int[] {d};
            case CAUSAL_SOFTMAX, ROPE -> d == last ? null : new int[] {d};
            case RMSNORM, LAYERNORM -> d == last ? null : wholeExcept(n, 0, d);
            case REDUCE -> {
                int r = n.intAttr(0);
                boolean keep = n.intAttr(1) == 1;
                if (keep) yield d == r ? null : new int[] {d};
                yield new int[] {d < r ? d : d + 1};
            }
            case CONCAT -> {
                if (d == n.intAttr(0)) yield null;
                int[] all = new int[n.inputs().size()];
                Arrays.fill(all, d);
                yield all;
            }
            case ATTENTION -> {
                // q [B, H, Nq, D], k and v [B, Hkv, Nk, D]: queries are independent, keys are summed over.
                if (d == 3) yield null;
                if (d == 2) yield new int[] {2, WHOLE, WHOLE};
                if (d == 1 && n.input(1).size(1) != n.size(1)) yield null; // grouped KV heads
                yield new int[] {d, d, d};
            }
            case PERMUTE -> new int[] {n.intAttr(d)};
            case RESHAPE -> {
                int src = reshapeSource(n.input(0).shape(), n.shape(), d);
                yield src < 0 ? null : new int[] {src};
            }
            case CUSTOM -> throw new UnsupportedOperationException("AutoChunk has no dimension rule for custom op '" + n.label() + "' ("
                    + n.describe() + "); it cannot tell which dimensions the op mixes, so it will not guess. Trace the op from"
                    + " tensor API ops instead, or compile a graph without it");
        };
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

    private static int[] wholeExcept(Node n, int operand, int dim) {
        int[] r = new int[n.inputs().size()];
        Arrays.fill(r, WHOLE);
        r[operand] = dim;
        return r;
    }

    /** Broadcasting aligns dims from the right (matmul batch dims too); a size-1 or missing dim is read whole. */
    private static int aligned(Node out, Node in, int d) {
        int src = d - (out.rank() - in.rank());
        return src < 0 || in.size(src) != out.size(d) ? WHOLE : src;
    }

    /**
     * The input dim output dim d of a reshape keeps, when it is carried over unchanged (the same
     * size with the same number of elements before it); -1 when the reshape merges or splits it.
     */
    static int reshapeSource(int[] in, int[] out, int d) {
        long before = 1;
        for (int i = 0; i < d; i++) before *= out[i];
        long acc = 1;
        for (int i = 0; i < in.length; i++) {
            if (acc == before && in[i] == out[d]) return in[i] == 1 ? -1 : i;
            if (acc > before) return -1;
            acc *= in[i];
        }
        return -1;
    }
}
