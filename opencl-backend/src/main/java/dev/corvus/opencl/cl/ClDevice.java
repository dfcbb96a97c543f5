package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** One OpenCL device and the properties Corvus cares about (read once). Devices are never released. */
public final class ClDevice {
    private final ClPlatform platform;
    private final MemorySegment handle;
    private final int index;
    private final String name, vendor, version, driverVersion, openClCVersion;
    private final long type, globalMemSize, maxAllocSize, localMemSize, maxWorkGroupSize;
    private final int computeUnits;
    private final Set<String> extensions;

    ClDevice(ClPlatform platform, MemorySegment handle, int index) {
        this.platform = platform;
        this.handle = handle;
        this.index = index;
        this.name = string(Cl.CL_DEVICE_NAME);
        this.vendor = string(Cl.CL_DEVICE_VENDOR);
        this.version = string(Cl.CL_DEVICE_VERSION);
        this.driverVersion = string(Cl.CL_DRIVER_VERSION);
        this.openClCVersion = string(Cl.CL_DEVICE_OPENCL_C_VERSION);
        this.type = longInfo(Cl.CL_DEVICE_TYPE);
        this.globalMemSize = longInfo(Cl.CL_DEVICE_GLOBAL_MEM_SIZE);
        this.maxAllocSize = longInfo(Cl.CL_DEVICE_MAX_MEM_ALLOC_SIZE);
        this.localMemSize = longInfo(Cl.CL_DEVICE_LOCAL_MEM_SIZE);
        this.maxWorkGroupSize = longInfo(Cl.CL_DEVICE_MAX_WORK_GROUP_SIZE);
        this.computeUnits = intInfo(Cl.CL_DEVICE_MAX_COMPUTE_UNITS);
        this.extensions = Arrays.stream(string(Cl.CL_DEVICE_EXTENSIONS).split("\\s+")).filter(s -> !s.isEmpty())
                .collect(Collectors.toUnmodifiableSet());
    }

    private String string(int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            Cl.check("clGetDeviceInfo", Cl.call(Cl.H.clGetDeviceInfo, handle, param, 0L, MemorySegment.NULL, size));
            MemorySegment buf = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            Cl.check("clGetDeviceInfo", Cl.call(Cl.H.clGetDeviceInfo, handle, param, buf.byteSize(), buf, MemorySegment.NULL));
            return buf.getString(0).strip();
        }
    }

    private long longInfo(int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            Cl.check("clGetDeviceInfo", Cl.call(Cl.H.clGetDeviceInfo, handle, param, 8L, v, MemorySegment.NULL));
            return v.get(JAVA_LONG, 0);
        }
    }

    private int intInfo(int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            Cl.check("clGetDeviceInfo", Cl.call(Cl.H.clGetDeviceInfo, handle, param, 4L, v, MemorySegment.NULL));
            return v.get(JAVA_INT, 0);
        }
    }

    public ClPlatform platform() {
        return platform;
    }

    public MemorySegment handle() {
        return handle;
    }

    /** Position in {@link ClPlatform#devices()}. */
    public int index() {
        return index;
    }

    public String name() {
        return name;
    }

    public String vendor() {
        return vendor;
    }

    /** e.g. "OpenCL 3.0 PoCL HSTR: ...". */
    public String version() {
        return version;
    }

    public String driverVersion() {
        return driverVersion;
    }

    public String openClCVersion() {
        return openClCVersion;
    }

    /** Major*10 + minor of {@link #version()}, e.g. 30 for "OpenCL 3.0 ..."; 12 if unparsable. */
    public int versionNumber() {
        Matcher m = Pattern.compile("OpenCL (\\d+)\\.(\\d+)").matcher(version);
        return m.find() ? Integer.parseInt(m.group(1)) * 10 + Integer.parseInt(m.group(2)) : 12;
    }

    /** "OpenCL 3.0" from {@link #version()}. */
    public String shortVersion() {
        Matcher m = Pattern.compile("OpenCL \\d+\\.\\d+").matcher(version);
        return m.find() ? m.group() : version;
    }

    public boolean isGpu() {
        return (type & Cl.CL_DEVICE_TYPE_GPU) != 0;
    }

    public boolean isCpu() {
        return (type & Cl.CL_DEVICE_TYPE_CPU) != 0;
    }

    public long globalMemSize() {
        return globalMemSize;
    }

    public long maxAllocSize() {
        return maxAllocSize;
    }

    public long localMemSize() {
        return localMemSize;
    }

    public long maxWorkGroupSize() {
        return maxWorkGroupSize;
    }

    public int computeUnits() {
        return computeUnits;
    }

    public Set<String> extensions() {
        return extensions;
    }

    public boolean hasExtension(String name) {
        return extensions.contains(name);
    }

    /** Half-precision arithmetic (cl_khr_fp16); vload_half/vstore_half work without it. */
    public boolean supportsFp16() {
        return hasExtension("cl_khr_fp16");
    }

    @Override
    public String toString() {
        return platform.name() + " / " + name;
    }
}
