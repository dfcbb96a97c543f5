package dev.corvus.comm;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * What the ranks of one in-JVM cluster share: the first failure, which ranks have closed, and the
 * mailboxes of every group (the root group and each sub-group), by group id.
 */
final class ClusterState {
    /** The first rank that failed (or -1 when the whole cluster was cancelled), and why. */
    record Failure(int rank, Throwable cause) {
        String message() {
            String m = cause.getMessage();
            String why = m == null ? cause.getClass().getName() : m;
            return rank < 0 ? "the cluster was cancelled: " + why : "rank " + rank + " failed: " + why;
        }
    }

    final int size;
    final Duration timeout;
    private final AtomicReference<Failure> failure = new AtomicReference<>();
    private final AtomicIntegerArray closed;
    private final ConcurrentHashMap<String, Mailbox> groups = new ConcurrentHashMap<>();

    ClusterState(int size, Duration timeout) {
        if (size < 1) throw new IllegalArgumentException("cluster size must be at least 1, got " + size);
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
        this.size = size;
        this.timeout = timeout;
        this.closed = new AtomicIntegerArray(size);
    }

    /** Records a failure; only the first one sticks. Returns whether this one was the first. */
    boolean fail(int rank, Throwable cause) {
        return failure.compareAndSet(null, new Failure(rank, cause));
    }

    Failure failure() {
        return failure.get();
    }

    void markClosed(int rootRank) {
        closed.set(rootRank, 1);
    }

    boolean isClosed(int rootRank) {
        return closed.get(rootRank) != 0;
    }

    /** Drops a sub-group's mailbox once all its members closed it, so groups made per call do not pile up. */
    void forget(String id) {
        groups.remove(id);
    }

    /** Groups alive now (for tests of the above). */
    int groupCount() {
        return groups.size();
    }

    /**
     * The mailbox of group {@code id}, made by {@code make} for whichever member gets here first;
     * the caller checks that it describes the group it asked for.
     */
    Mailbox group(String id, Function<String, Mailbox> make) {
        return groups.computeIfAbsent(id, make);
    }
}
