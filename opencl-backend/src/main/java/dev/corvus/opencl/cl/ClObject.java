package dev.corvus.opencl.cl;

import java.lang.invoke.MethodHandle;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/** A native OpenCL handle with a release function; closing it releases it once and updates {@link ClResources}. */
abstract sealed class ClObject implements AutoCloseable permits ClContext, ClQueue, ClBuffer, ClProgram, ClKernel, ClEvent {
    private final MemorySegment handle;
    private final String kind;
    private final AtomicBoolean closed = new AtomicBoolean();

    ClObject(MemorySegment handle, String kind) {
        this.handle = handle;
        this.kind = kind;
        ClResources.created(kind);
    }

    abstract MethodHandle releaser();

    /** The raw cl_xxx handle; throws once closed. */
    public MemorySegment handle() {
        if (closed.get()) throw new IllegalStateException("OpenCL " + kind + " was already released");
        return handle;
    }

    public boolean isClosed() {
        return closed.get();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        ClResources.released(kind);
        Cl.check("clRelease(" + kind + ")", Cl.call(releaser(), handle));
    }
}
