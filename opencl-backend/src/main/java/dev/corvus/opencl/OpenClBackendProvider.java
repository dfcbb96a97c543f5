package dev.corvus.opencl;

import dev.corvus.opencl.cl.ClDevice;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.BackendProvider;
import dev.corvus.tensor.Device;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Makes OpenCL devices known to the tensor library: "opencl" and "opencl:P:D" device specs, one
 * {@link OpenClBackend} per device (created on first use, kept for the JVM's life), and the
 * device lines of {@code corvus info}. Never chosen for CPU tensors (priority -1).
 */
public final class OpenClBackendProvider implements BackendProvider {
    private static final Map<Device, OpenClBackend> BACKENDS = new ConcurrentHashMap<>();

    @Override
    public String name() {
        return "opencl";
    }

    @Override
    public int priority() {
        return -1;
    }

    @Override
    public Optional<String> unavailableReason() {
        return OpenClDevices.unavailableReason();
    }

    /** The backend of the default device ("opencl"). */
    @Override
    public Backend create() {
        return backend(OpenClDevices.parse("opencl").orElseThrow());
    }

    @Override
    public Optional<Backend> forDevice(Device device) {
        if (!device.kind().startsWith(OpenClDevices.KIND_PREFIX) || unavailableReason().isPresent()) return Optional.empty();
        if (OpenClDevices.find(device).isEmpty()) return Optional.empty();
        return Optional.of(backend(device));
    }

    /** The one backend of an OpenCL device id (made on first use). */
    public static OpenClBackend backend(Device device) {
        return BACKENDS.computeIfAbsent(device, d -> {
            ClDevice cl = OpenClDevices.find(d).orElseThrow(() -> new IllegalArgumentException("no OpenCL device " + d));
            return new OpenClBackend(cl, d);
        });
    }

    @Override
    public Optional<Device> parseDevice(String spec) {
        return OpenClDevices.parse(spec);
    }

    @Override
    public List<String> describeDevices() {
        return OpenClDevices.describe();
    }
}
