package dev.corvus.opencl.cl;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts live native OpenCL objects by kind ("buffer", "kernel", "program", "queue", "context",
 * "event"), so tests can check that closing a scope released everything it made.
 */
public final class ClResources {
    private ClResources() {}

    private static final Map<String, AtomicLong> LIVE = new ConcurrentHashMap<>();

    static void created(String kind) {
        LIVE.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
    }

    static void released(String kind) {
        LIVE.computeIfAbsent(kind, k -> new AtomicLong()).decrementAndGet();
    }

    /** Live objects of one kind. */
    public static long live(String kind) {
        AtomicLong n = LIVE.get(kind);
        return n == null ? 0 : n.get();
    }

    /** Live objects of every kind seen so far (a snapshot, sorted by kind). */
    public static Map<String, Long> snapshot() {
        Map<String, Long> out = new TreeMap<>();
        LIVE.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }
}
