package dev.corvus.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A region of off-heap memory that is freed as a whole when it closes. Tensors created while a
 * scope is open on the current thread (the innermost one) live in it; using such a tensor after
 * the scope closed raises {@link IllegalStateException}, never a crash.
 *
 * <pre>{@code
 * try (MemoryScope scope = MemoryScope.open("forward")) {
 *     Tensor y = Ops.matmul(x, w);   // allocated in "forward"
 * }                                  // freed here
 * }</pre>
 *
 * Memory is shared between threads (kernels run on the pool), and counted: every scope knows its
 * live and peak bytes, and {@link MemoryStats} knows them for the whole process.
 */
public final class MemoryScope implements AutoCloseable {
    /** Storage alignment: one cache line, and the widest vector register (AVX-512). */
    public static final long ALIGNMENT = 64;

    private static final ThreadLocal<ArrayDeque<MemoryScope>> OPEN = ThreadLocal.withInitial(ArrayDeque::new);

    private final String name;
    private final Arena arena;
    private final Thread owner;
    private final AtomicLong liveBytes = new AtomicLong();
    private final AtomicLong peakBytes = new AtomicLong();
    private volatile boolean closed;
    private final java.util.List<Runnable> closeActions = new java.util.ArrayList<>();
    /** Recycled segments by byte size; null unless the scope is {@link #pooled}. */
    private final java.util.Map<Long, ArrayDeque<MemorySegment>> pool;
    /** Segments handed out since the last {@link #takeAllocations()}; null unless pooled. */
    private final java.util.List<MemorySegment> recent;
    /** Pooled only: buffers at least {@link #OWN_ARENA_BYTES} long, each in an arena of its own. */
    private final java.util.Map<MemorySegment, Arena> ownArenas;
    /** Pooled only: recycled large buffers, oldest first, and the cap on their total bytes. */
    private final ArrayDeque<MemorySegment> cachedLarge;
    private final long largeCacheBytes;
    /** Pooled only: the power-of-two class buffer behind each small segment handed out. */
    private final java.util.Map<MemorySegment, MemorySegment> smallBase;
    private long reservedBytes, peakReservedBytes, cachedLargeBytes;

    /**
     * In a pooled scope, buffers this large get an arena each. Recycled, they are kept for reuse
     * by an allocation of the same size (no fresh pages to fault in), up to the scope's cache cap;
     * past it the oldest are closed and their memory really goes back. A loop whose buffer sizes
     * vary (a causal softmax over a growing key range) then holds what is live plus at most the
     * cap, not every size it ever saw. Smaller buffers are cut from power-of-two classes, always
     * kept for reuse.
     */
    public static final long OWN_ARENA_BYTES = 256 << 10;

    private MemoryScope(String name, boolean current, boolean pooled) {
        this(name, current, pooled, 0);
    }

    private MemoryScope(String name, boolean current, boolean pooled, long largeCacheBytes) {
        this.name = name;
        this.arena = Arena.ofShared();
        this.owner = Thread.currentThread();
        this.pool = pooled ? new java.util.HashMap<>() : null;
        this.recent = pooled ? new java.util.ArrayList<>() : null;
        this.ownArenas = pooled ? new java.util.IdentityHashMap<>() : null;
        this.cachedLarge = pooled ? new ArrayDeque<>() : null;
        this.smallBase = pooled ? new java.util.IdentityHashMap<>() : null;
        this.largeCacheBytes = largeCacheBytes;
        if (current) OPEN.get().push(this);
    }

    /** Opens a scope and makes it the current one on this thread until it closes. */
    public static MemoryScope open(String name) {
        return new MemoryScope(name, true, false);
    }

    /**
     * Opens a current scope whose memory can also be handed back piece by piece with
     * {@link #recycle}: a graph executor frees each activation after its last use, and the next
     * allocation of the same size reuses it. Live and peak bytes count what is handed out, as a
     * caching allocator's "allocated" figure; {@link #reservedBytes()} is what the arena holds.
     */
    public static MemoryScope pooled(String name) {
        return pooled(name, 0);
    }

    /**
     * A pooled scope that keeps up to {@code largeCacheBytes} of recycled large buffers for reuse
     * (see {@link #OWN_ARENA_BYTES}): its footprint stays within live bytes plus that cap.
     */
    public static MemoryScope pooled(String name, long largeCacheBytes) {
        if (largeCacheBytes < 0) throw new IllegalArgumentException("pooled: cache cap " + largeCacheBytes + " is negative");
        return new MemoryScope(name, true, true, largeCacheBytes);
    }

    public static MemoryScope open() {
        return open("scope");
    }

    /**
     * Opens a scope that does not become current: for long-lived tensors such as model weights,
     * passed explicitly to the factories.
     */
    public static MemoryScope detached(String name) {
        return new MemoryScope(name, false, false);
    }

    /** The innermost scope open on this thread, or null. */
    public static MemoryScope current() {
        ArrayDeque<MemoryScope> open = OPEN.get();
        while (!open.isEmpty() && open.peek().closed) open.pop();
        return open.peek();
    }

    /**
     * Where an op's output goes: the current scope, or, when none is open on this thread, the
     * scope of the op's first operand. Every op (and every fused kernel outside {@link Ops})
     * allocates there, so this is the one place the rule is written.
     */
    public static MemoryScope forOutputOf(Tensor first) {
        MemoryScope current = current();
        return current != null ? current : first.scope();
    }

    /** The current scope, or an error telling the user how to open one. */
    public static MemoryScope require(String what) {
        MemoryScope s = current();
        if (s == null) {
            throw new IllegalStateException(what + ": no MemoryScope is open on thread '" + Thread.currentThread().getName()
                    + "'; wrap the work in try (MemoryScope scope = MemoryScope.open()) { ... } or pass a scope explicitly");
        }
        return s;
    }

    public String name() {
        return name;
    }

    public boolean isAlive() {
        return !closed;
    }

    public long liveBytes() {
        return liveBytes.get();
    }

    public long peakBytes() {
        return peakBytes.get();
    }

    /** Starts a new peak measurement for this scope from the bytes live now. */
    public void resetPeak() {
        peakBytes.set(liveBytes.get());
    }

    /** Zeroed, 64-byte aligned memory that lives until this scope closes (or is recycled, when pooled). */
    public MemorySegment allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        checkAlive();
        if (pool != null) return allocatePooled(bytes);
        return allocateFresh(bytes);
    }

    private synchronized MemorySegment allocatePooled(long bytes) {
        MemorySegment segment;
        if (bytes >= OWN_ARENA_BYTES && (segment = takeCached(bytes)) != null) {
            segment.fill((byte) 0);
            count(bytes);
        } else if (bytes >= OWN_ARENA_BYTES) {
            Arena own = Arena.ofShared();
            try {
                segment = own.allocate(bytes, ALIGNMENT);
            } catch (OutOfMemoryError e) {
                own.close();
                throw new OutOfMemoryError("MemoryScope '" + name + "': cannot allocate " + bytes + " bytes off-heap ("
                        + MemoryStats.liveBytes() + " bytes live in all scopes)");
            }
            ownArenas.put(segment, own);
            count(bytes);
            reserve(bytes);
        } else {
            // Small buffers come from power-of-two classes, so a loop whose sizes drift (a causal
            // softmax over a growing key range) reuses a few classes instead of piling up sizes.
            long cls = Math.max(64, Long.highestOneBit(Math.max(1, bytes - 1)) << 1);
            ArrayDeque<MemorySegment> free = pool.get(cls);
            MemorySegment base;
            if (free != null && !free.isEmpty()) {
                base = free.pop();
            } else {
                base = allocateRaw(cls);
                reserve(cls);
            }
            segment = base.asSlice(0, bytes);
            segment.fill((byte) 0);
            smallBase.put(segment, base);
            count(bytes);
        }
        recent.add(segment);
        return segment;
    }

    /** A cached large buffer of exactly this size, taken out of the cache; null if none. */
    private MemorySegment takeCached(long bytes) {
        for (java.util.Iterator<MemorySegment> it = cachedLarge.descendingIterator(); it.hasNext(); ) {
            MemorySegment s = it.next();
            if (s.byteSize() == bytes) {
                it.remove();
                cachedLargeBytes -= bytes;
                return s;
            }
        }
        return null;
    }

    private void reserve(long bytes) {
        reservedBytes += bytes;
        peakReservedBytes = Math.max(peakReservedBytes, reservedBytes);
    }

    /**
     * The segments handed out since the last call, oldest first; a pooled scope only. An executor
     * uses it to find the scratch an op allocated besides its output.
     */
    public synchronized java.util.List<MemorySegment> takeAllocations() {
        requirePooled("takeAllocations");
        java.util.List<MemorySegment> taken = new java.util.ArrayList<>(recent);
        recent.clear();
        return taken;
    }

    /**
     * Hands a segment from {@link #allocate} back for reuse; tensors over it must not be used
     * again. A pooled scope only.
     */
    public synchronized void recycle(MemorySegment segment) {
        requirePooled("recycle");
        checkAlive();
        if (ownArenas.containsKey(segment)) {
            cachedLarge.addLast(segment);
            cachedLargeBytes += segment.byteSize();
            while (cachedLargeBytes > largeCacheBytes) {
                MemorySegment oldest = cachedLarge.removeFirst();
                cachedLargeBytes -= oldest.byteSize();
                reservedBytes -= oldest.byteSize();
                ownArenas.remove(oldest).close();
            }
        } else {
            MemorySegment base = smallBase.remove(segment);
            if (base == null) throw new IllegalArgumentException("recycle: the segment was not allocated by MemoryScope '" + name + "', or was recycled already");
            pool.computeIfAbsent(base.byteSize(), b -> new ArrayDeque<>()).push(base);
        }
        liveBytes.addAndGet(-segment.byteSize());
        MemoryStats.freed(segment.byteSize());
    }

    /** Bytes a pooled scope holds now (live, plus buffers kept for reuse); live bytes otherwise. */
    public synchronized long reservedBytes() {
        return pool != null ? reservedBytes : liveBytes.get();
    }

    /** The most bytes a pooled scope held at once: its real footprint; the live peak otherwise. */
    public synchronized long peakReservedBytes() {
        return pool != null ? peakReservedBytes : peakBytes.get();
    }

    private void requirePooled(String what) {
        if (pool == null) throw new IllegalStateException(what + ": MemoryScope '" + name + "' is not pooled; open it with MemoryScope.pooled");
    }

    private void count(long bytes) {
        long live = liveBytes.addAndGet(bytes);
        peakBytes.accumulateAndGet(live, Math::max);
        MemoryStats.allocated(bytes);
    }

    private MemorySegment allocateFresh(long bytes) {
        MemorySegment segment = allocateRaw(bytes);
        count(bytes);
        return segment;
    }

    /** Memory from the scope's arena, not yet counted as live. */
    private MemorySegment allocateRaw(long bytes) {
        MemorySegment segment;
        try {
            segment = arena.allocate(Math.max(bytes, 1), ALIGNMENT).asSlice(0, bytes);
        } catch (IllegalStateException e) {
            throw closedError();
        } catch (OutOfMemoryError e) {
            throw new OutOfMemoryError("MemoryScope '" + name + "': cannot allocate " + bytes + " bytes off-heap ("
                    + MemoryStats.liveBytes() + " bytes live in all scopes)");
        }
        return segment;
    }

    /**
     * Runs {@code action} when this scope closes (before its host memory is freed, newest first):
     * how backends tie accelerator buffers and other native handles to a scope.
     */
    public void onClose(Runnable action) {
        checkAlive();
        synchronized (closeActions) {
            closeActions.add(action);
        }
    }

    void checkAlive() {
        if (closed) throw closedError();
    }

    IllegalStateException closedError() {
        return new IllegalStateException("MemoryScope '" + name + "' is closed: its tensors were freed and cannot be used");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        // Closed from another thread, it stays on the owner's stack until current() skips it.
        if (Thread.currentThread() == owner) OPEN.get().remove(this);
        RuntimeException failure = null;
        synchronized (closeActions) {
            for (int i = closeActions.size() - 1; i >= 0; i--) {
                try {
                    closeActions.get(i).run();
                } catch (RuntimeException e) {
                    if (failure == null) failure = e; else failure.addSuppressed(e);
                }
            }
            closeActions.clear();
        }
        if (ownArenas != null) {
            synchronized (this) {
                for (Arena own : ownArenas.values()) own.close();
                ownArenas.clear();
                cachedLarge.clear();
            }
        }
        arena.close();
        MemoryStats.freed(liveBytes.getAndSet(0));
        if (failure != null) throw new IllegalStateException("MemoryScope '" + name + "': releasing a resource failed", failure);
    }

    @Override
    public String toString() {
        return "MemoryScope[" + name + (closed ? ", closed" : ", live=" + liveBytes.get() + "B, peak=" + peakBytes.get() + "B") + "]";
    }
}
