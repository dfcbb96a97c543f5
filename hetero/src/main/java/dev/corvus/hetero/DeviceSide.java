package dev.corvus.hetero;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.BackendProvider;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Capability;
import dev.corvus.tensor.Device;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The device half of HeteGen on one accelerator, reached through the tensor SPI (an OpenCL
 * device when corvus-opencl-backend is on the class path): the backend whose
 * {@link dev.corvus.tensor.CommandQueue#COMPUTE} queue runs the GEMMs (and the read-backs behind
 * them), its {@link dev.corvus.tensor.CommandQueue#COPY} queue for host-to-device copies that
 * overlap the GEMMs, pinned host memory, and one orchestration thread that issues the device's
 * commands and waits on their events while the caller's thread computes the CPU rows.
 *
 * <p>One per model: every {@link SplitLinear} of a model shares it (layers run one after another).
 * Closing it waits for the device's queues and stops the thread; the backend belongs to the JVM.
 */
public final class DeviceSide implements AutoCloseable {
    /** The device a null spec means. */
    private static final String DEFAULT_SPEC = "opencl";

    private final Device device;
    private final Backend backend;
    private final String description;
    private final ExecutorService thread;

    private DeviceSide(Device device, Backend backend, String description) {
        this.device = device;
        this.backend = backend;
        this.description = description;
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "corvus-hetero-" + device);
            t.setDaemon(true);
            return t;
        });
    }

    /** Empty when an OpenCL device is usable; otherwise why not, naming what to install. */
    public static Optional<String> unavailableReason() {
        return unavailableReason(DEFAULT_SPEC);
    }

    /**
     * Empty when the backend a device spec names ("opencl", "opencl:P:D") can run here; otherwise
     * why not: its provider's reason, or that no provider of that name is on the class path.
     */
    public static Optional<String> unavailableReason(String spec) {
        String kind = (spec == null ? DEFAULT_SPEC : spec).trim().toLowerCase(Locale.ROOT).split(":", 2)[0];
        // the CPU is always there; open() says why it is no device to split with
        if (kind.equals(Device.CPU.kind())) return Optional.empty();
        for (BackendProvider p : Backends.providers()) {
            if (p.name().equals(kind)) return p.unavailableReason();
        }
        return Optional.of("no backend named '" + kind + "' is on the class path (for OpenCL add the dependency dev.corvus:corvus-opencl-backend)");
    }

    /**
     * The device a spec names ("opencl", "opencl:P:D"; null means "opencl", the first GPU or else
     * the first device). A clear IllegalStateException when its backend is missing or cannot run.
     */
    public static DeviceSide open(String spec) {
        unavailableReason(spec).ifPresent(why -> {
            throw new IllegalStateException("HeteGen needs an accelerator device, and '" + (spec == null ? DEFAULT_SPEC : spec) + "' is not available: " + why);
        });
        Device d = Backends.device(spec == null ? DEFAULT_SPEC : spec);
        if (d.equals(Device.CPU)) throw new IllegalArgumentException("HeteGen splits work between the CPU and a device; '" + spec + "' is the CPU");
        Backend b = Backends.of(d);
        if (!b.has(Capability.DEVICE_MEMORY)) {
            throw new IllegalArgumentException("HeteGen needs a backend with device memory; " + b.name() + " on " + d + " has none");
        }
        return new DeviceSide(d, b, describe(d, b));
    }

    public Device device() {
        return device;
    }

    /** The device's backend: its COMPUTE queue runs the GEMMs and read-backs, its COPY queue the uploads. */
    public Backend backend() {
        return backend;
    }

    /** A one-line description for logs and plans, starting with the device id. */
    public String description() {
        return description;
    }

    /** The provider's line for this device in {@code corvus info} (id, name, platform), else the backend's own description. */
    private static String describe(Device d, Backend b) {
        String id = d + " ";
        for (BackendProvider p : Backends.providers()) {
            if (!p.name().equals(b.name())) continue;
            for (String line : p.describeDevices()) if (line.startsWith(id)) return line;
        }
        return id + b.description();
    }

    /** Runs {@code work} on the orchestration thread. */
    <T> Future<T> submit(Callable<T> work) {
        return thread.submit(work);
    }

    @Override
    public void close() {
        thread.shutdown();
        try {
            if (!thread.awaitTermination(30, TimeUnit.SECONDS)) thread.shutdownNow();
        } catch (InterruptedException e) {
            thread.shutdownNow();
            Thread.currentThread().interrupt();
        }
        backend.synchronize();
    }
}
