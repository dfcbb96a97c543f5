package dev.corvus.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The memory behind one or more tensors (views share it): a 64-byte aligned host segment, or
 * {@link DeviceMemory} on an accelerator. Either way a {@link MemoryScope} owns it; using it after
 * the scope closed is an error.
 */
public final class Storage {
    private final MemorySegment segment;
    private final DeviceMemory deviceMemory;
    private final MemoryScope scope;
    private final Device device;

    Storage(MemorySegment segment, MemoryScope scope, Device device) {
        this.segment = segment;
        this.deviceMemory = null;
        this.scope = scope;
        this.device = device;
    }

    private Storage(DeviceMemory memory, MemoryScope scope, Device device) {
        this.segment = null;
        this.deviceMemory = memory;
        this.scope = scope;
        this.device = device;
    }

    /** Storage over accelerator memory; the scope releases the memory when it closes. */
    public static Storage onDevice(DeviceMemory memory, MemoryScope scope, Device device) {
        if (device.equals(Device.CPU)) throw new IllegalArgumentException("device memory cannot be on the CPU device");
        scope.onClose(memory::release);
        return new Storage(memory, scope, device);
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

    /** The host memory, after checking its scope is still open. */
    public MemorySegment segment() {
        scope.checkAlive();
        if (segment == null) {
            throw new IllegalStateException("tensor storage is on " + device + ", not in host memory; copy it over with tensor.to(Device.CPU)");
        }
        return segment;
    }

    /** The accelerator memory, after checking its scope is still open; null for host storage. */
    public DeviceMemory deviceMemory() {
        scope.checkAlive();
        return deviceMemory;
    }

    public boolean isHost() {
        return segment != null;
    }

    public MemoryScope scope() {
        return scope;
    }

    public Device device() {
        return device;
    }

    public long byteSize() {
        return segment != null ? segment.byteSize() : deviceMemory.byteSize();
    }
}
