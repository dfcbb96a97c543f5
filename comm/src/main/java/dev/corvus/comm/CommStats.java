package dev.corvus.comm;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/** Bytes one rank has sent, per {@link OpKind}; thread-safe. */
public final class CommStats {
    private final AtomicLongArray bytes = new AtomicLongArray(OpKind.values().length);

    public void add(OpKind kind, long n) {
        bytes.addAndGet(kind.ordinal(), n);
    }

    public long bytes(OpKind kind) {
        return bytes.get(kind.ordinal());
    }

    public long totalBytes() {
        long t = 0;
        for (int i = 0; i < bytes.length(); i++) t += bytes.get(i);
        return t;
    }

    public void reset() {
        for (int i = 0; i < bytes.length(); i++) bytes.set(i, 0);
    }

    public Map<OpKind, Long> snapshot() {
        Map<OpKind, Long> m = new EnumMap<>(OpKind.class);
        for (OpKind k : OpKind.values()) m.put(k, bytes(k));
        return m;
    }

    @Override
    public String toString() {
        return snapshot().toString();
    }
}
