package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * A kernel and its arguments. Arguments stay set until changed, and a launch captures them, so
 * the usual pattern is: set every argument, enqueue, repeat. A kernel object is not thread-safe:
 * callers sharing one hold its lock from the first set to the enqueue (as {@code OpenClBackend}
 * does with {@code synchronized (kernel)}).
 *
 * <pre>{@code
 * kernel.arg(0, x).arg(1, xOffset).arg(2, out).arg(3, 1.5f).arg(4, n);
 * queue.run(kernel, new long[] {n}, null);
 * }</pre>
 *
 * Types must match the OpenCL C parameter: {@code int}/{@code uint} with int, {@code long}/{@code
 * ulong} with long, {@code float} with float, {@code global T*} with a ClBuffer, {@code local T*}
 * with {@link #local(int, long)}.
 */
public final class ClKernel extends ClObject {
    private final ClProgram program;
    private final String name;

    ClKernel(MemorySegment handle, ClProgram program, String name) {
        super(handle, "kernel");
        this.program = program;
        this.name = name;
    }

    @Override
    MethodHandle releaser() {
        return Cl.H.clReleaseKernel;
    }

    public String name() {
        return name;
    }

    public ClProgram program() {
        return program;
    }

    /** A global buffer argument (the value passed is a pointer to the cl_mem handle). */
    public ClKernel arg(int index, ClBuffer buffer) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            v.set(ADDRESS, 0, buffer.handle());
            return set(index, ADDRESS.byteSize(), v);
        }
    }

    public ClKernel arg(int index, int value) {
        try (Arena a = Arena.ofConfined()) {
            return set(index, 4, a.allocateFrom(JAVA_INT, value));
        }
    }

    public ClKernel arg(int index, long value) {
        try (Arena a = Arena.ofConfined()) {
            return set(index, 8, a.allocateFrom(JAVA_LONG, value));
        }
    }

    public ClKernel arg(int index, float value) {
        try (Arena a = Arena.ofConfined()) {
            return set(index, 4, a.allocateFrom(JAVA_FLOAT, value));
        }
    }

    /** A vector argument: {@code long2/4/8/16} (values.length is the vector width). */
    public ClKernel arg(int index, long[] values) {
        try (Arena a = Arena.ofConfined()) {
            return set(index, 8L * values.length, a.allocateFrom(JAVA_LONG, values));
        }
    }

    /** A {@code local T*} argument of {@code bytes} bytes of work-group local memory. */
    public ClKernel local(int index, long bytes) {
        return set(index, bytes, MemorySegment.NULL);
    }

    private ClKernel set(int index, long size, MemorySegment value) {
        Cl.check("clSetKernelArg(" + name + ", " + index + ")", Cl.call(Cl.H.clSetKernelArg, handle(), index, size, value));
        return this;
    }

    /** The largest work-group this kernel can run with on its device (CL_KERNEL_WORK_GROUP_SIZE). */
    public long maxWorkGroupSize() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            Cl.check("clGetKernelWorkGroupInfo", Cl.call(Cl.H.clGetKernelWorkGroupInfo, handle(), program.context().device().handle(),
                    Cl.CL_KERNEL_WORK_GROUP_SIZE, 8L, v, MemorySegment.NULL));
            return v.get(JAVA_LONG, 0);
        }
    }
}
