package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** A program built for its context's device. Kernels made from it must be closed before it. */
public final class ClProgram extends ClObject {
    private final ClContext context;
    private final String options;

    private ClProgram(MemorySegment handle, ClContext context, String options) {
        super(handle, "program");
        this.context = context;
        this.options = options;
    }

    static ClProgram build(ClContext context, String source, String options) {
        String opts = options == null ? "" : options;
        MemorySegment h;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocateFrom(source);
            MemorySegment strings = a.allocate(ADDRESS);
            strings.set(ADDRESS, 0, src);
            MemorySegment err = a.allocate(JAVA_INT);
            h = Cl.callPtr(Cl.H.clCreateProgramWithSource, context.handle(), 1, strings, MemorySegment.NULL, err);
            Cl.check("clCreateProgramWithSource", err.get(JAVA_INT, 0));
        }
        ClProgram p = new ClProgram(h, context, opts);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dev = a.allocate(ADDRESS);
            dev.set(ADDRESS, 0, context.device().handle());
            int rc = Cl.call(Cl.H.clBuildProgram, h, 1, dev, a.allocateFrom(opts), MemorySegment.NULL, MemorySegment.NULL);
            if (rc != Cl.CL_SUCCESS) {
                String log = p.buildLog();
                p.close();
                throw new ClException("clBuildProgram", rc, log);
            }
        }
        return p;
    }

    /** The compiler's messages for this context's device (warnings after a successful build). */
    public String buildLog() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            MemorySegment dev = context.device().handle();
            Cl.check("clGetProgramBuildInfo", Cl.call(Cl.H.clGetProgramBuildInfo, handle(), dev, Cl.CL_PROGRAM_BUILD_LOG, 0L, MemorySegment.NULL, size));
            MemorySegment buf = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            Cl.check("clGetProgramBuildInfo", Cl.call(Cl.H.clGetProgramBuildInfo, handle(), dev, Cl.CL_PROGRAM_BUILD_LOG, buf.byteSize(), buf,
                    MemorySegment.NULL));
            return buf.getString(0);
        }
    }

    @Override
    MethodHandle releaser() {
        return Cl.H.clReleaseProgram;
    }

    public ClContext context() {
        return context;
    }

    public String options() {
        return options;
    }

    /** A new kernel object for the {@code __kernel} function {@code name}; CL_INVALID_KERNEL_NAME if there is none. */
    public ClKernel kernel(String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment k = Cl.callPtr(Cl.H.clCreateKernel, handle(), a.allocateFrom(name), err);
            Cl.check("clCreateKernel(" + name + ")", err.get(JAVA_INT, 0));
            return new ClKernel(k, this, name);
        }
    }
}
