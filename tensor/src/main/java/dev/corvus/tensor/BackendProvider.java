package dev.corvus.tensor;

import java.util.Optional;

/**
 * How a backend module makes itself known (ServiceLoader,
 * {@code META-INF/services/dev.corvus.tensor.BackendProvider}). {@link Backends} asks each
 * provider whether it can run here before it touches any of the backend's classes.
 */
public interface BackendProvider {
    /** Name used in logs and by {@code -Dcorvus.backend=NAME}. */
    String name();

    /**
     * Higher wins among the CPU backends that are available; the scalar backend has 0. Negative
     * for providers that drive only accelerator devices and are never chosen for CPU tensors.
     */
    int priority();

    /** Empty when the backend can run in this JVM; otherwise why not, in words a user can act on. */
    Optional<String> unavailableReason();

    /** Creates the backend; called only when {@link #unavailableReason()} is empty. */
    Backend create();

    /**
     * The backend for an accelerator device this provider drives (kind other than "cpu"), or
     * empty when the device is not its. Providers keep one backend per device.
     */
    default Optional<Backend> forDevice(Device device) {
        return Optional.empty();
    }

    /** The device a user's spec names ("opencl", "opencl:0:1", ...), or empty when not this provider's. */
    default Optional<Device> parseDevice(String spec) {
        return Optional.empty();
    }

    /** One line per device this provider can drive, for {@code corvus info}; a line saying why none, if so. */
    default java.util.List<String> describeDevices() {
        return java.util.List.of();
    }
}
