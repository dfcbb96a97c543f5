package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.corvus.tensor.DeviceMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * A cl_mem buffer. It is also the tensor library's {@link DeviceMemory}: a MemoryScope that owns a
 * tensor on an OpenCL device closes the buffer when the scope closes. Reads, writes, copies and
 * maps are enqueued on a {@link ClQueue}.
 */
public final class ClBuffer extends ClObject implements DeviceMemory {
    private final ClContext context;
    private final long byteSize;
    private final long flags;

    private ClBuffer(MemorySegment handle, ClContext context, long byteSize, long flags) {
        super(handle, "buffer");
        this.context = context;
        this.byteSize = byteSize;
        this.flags = flags;
    }

    static ClBuffer create(ClContext context, long flags, long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("buffer size " + bytes + " is negative");
        if (bytes > context.device().maxAllocSize()) {
            throw new IllegalArgumentException("buffer of " + bytes + " bytes exceeds the device's largest allocation ("
                    + context.device().maxAllocSize() + " bytes, CL_DEVICE_MAX_MEM_ALLOC_SIZE) on " + context.device());
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(JAVA_INT);
            // OpenCL refuses empty buffers; an empty tensor still gets a (tiny) handle.
            MemorySegment h = Cl.callPtr(Cl.H.clCreateBuffer, context.handle(), flags, Math.max(bytes, 4L), MemorySegment.NULL, err);
            Cl.check("clCreateBuffer(" + bytes + " bytes)", err.get(JAVA_INT, 0));
            return new ClBuffer(h, context, bytes, flags);
        }
    }

    @Override
    MethodHandle releaser() {
        return Cl.H.clReleaseMemObject;
    }

    public ClContext context() {
        return context;
    }

    /** Size in bytes as requested (an empty buffer reports 0). */
    @Override
    public long byteSize() {
        return byteSize;
    }

    public long flags() {
        return flags;
    }

    public boolean isHostVisible() {
        return (flags & (Cl.CL_MEM_ALLOC_HOST_PTR | Cl.CL_MEM_USE_HOST_PTR)) != 0;
    }

    /** DeviceMemory: called once by the owning MemoryScope. */
    @Override
    public void release() {
        close();
    }

    @Override
    public String toString() {
        return "ClBuffer[" + byteSize + " bytes]";
    }
}
