package dev.corvus.attention;

/**
 * Which keys a query sees, by absolute token position. Query row i of a block stands at position
 * {@code queryStart + i}, key row j at {@code keyStart + j}; under a causal mask the query sees the
 * key iff key position <= query position. Blocks of a sharded sequence (ring steps, zigzag
 * chunks) pass their global positions, so one rule serves single-device and parallel attention.
 */
public record Mask(boolean causal, long queryStart, long keyStart) {
    /** Every query sees every key. */
    public static final Mask NONE = new Mask(false, 0, 0);

    public static Mask causal(long queryStart, long keyStart) {
        return new Mask(true, queryStart, keyStart);
    }

    /**
     * The usual causal mask for nq queries that are the last nq of nk keys (a prompt, or decode
     * steps against a KV cache): query i sees keys j <= i + nk - nq.
     */
    public static Mask causalBottomRight(int nq, int nk) {
        return new Mask(true, nk - nq, 0);
    }

    /** True when query position q may see key position k. */
    public boolean visible(long q, long k) {
        return !causal || k <= q;
    }
}
