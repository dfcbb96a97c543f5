package dev.corvus.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The memory behind one or more tensors (views share it). Host storage is a 64-byte aligned
 * segment owned by a {@link MemoryScope}; reading it after the scope closed is an error.
 */
public final class Storage {
    private final MemorySegment segment;
    private final MemoryScope scope;
    private final Device device;

    Storage(MemorySegment segment, MemoryScope scope, Device device) {
        this.segment = segment;
        this.scope = scope;
        this.device = device;
    }

    static Storage allocate(MemoryScope scope, long bytes) {
        return new Storage(scope.allocate(bytes), scope, Device.CPU);
    }

    /**
     * Wraps memory the caller owns (for example a memory-mapped checkpoint). The caller keeps it
     * alive for as long as the scope is open.
     */
    public static Storage wrap(MemorySegment segment, MemoryScope scope) {
        return new Storage(segment, scope, Device.CPU);
    }

    /** The memory, after checking its scope is still open. */
    public MemorySegment segment() {
        scope.checkAlive();
        return segment;
    }

    public MemoryScope scope() {
        return scope;
    }

    public Device device() {
        return device;
    }

    public long byteSize() {
        return segment.byteSize();
    }
}
