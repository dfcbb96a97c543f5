package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * libOpenCL through the FFM API: the library lookup, one downcall handle per function (made once),
 * the constants we use, and {@link #check}. Mapping: cl_int/cl_uint/cl_bool to JAVA_INT,
 * size_t/cl_bitfield/cl_ulong to JAVA_LONG, every handle and pointer to ADDRESS.
 *
 * <p>Everything here is package-private plumbing for the typed wrappers ({@link ClPlatform},
 * {@link ClContext}, ...); use those.
 */
public final class Cl {
    private Cl() {}

    /** Debian packages that provide an OpenCL loader and a CPU implementation. */
    public static final String PACKAGES_HINT = "install the Debian packages ocl-icd-libopencl1 (the loader, libOpenCL.so.1) and "
            + "pocl-opencl-icd (a CPU implementation), e.g. apt-get install ocl-icd-libopencl1 pocl-opencl-icd";

    // ---------------------------------------------------------------- constants
    static final int CL_SUCCESS = 0;
    static final int CL_PLATFORM_NOT_FOUND_KHR = -1001;
    static final int CL_DEVICE_NOT_FOUND = -1;

    static final int CL_PLATFORM_VERSION = 0x0901, CL_PLATFORM_NAME = 0x0902, CL_PLATFORM_VENDOR = 0x0903, CL_PLATFORM_EXTENSIONS = 0x0904;

    public static final long CL_DEVICE_TYPE_CPU = 1 << 1, CL_DEVICE_TYPE_GPU = 1 << 2, CL_DEVICE_TYPE_ACCELERATOR = 1 << 3;
    static final long CL_DEVICE_TYPE_ALL = 0xFFFFFFFFL;
    static final int CL_DEVICE_TYPE = 0x1000, CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002, CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004,
            CL_DEVICE_MAX_MEM_ALLOC_SIZE = 0x1010, CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F, CL_DEVICE_LOCAL_MEM_SIZE = 0x1023,
            CL_DEVICE_NAME = 0x102B, CL_DEVICE_VENDOR = 0x102C, CL_DRIVER_VERSION = 0x102D, CL_DEVICE_VERSION = 0x102F,
            CL_DEVICE_EXTENSIONS = 0x1030, CL_DEVICE_OPENCL_C_VERSION = 0x103D;

    static final long CL_CONTEXT_PLATFORM = 0x1084;
    static final long CL_QUEUE_PROPERTIES = 0x1093;
    public static final long CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE = 1, CL_QUEUE_PROFILING_ENABLE = 2;

    public static final long CL_MEM_READ_WRITE = 1, CL_MEM_WRITE_ONLY = 1 << 1, CL_MEM_READ_ONLY = 1 << 2,
            CL_MEM_USE_HOST_PTR = 1 << 3, CL_MEM_ALLOC_HOST_PTR = 1 << 4, CL_MEM_COPY_HOST_PTR = 1 << 5;
    public static final long CL_MAP_READ = 1, CL_MAP_WRITE = 2;

    static final int CL_PROGRAM_BUILD_LOG = 0x1183;
    static final int CL_KERNEL_WORK_GROUP_SIZE = 0x11B0;
    static final int CL_EVENT_COMMAND_EXECUTION_STATUS = 0x11D3;
    public static final int CL_COMPLETE = 0, CL_RUNNING = 1, CL_SUBMITTED = 2, CL_QUEUED = 3;
    static final int CL_PROFILING_COMMAND_QUEUED = 0x1280, CL_PROFILING_COMMAND_SUBMIT = 0x1281,
            CL_PROFILING_COMMAND_START = 0x1282, CL_PROFILING_COMMAND_END = 0x1283;

    // ---------------------------------------------------------------- library
    private static final class Lib {
        static final String ERROR;
        static final SymbolLookup LOOKUP;

        static {
            SymbolLookup lookup = null;
            String error = null;
            for (String name : new String[] {"libOpenCL.so.1", "libOpenCL.so"}) {
                try {
                    lookup = SymbolLookup.libraryLookup(name, Arena.global());
                    break;
                } catch (IllegalArgumentException | IllegalCallerException e) {
                    error = "cannot load libOpenCL.so.1 (" + e.getMessage() + "); " + PACKAGES_HINT;
                }
            }
            LOOKUP = lookup;
            ERROR = lookup == null ? error : null;
        }
    }

    /** Empty when libOpenCL loaded; otherwise why not and which packages to install. */
    public static Optional<String> libraryError() {
        return Optional.ofNullable(Lib.ERROR);
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        if (Lib.LOOKUP == null) throw new IllegalStateException("OpenCL is not available: " + Lib.ERROR);
        MemorySegment sym = Lib.LOOKUP.find(name).orElseThrow(() -> new IllegalStateException("libOpenCL has no " + name));
        return Linker.nativeLinker().downcallHandle(sym, fd);
    }

    private static Optional<MethodHandle> optionalHandle(String name, FunctionDescriptor fd) {
        if (Lib.LOOKUP == null || Lib.LOOKUP.find(name).isEmpty()) return Optional.empty();
        return Optional.of(handle(name, fd));
    }

    private static FunctionDescriptor fn(MemoryLayout result, MemoryLayout... args) {
        return FunctionDescriptor.of(result, args);
    }

    /** Downcall handles, created on first use of any of them. */
    static final class H {
        static final MethodHandle clGetPlatformIDs = handle("clGetPlatformIDs", fn(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clGetPlatformInfo = handle("clGetPlatformInfo", fn(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle clGetDeviceIDs = handle("clGetDeviceIDs", fn(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clGetDeviceInfo = handle("clGetDeviceInfo", fn(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle clCreateContext = handle("clCreateContext", fn(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle clReleaseContext = handle("clReleaseContext", fn(JAVA_INT, ADDRESS));
        static final MethodHandle clCreateCommandQueue = handle("clCreateCommandQueue", fn(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
        static final Optional<MethodHandle> clCreateCommandQueueWithProperties =
                optionalHandle("clCreateCommandQueueWithProperties", fn(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle clReleaseCommandQueue = handle("clReleaseCommandQueue", fn(JAVA_INT, ADDRESS));
        static final MethodHandle clFinish = handle("clFinish", fn(JAVA_INT, ADDRESS));
        static final MethodHandle clFlush = handle("clFlush", fn(JAVA_INT, ADDRESS));
        static final MethodHandle clCreateBuffer = handle("clCreateBuffer", fn(ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle clReleaseMemObject = handle("clReleaseMemObject", fn(JAVA_INT, ADDRESS));
        static final MethodHandle clEnqueueReadBuffer = handle("clEnqueueReadBuffer",
                fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clEnqueueWriteBuffer = handle("clEnqueueWriteBuffer",
                fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clEnqueueCopyBuffer = handle("clEnqueueCopyBuffer",
                fn(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clEnqueueFillBuffer = handle("clEnqueueFillBuffer",
                fn(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clEnqueueMapBuffer = handle("clEnqueueMapBuffer",
                fn(ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle clEnqueueUnmapMemObject = handle("clEnqueueUnmapMemObject",
                fn(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clCreateProgramWithSource = handle("clCreateProgramWithSource", fn(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle clBuildProgram = handle("clBuildProgram", fn(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle clGetProgramBuildInfo = handle("clGetProgramBuildInfo", fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle clReleaseProgram = handle("clReleaseProgram", fn(JAVA_INT, ADDRESS));
        static final MethodHandle clCreateKernel = handle("clCreateKernel", fn(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle clSetKernelArg = handle("clSetKernelArg", fn(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS));
        static final MethodHandle clGetKernelWorkGroupInfo = handle("clGetKernelWorkGroupInfo", fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle clReleaseKernel = handle("clReleaseKernel", fn(JAVA_INT, ADDRESS));
        static final MethodHandle clEnqueueNDRangeKernel = handle("clEnqueueNDRangeKernel",
                fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clEnqueueMarkerWithWaitList = handle("clEnqueueMarkerWithWaitList", fn(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clEnqueueBarrierWithWaitList = handle("clEnqueueBarrierWithWaitList", fn(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle clWaitForEvents = handle("clWaitForEvents", fn(JAVA_INT, JAVA_INT, ADDRESS));
        static final MethodHandle clGetEventInfo = handle("clGetEventInfo", fn(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle clGetEventProfilingInfo = handle("clGetEventProfilingInfo", fn(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle clReleaseEvent = handle("clReleaseEvent", fn(JAVA_INT, ADDRESS));
    }

    // ---------------------------------------------------------------- helpers

    /** Throws a {@link ClException} naming {@code call} unless {@code code} is CL_SUCCESS. */
    static void check(String call, int code) {
        if (code != CL_SUCCESS) throw new ClException(call, code);
    }

    /** Invokes a downcall returning cl_int; wraps Throwable. */
    static int call(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Invokes a downcall returning a handle. */
    static MemorySegment callPtr(MethodHandle h, Object... args) {
        try {
            return (MemorySegment) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A native array of event handles for a wait list (NULL when empty). */
    static MemorySegment waitList(Arena arena, ClEvent... events) {
        if (events == null || events.length == 0) return MemorySegment.NULL;
        MemorySegment list = arena.allocate(ADDRESS, events.length);
        for (int i = 0; i < events.length; i++) list.setAtIndex(ADDRESS, i, events[i].handle());
        return list;
    }

    static int count(ClEvent... events) {
        return events == null ? 0 : events.length;
    }
}
