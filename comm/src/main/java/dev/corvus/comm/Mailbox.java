package dev.corvus.comm;

import dev.corvus.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The messages in flight inside one group: one FIFO channel per (source, dest, tag) for
 * point-to-point traffic, and one per (source, dest) for collectives (every rank makes the same
 * collective calls in the same order, so FIFO order pairs them up; each message also carries its
 * collective's sequence number to catch mismatched calls). Groups never share a mailbox, so
 * sub-group traffic cannot mix with the parent's or a sibling's.
 */
final class Mailbox {
    /** Tag of the collective channel of a (source, dest) pair; user tags live in another key space. */
    private record Key(int source, int dest, boolean collective, int tag) {}

    /**
     * Bytes captured from a sender, with what the receiver needs to check them: for a collective,
     * its name, sequence number and the sender's {@link Signature} (null for point-to-point).
     */
    record Message(String op, long seq, Signature call, DType dtype, int[] shape, MemorySegment data) {
        long bytes() {
            return data.byteSize();
        }
    }

    final String id;
    final int[] rootRanks;
    /** The rank list its first creator passed (numbered in the parent group), and who that was; the others must pass the same. */
    final int[] list;
    final String creator;
    private final AtomicIntegerArray closed, joined;
    private final ConcurrentHashMap<Key, Channel> channels = new ConcurrentHashMap<>();
    private volatile String poisoned;

    Mailbox(String id, int[] rootRanks, int[] list, String creator) {
        this.id = id;
        this.rootRanks = rootRanks.clone();
        this.list = list.clone();
        this.creator = creator;
        this.closed = new AtomicIntegerArray(rootRanks.length);
        this.joined = new AtomicIntegerArray(rootRanks.length);
    }

    /** Records that member {@code rank} has its communicator for this group. */
    void join(int rank) {
        joined.set(rank, 1);
    }

    boolean hasJoined(int rank) {
        return joined.get(rank) != 0;
    }

    /** Makes every member's waits and later calls fail with {@code why} (the members disagreed on what the group is). */
    void poison(String why) {
        poisoned = why;
    }

    /** Why this group is unusable, or null. */
    String poisoned() {
        return poisoned;
    }

    /** Marks a member closed; true when that made every member closed (no one can receive any more). */
    boolean markClosed(int rank) {
        closed.set(rank, 1);
        for (int i = 0; i < closed.length(); i++) if (closed.get(i) == 0) return false;
        return true;
    }

    boolean isClosed(int rank) {
        return closed.get(rank) != 0;
    }

    void post(int source, int dest, boolean collective, int tag, Message m) {
        channels.compute(new Key(source, dest, collective, tag), (k, ch) -> {
            Channel c = ch == null ? new Channel() : ch;
            c.post(m);
            return c;
        });
    }

    /** Registers a receive; it matches the oldest unmatched message, or the next one posted. */
    Pending receive(int source, int dest, boolean collective, int tag) {
        Key key = new Key(source, dest, collective, tag);
        Pending p = new Pending(key);
        channels.compute(key, (k, ch) -> {
            Channel c = ch == null ? new Channel() : ch;
            c.register(p);
            return c;
        });
        return p;
    }

    /**
     * Withdraws a receive that is still waiting; returns false if a message matched it meanwhile
     * (then {@link Pending#poll()} has it).
     */
    boolean cancel(Pending p) {
        boolean[] removed = {false};
        channels.computeIfPresent(p.key, (k, ch) -> {
            removed[0] = ch.cancel(p);
            return ch.idle() ? null : ch;
        });
        return removed[0];
    }

    /** Drops the channel of a completed receive if nothing else is queued or waiting on it. */
    void tidy(Pending p) {
        channels.computeIfPresent(p.key, (k, ch) -> ch.idle() ? null : ch);
    }

    /** Queued messages and waiting receives of one key; used only under the map's lock for the key. */
    private static final class Channel {
        private final ArrayDeque<Message> queued = new ArrayDeque<>();
        private final ArrayDeque<Pending> waiting = new ArrayDeque<>();

        void post(Message m) {
            Pending p = waiting.poll();
            if (p != null) p.complete(m);
            else queued.add(m);
        }

        void register(Pending p) {
            Message m = queued.poll();
            if (m != null) p.complete(m);
            else waiting.add(p);
        }

        boolean cancel(Pending p) {
            return waiting.remove(p);
        }

        boolean idle() {
            return queued.isEmpty() && waiting.isEmpty();
        }
    }

    /** A receive waiting for its message. */
    static final class Pending {
        private final Key key;
        private final CountDownLatch done = new CountDownLatch(1);
        private volatile Message message;

        private Pending(Key key) {
            this.key = key;
        }

        private void complete(Message m) {
            message = m;
            done.countDown();
        }

        /** The message, waiting at most {@code nanos}; null if none came. */
        Message await(long nanos) throws InterruptedException {
            return done.await(nanos, TimeUnit.NANOSECONDS) ? message : null;
        }

        Message poll() {
            return done.getCount() == 0 ? message : null;
        }
    }
}
