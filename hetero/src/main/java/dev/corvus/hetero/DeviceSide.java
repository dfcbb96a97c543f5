package dev.corvus.hetero;

import dev.corvus.opencl.OpenClBackend;
import dev.corvus.opencl.OpenClBackendProvider;
import dev.corvus.opencl.OpenClDevices;
import dev.corvus.opencl.cl.Cl;
import dev.corvus.opencl.cl.ClBuffer;
import dev.corvus.opencl.cl.ClQueue;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Device;
import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The device half of HeteGen on one OpenCL device: the backend whose in-order queue runs the
 * GEMMs (and the read-backs behind them), a second in-order queue for host-to-device copies so
 * they overlap the GEMMs, pinned host buffers, and one orchestration thread that issues the
 * device's commands and waits on their events while the caller's thread computes the CPU rows.
 *
 * <p>One per model: every {@link SplitLinear} of a model shares it (layers run one after another).
 * Closing it stops the thread and releases the transfer queue; the backend belongs to the JVM.
 */
public final class DeviceSide implements AutoCloseable {
    private final Device device;
    private final OpenClBackend backend;
    private final ClQueue transfers;
    private final ExecutorService thread;

    private DeviceSide(Device device) {
        this.device = device;
        this.backend = OpenClBackendProvider.backend(device);
        this.transfers = backend.context().inOrderQueue();
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "corvus-hetero-" + device);
            t.setDaemon(true);
            return t;
        });
    }

    /** Empty when an OpenCL device is usable; otherwise why not, naming what to install. */
    public static Optional<String> unavailableReason() {
        return OpenClDevices.unavailableReason();
    }

    /**
     * The device a spec names ("opencl", "opencl:P:D"; null means "opencl", the first GPU or else
     * the first device). A clear IllegalStateException when OpenCL is missing.
     */
    public static DeviceSide open(String spec) {
        unavailableReason().ifPresent(why -> {
            throw new IllegalStateException("HeteGen needs an OpenCL device, and OpenCL is not available: " + why);
        });
        Device d = Backends.device(spec == null ? "opencl" : spec);
        if (d.equals(Device.CPU)) throw new IllegalArgumentException("HeteGen splits work between the CPU and a device; '" + spec + "' is the CPU");
        return new DeviceSide(d);
    }

    public Device device() {
        return device;
    }

    public OpenClBackend backend() {
        return backend;
    }

    /** The in-order queue of GEMMs and read-backs (the backend's own). */
    public ClQueue compute() {
        return backend.queue();
    }

    /** The in-order queue of host-to-device copies. */
    public ClQueue transfers() {
        return transfers;
    }

    /** A one-line description for logs and plans. */
    public String description() {
        return device + " " + backend.clDevice().name() + " (" + backend.clDevice().platform().name() + ")";
    }

    /** Runs {@code work} on the orchestration thread. */
    <T> Future<T> submit(Callable<T> work) {
        return thread.submit(work);
    }

    /**
     * A pinned (CL_MEM_ALLOC_HOST_PTR) buffer, mapped for the host to write once and for the bus to
     * read from as often as needed: its mapping is the source of asynchronous writes, which the
     * driver can DMA without staging. Allocate once, at load time; pinned memory is scarce.
     */
    public Pinned pinned(long bytes) {
        ClBuffer buf = backend.context().pinnedBuffer(bytes);
        try {
            MemorySegment host = bytes == 0 ? MemorySegment.NULL : transfers.map(buf, Cl.CL_MAP_READ | Cl.CL_MAP_WRITE, 0, bytes);
            return new Pinned(buf, host);
        } catch (RuntimeException e) {
            buf.close();
            throw e;
        }
    }

    /** A mapped pinned buffer; {@link #host()} is valid until close. */
    public final class Pinned implements AutoCloseable {
        private final ClBuffer buffer;
        private final MemorySegment host;

        private Pinned(ClBuffer buffer, MemorySegment host) {
            this.buffer = buffer;
            this.host = host;
        }

        public MemorySegment host() {
            return host;
        }

        public long byteSize() {
            return buffer.byteSize();
        }

        @Override
        public void close() {
            if (buffer.isClosed()) return;
            if (buffer.byteSize() > 0) transfers.unmap(buffer, host);
            buffer.close();
        }
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
        transfers.finish();
        transfers.close();
    }
}
