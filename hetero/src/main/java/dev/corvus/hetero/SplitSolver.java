package dev.corvus.hetero;

/**
 * Chooses the split point k of a layer: the CPU takes output rows [0, k), the device [k, n).
 *
 * <p>The continuous optimum is the balance point α* of {@link SplitLatencyModel.Terms#balance()}. k is
 * then rounded to {@link #ROW_TILE} rows, the CPU GEMV's unit of work and a multiple of the
 * device GEMV's 4 outputs per work-group, so neither side gets a ragged tile; k = n (all rows on
 * the CPU) is always allowed. L(α) = max(T_c, T_g) is the maximum of a non-decreasing and a
 * non-increasing function, so the best tile-aligned k is one of the two tiles around α*·n or an
 * end (k = 0: pure offload, k = n: CPU only, where a branch drops its fixed cost); the solver
 * compares those four. Ties go to the larger k: fewer bytes on the bus for the same time. When the
 * branches do not overlap (a device on the host's cores) L is linear between the ends and one
 * of the ends wins, which the same comparison finds.
 *
 * <p>Degenerate cases fall out of the terms: no device gives infinite device terms and k = n; a
 * free bus (io = x = y = 0) balances compute alone; c → 0 gives α → 1.
 */
public final class SplitSolver {
    /** Rows per tile: k is a multiple of this, or n. */
    public static final int ROW_TILE = 16;

    private SplitSolver() {}

    /** A chosen split: {@code rows} of {@code outFeatures} on the CPU, with the predicted times. */
    public record Split(int rows, int outFeatures, double predictedSeconds, double cpuSeconds, double deviceSeconds) {
        /** The CPU's share of the output rows, k / n. */
        public double alpha() {
            return (double) rows / outFeatures;
        }

        public boolean usesDevice() {
            return rows < outFeatures;
        }
    }

    /** The best tile-aligned split of an n-row layer under {@code terms}. */
    public static Split solve(SplitLatencyModel.Terms terms, int n) {
        if (n < 1) throw new IllegalArgumentException("split solver: a layer needs at least one output row, got " + n);
        double target = terms.balance() * n;
        int below = roundDown((int) Math.floor(target)), above = roundUp((int) Math.ceil(target), n);
        int best = n;
        double bestTime = terms.latency(1.0);
        for (int k : new int[] {above, below, 0}) {
            double t = terms.latency((double) k / n);
            if (t < bestTime) {
                best = k;
                bestTime = t;
            }
        }
        return split(terms, best, n);
    }

    /** The predicted times of a given split (for benchmarks and tests that force k). */
    public static Split split(SplitLatencyModel.Terms terms, int k, int n) {
        if (k < 0 || k > n) throw new IllegalArgumentException("split: k = " + k + " is outside [0, " + n + "]");
        double alpha = (double) k / n;
        return new Split(k, n, terms.latency(alpha), terms.cpu(alpha), terms.device(alpha));
    }

    /** The largest multiple of the tile at or below k. */
    public static int roundDown(int k) {
        return Math.max(0, k / ROW_TILE * ROW_TILE);
    }

    /** The smallest multiple of the tile at or above k, or n when that passes n. */
    public static int roundUp(int k, int n) {
        int up = (k + ROW_TILE - 1) / ROW_TILE * ROW_TILE;
        return Math.min(up, n);
    }

    /** Every split point the solver may choose for n rows: 0, 16, 32, ..., and n. */
    public static int[] allowedRows(int n) {
        int tiles = n / ROW_TILE;
        boolean ragged = n % ROW_TILE != 0;
        int[] ks = new int[tiles + 1 + (ragged ? 1 : 0)];
        for (int i = 0; i <= tiles; i++) ks[i] = i * ROW_TILE;
        if (ragged) ks[ks.length - 1] = n;
        return ks;
    }

    /** The tile-aligned k nearest α·n (for forcing a ratio, e.g. in benchmarks). */
    public static int rowsFor(double alpha, int n) {
        if (!(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("split: α = " + alpha + " is outside [0, 1]");
        int k = (int) Math.round(alpha * n);
        if (k == n) return n;
        int down = roundDown(k), up = roundUp(k, n);
        return k - down <= up - k ? down : up;
    }
}
