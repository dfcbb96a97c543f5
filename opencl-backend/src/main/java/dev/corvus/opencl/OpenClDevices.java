package dev.corvus.opencl;

import dev.corvus.opencl.cl.Cl;
import dev.corvus.opencl.cl.ClDevice;
import dev.corvus.opencl.cl.ClPlatform;
import dev.corvus.tensor.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What OpenCL this JVM can see, probed once: the platforms and devices, or why none. Device ids
 * are {@code Device("opencl:<platform>", <device>)}, written "opencl:P:D".
 */
public final class OpenClDevices {
    private OpenClDevices() {}

    public static final String KIND_PREFIX = "opencl:";

    private record Probe(List<ClPlatform> platforms, String error) {}

    private static final class Holder {
        static final Probe PROBE = probe();
    }

    private static Probe probe() {
        Optional<String> lib = Cl.libraryError();
        if (lib.isPresent()) return new Probe(List.of(), lib.get());
        try {
            List<ClPlatform> platforms = ClPlatform.all();
            if (platforms.isEmpty()) {
                return new Probe(List.of(), "libOpenCL.so.1 loaded but it found no OpenCL platform (no ICD under /etc/OpenCL/vendors); "
                        + "install pocl-opencl-icd for the CPU, or your GPU vendor's OpenCL ICD");
            }
            if (platforms.stream().allMatch(p -> p.devices().isEmpty())) {
                return new Probe(platforms, "OpenCL platforms " + platforms.stream().map(ClPlatform::name).toList()
                        + " have no device; install pocl-opencl-icd for the CPU, or your GPU vendor's OpenCL ICD");
            }
            return new Probe(platforms, null);
        } catch (RuntimeException e) {
            return new Probe(List.of(), "OpenCL probe failed: " + e.getMessage() + "; " + Cl.PACKAGES_HINT);
        }
    }

    /** Empty when at least one OpenCL device is usable; otherwise why not, naming what to install. */
    public static Optional<String> unavailableReason() {
        return Optional.ofNullable(Holder.PROBE.error());
    }

    public static List<ClPlatform> platforms() {
        return Holder.PROBE.platforms();
    }

    /** The tensor-library device id of an OpenCL device. */
    public static Device id(ClDevice d) {
        return new Device(KIND_PREFIX + d.platform().index(), d.index());
    }

    /** The OpenCL device behind a device id, if it is one of ours and exists. */
    public static Optional<ClDevice> find(Device device) {
        if (!device.kind().startsWith(KIND_PREFIX)) return Optional.empty();
        int p;
        try {
            p = Integer.parseInt(device.kind().substring(KIND_PREFIX.length()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        List<ClPlatform> platforms = platforms();
        if (p < 0 || p >= platforms.size()) return Optional.empty();
        List<ClDevice> devices = platforms.get(p).devices();
        return device.index() < devices.size() ? Optional.of(devices.get(device.index())) : Optional.empty();
    }

    /** Every device on every platform. */
    public static List<ClDevice> all() {
        List<ClDevice> out = new ArrayList<>();
        for (ClPlatform p : platforms()) out.addAll(p.devices());
        return out;
    }

    /**
     * "opencl": the first GPU, else the first device; "opencl:P:D": that one. Empty for specs that
     * are not OpenCL's; an IllegalArgumentException for an OpenCL spec naming no device.
     */
    public static Optional<Device> parse(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (!s.equals("opencl") && !s.startsWith(KIND_PREFIX)) return Optional.empty();
        unavailableReason().ifPresent(why -> {
            throw new IllegalArgumentException("device '" + spec + "': OpenCL is not available: " + why);
        });
        if (s.equals("opencl")) {
            List<ClDevice> all = all();
            return Optional.of(id(all.stream().filter(ClDevice::isGpu).findFirst().orElse(all.getFirst())));
        }
        String[] parts = s.substring(KIND_PREFIX.length()).split(":");
        try {
            if (parts.length != 2) throw new NumberFormatException();
            Device d = new Device(KIND_PREFIX + Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
            if (find(d).isEmpty()) throw new IllegalArgumentException("device '" + spec + "': no such OpenCL device; have " + describe());
            return Optional.of(d);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("device '" + spec + "': expected opencl or opencl:<platform>:<device>, e.g. opencl:0:0");
        }
    }

    /** One line per device, e.g. "opencl:0:0 Portable Computing Language / pthread-... (OpenCL 3.0, 2 compute units, 23.4 GiB)". */
    public static List<String> describe() {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) return List.of("opencl: unavailable: " + why.get());
        List<String> lines = new ArrayList<>();
        for (ClDevice d : all()) {
            lines.add(String.format(Locale.ROOT, "%s %s / %s (%s, %d compute units, %.1f GiB%s)", id(d), d.platform().name(), d.name(),
                    d.shortVersion(), d.computeUnits(), d.globalMemSize() / (double) (1L << 30), d.supportsFp16() ? ", fp16" : ""));
        }
        return lines;
    }
}
