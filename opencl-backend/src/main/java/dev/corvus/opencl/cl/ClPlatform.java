package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** An OpenCL platform (an installed implementation, e.g. PoCL). Platforms are never released. */
public final class ClPlatform {
    private final MemorySegment handle;
    private final int index;
    private final String name, vendor, version, extensions;

    private ClPlatform(MemorySegment handle, int index) {
        this.handle = handle;
        this.index = index;
        this.name = info(Cl.CL_PLATFORM_NAME);
        this.vendor = info(Cl.CL_PLATFORM_VENDOR);
        this.version = info(Cl.CL_PLATFORM_VERSION);
        this.extensions = info(Cl.CL_PLATFORM_EXTENSIONS);
    }

    /**
     * The installed platforms, in the loader's order; empty when the loader finds none
     * (CL_PLATFORM_NOT_FOUND_KHR). Throws IllegalStateException when libOpenCL itself is missing.
     */
    public static List<ClPlatform> all() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment num = a.allocate(JAVA_INT);
            int rc = Cl.call(Cl.H.clGetPlatformIDs, 0, MemorySegment.NULL, num);
            if (rc == Cl.CL_PLATFORM_NOT_FOUND_KHR) return List.of();
            Cl.check("clGetPlatformIDs", rc);
            int n = num.get(JAVA_INT, 0);
            if (n == 0) return List.of();
            MemorySegment ids = a.allocate(ADDRESS, n);
            Cl.check("clGetPlatformIDs", Cl.call(Cl.H.clGetPlatformIDs, n, ids, num));
            List<ClPlatform> out = new ArrayList<>();
            for (int i = 0; i < n; i++) out.add(new ClPlatform(ids.getAtIndex(ADDRESS, i), i));
            return List.copyOf(out);
        }
    }

    /** Devices of every type on this platform (empty if none). */
    public List<ClDevice> devices() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment num = a.allocate(JAVA_INT);
            int rc = Cl.call(Cl.H.clGetDeviceIDs, handle, Cl.CL_DEVICE_TYPE_ALL, 0, MemorySegment.NULL, num);
            if (rc == Cl.CL_DEVICE_NOT_FOUND) return List.of();
            Cl.check("clGetDeviceIDs", rc);
            int n = num.get(JAVA_INT, 0);
            MemorySegment ids = a.allocate(ADDRESS, Math.max(1, n));
            Cl.check("clGetDeviceIDs", Cl.call(Cl.H.clGetDeviceIDs, handle, Cl.CL_DEVICE_TYPE_ALL, n, ids, num));
            List<ClDevice> out = new ArrayList<>();
            for (int i = 0; i < n; i++) out.add(new ClDevice(this, ids.getAtIndex(ADDRESS, i), i));
            return List.copyOf(out);
        }
    }

    private String info(int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            Cl.check("clGetPlatformInfo", Cl.call(Cl.H.clGetPlatformInfo, handle, param, 0L, MemorySegment.NULL, size));
            MemorySegment buf = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
            Cl.check("clGetPlatformInfo", Cl.call(Cl.H.clGetPlatformInfo, handle, param, buf.byteSize(), buf, MemorySegment.NULL));
            return buf.getString(0).strip();
        }
    }

    public MemorySegment handle() {
        return handle;
    }

    /** Position in {@link #all()}. */
    public int index() {
        return index;
    }

    public String name() {
        return name;
    }

    public String vendor() {
        return vendor;
    }

    /** e.g. "OpenCL 3.0 PoCL 3.1 ...". */
    public String version() {
        return version;
    }

    public String extensions() {
        return extensions;
    }

    @Override
    public String toString() {
        return name + " (" + version + ")";
    }
}
