package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** An OpenCL context on one device; the factory for queues, buffers and programs. Close it last. */
public final class ClContext extends ClObject {
    private final ClDevice device;

    private ClContext(MemorySegment handle, ClDevice device) {
        super(handle, "context");
        this.device = device;
    }

    /** A new context holding just {@code device}. */
    public static ClContext create(ClDevice device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment props = a.allocate(JAVA_LONG, 3);
            props.setAtIndex(JAVA_LONG, 0, Cl.CL_CONTEXT_PLATFORM);
            props.setAtIndex(JAVA_LONG, 1, device.platform().handle().address());
            props.setAtIndex(JAVA_LONG, 2, 0L);
            MemorySegment devs = a.allocate(ADDRESS);
            devs.set(ADDRESS, 0, device.handle());
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment h = Cl.callPtr(Cl.H.clCreateContext, props, 1, devs, MemorySegment.NULL, MemorySegment.NULL, err);
            Cl.check("clCreateContext", err.get(JAVA_INT, 0));
            return new ClContext(h, device);
        }
    }

    @Override
    MethodHandle releaser() {
        return Cl.H.clReleaseContext;
    }

    public ClDevice device() {
        return device;
    }

    /** An in-order queue: commands run one after another in submission order. */
    public ClQueue inOrderQueue() {
        return ClQueue.create(this, 0);
    }

    /** An out-of-order queue: commands run as their event wait lists allow. */
    public ClQueue outOfOrderQueue() {
        return ClQueue.create(this, Cl.CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE);
    }

    /** A queue with raw CL_QUEUE_* property bits (out-of-order, profiling). */
    public ClQueue queue(long properties) {
        return ClQueue.create(this, properties);
    }

    /** A device-only read-write buffer (contents undefined). */
    public ClBuffer buffer(long bytes) {
        return ClBuffer.create(this, Cl.CL_MEM_READ_WRITE, bytes);
    }

    /**
     * A host-visible ("pinned") buffer, CL_MEM_ALLOC_HOST_PTR: the implementation allocates it in
     * host-accessible memory; read it through {@link ClQueue#map}.
     */
    public ClBuffer pinnedBuffer(long bytes) {
        return ClBuffer.create(this, Cl.CL_MEM_READ_WRITE | Cl.CL_MEM_ALLOC_HOST_PTR, bytes);
    }

    /** A buffer with explicit CL_MEM_* flags (no host pointer flags that need one). */
    public ClBuffer buffer(long flags, long bytes) {
        return ClBuffer.create(this, flags, bytes);
    }

    /** Compiles {@code source} for this context's device; a failure is a ClException carrying the build log. */
    public ClProgram build(String source, String options) {
        return ClProgram.build(this, source, options);
    }
}
