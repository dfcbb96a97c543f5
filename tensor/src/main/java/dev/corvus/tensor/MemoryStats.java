package dev.corvus.tensor;

import java.util.concurrent.atomic.AtomicLong;

/** Process-wide off-heap accounting: bytes live in all open scopes and the peak since the last reset. */
public final class MemoryStats {
    private static final AtomicLong LIVE = new AtomicLong();
    private static final AtomicLong PEAK = new AtomicLong();

    private MemoryStats() {}

    public static long liveBytes() {
        return LIVE.get();
    }

    public static long peakBytes() {
        return PEAK.get();
    }

    /** Starts a new peak measurement from the bytes live now. */
    public static void resetPeak() {
        PEAK.set(LIVE.get());
    }

    static void allocated(long bytes) {
        long live = LIVE.addAndGet(bytes);
        PEAK.accumulateAndGet(live, Math::max);
    }

    static void freed(long bytes) {
        LIVE.addAndGet(-bytes);
    }
}
