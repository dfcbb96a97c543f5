package dev.corvus.attention;

/**
 * Which keys a query sees, by absolute token position. Query row i of a block stands at position
 * {@code queryStart + i}, key row j at {@code keyStart + j}; under a causal mask the query sees the
 * key iff key position &lt;= query position. Blocks of a sharded sequence (ring steps, zigzag
 * chunks) pass their global positions, so one rule serves single-device and parallel attention.
 *
 * <p>A sliding window (causal masks only) further hides keys {@code window} or more positions
 * behind the query: query p sees key k iff {@code p - window < k <= p}, the window counting the
 * query's own position (llama.cpp's standard SWA: masked iff p - k >= n_swa).
 * {@link FlashAttention#forward}, its backward and decode honour it (skipping key tiles outside
 * the window); accelerator backends' fused kernels refuse it.
 */
public record Mask(boolean causal, long queryStart, long keyStart, long window) {
    /** The window of a mask without one: no key is ever that far behind. */
    public static final long NO_WINDOW = Long.MAX_VALUE;

    /** Every query sees every key. */
    public static final Mask NONE = new Mask(false, 0, 0, NO_WINDOW);

    public Mask {
        if (window <= 0) throw new IllegalArgumentException("mask: sliding window " + window + " must be positive (NO_WINDOW for none)");
        if (window != NO_WINDOW && !causal) throw new IllegalArgumentException("mask: a sliding window needs a causal mask");
    }

    public Mask(boolean causal, long queryStart, long keyStart) {
        this(causal, queryStart, keyStart, NO_WINDOW);
    }

    public static Mask causal(long queryStart, long keyStart) {
        return new Mask(true, queryStart, keyStart);
    }

    /**
     * The usual causal mask for nq queries that are the last nq of nk keys (a prompt, or decode
     * steps against a KV cache): query i sees keys j &lt;= i + nk - nq.
     */
    public static Mask causalBottomRight(int nq, int nk) {
        return new Mask(true, nk - nq, 0);
    }

    /** {@link #causalBottomRight} that also hides keys {@code window} or more positions behind each query. */
    public static Mask slidingWindowBottomRight(int nq, int nk, int window) {
        return new Mask(true, nk - nq, 0, window);
    }

    public boolean windowed() {
        return window != NO_WINDOW;
    }

    /** True when query position q may see key position k. */
    public boolean visible(long q, long k) {
        return (!causal || k <= q) && (!windowed() || q - k < window);
    }
}
