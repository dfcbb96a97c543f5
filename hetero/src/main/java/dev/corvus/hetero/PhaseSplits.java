package dev.corvus.hetero;

import java.util.Arrays;

/**
 * Split points per phase: a call with m input rows uses {@code rows[i]} for the first i with
 * m &lt;= upToM[i] (the last entry beyond). Decode (m = 1) and prefill batches get their own k,
 * since the CPU turns compute-bound as m grows and its share shrinks (papers.md §4.2).
 */
public record PhaseSplits(int[] upToM, int[] rows) {
    public PhaseSplits {
        if (upToM.length == 0 || upToM.length != rows.length) {
            throw new IllegalArgumentException("phase splits: need one k per phase, got " + upToM.length + " phases and " + rows.length + " splits");
        }
        for (int i = 1; i < upToM.length; i++) {
            if (upToM[i] <= upToM[i - 1]) throw new IllegalArgumentException("phase splits: phases must ascend, got " + Arrays.toString(upToM));
        }
        upToM = upToM.clone();
        rows = rows.clone();
    }

    /** The same k for every m. */
    public static PhaseSplits fixed(int k) {
        return new PhaseSplits(new int[] {Integer.MAX_VALUE}, new int[] {k});
    }

    /** k for a call with {@code m} input rows. */
    public int rowsFor(int m) {
        for (int i = 0; i < upToM.length; i++) if (m <= upToM[i]) return rows[i];
        return rows[rows.length - 1];
    }

    /** The smallest k of any phase: rows [min, n) may go to the device, so they are the ones pinned. */
    public int minRows() {
        return Arrays.stream(rows).min().orElseThrow();
    }

    @Override
    public int[] upToM() {
        return upToM.clone();
    }

    @Override
    public int[] rows() {
        return rows.clone();
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < rows.length; i++) {
            if (i > 0) s.append(", ");
            s.append("m<=").append(upToM[i] == Integer.MAX_VALUE ? "any" : upToM[i]).append(": k=").append(rows[i]);
        }
        return s.toString();
    }
}
