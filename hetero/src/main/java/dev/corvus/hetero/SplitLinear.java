package dev.corvus.hetero;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.CommandQueue;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.DeviceEvent;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Storage;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A linear layer y = x · Wᵀ split by output rows between the CPU and a device (papers.md §4.4).
 * W stays in host memory. Per call with m input rows and split point k ({@link PhaseSplits}):
 * <ul>
 *   <li>the caller's thread computes rows [0, k) with the Vector API ({@link CpuRows}), straight
 *       into columns [0, k) of the output;</li>
 *   <li>meanwhile the device's orchestration thread uploads x, streams W rows [k, n) from pinned
 *       memory in chunks through a ring of D device staging buffers (prefetch depth D), runs the
 *       device GEMV/GEMM on each chunk and reads each chunk's result straight into its columns of
 *       the same output;</li>
 *   <li>the call returns when both halves have landed.</li>
 * </ul>
 *
 * <p>Ordering: uploads run on the device backend's {@link CommandQueue#COPY} queue, GEMMs and
 * read-backs on its {@link CommandQueue#COMPUTE} queue (both in-order). Chunk j's GEMM is enqueued only after its upload event completed; a staging buffer
 * is written again only after the read-back behind the GEMM that last read it completed (on the
 * in-order compute queue that read's event covers the GEMM). {@link #stats()} counts every reuse
 * and checks that guard.
 *
 * <p>Results do not depend on timing: each output element is written by exactly one side, always by
 * the same kernel call on the same operands, and the call returns only after both sides have
 * finished writing. Not for concurrent calls
 * (they serialise); close it, before its {@link DeviceSide}, to release the pinned buffer and the
 * device buffers (x and y buffers grow to the largest m seen and are kept until then).
 */
public final class SplitLinear implements AutoCloseable {
    /** Which half a delay applies to. */
    public enum Side { CPU, DEVICE }

    /**
     * A hook called before each step of either side; tests inject random delays through it. Steps:
     * CPU 0 before its GEMM; device 0 before the input upload, -(j+1) before chunk j's weight
     * upload, j+1 before chunk j's GEMM.
     */
    @FunctionalInterface
    public interface Delay {
        Delay NONE = (side, step) -> {};

        void before(Side side, int step) throws InterruptedException;
    }

    /**
     * @param prefetchDepth D, the staging buffers in the ring (uploads in flight ahead of the GEMM)
     * @param chunkRows     weight rows per upload and GEMM; 0 picks n_device / (2D), at least a tile
     * @param delay         test hook
     */
    public record Options(int prefetchDepth, int chunkRows, Delay delay) {
        public static final Options DEFAULT = new Options(2, 0, Delay.NONE);

        public Options {
            if (prefetchDepth < 1) throw new IllegalArgumentException("prefetch depth must be >= 1, got " + prefetchDepth);
            if (chunkRows < 0) throw new IllegalArgumentException("chunk rows must be >= 0, got " + chunkRows);
            if (delay == null) delay = Delay.NONE;
        }

        public Options withDelay(Delay d) {
            return new Options(prefetchDepth, chunkRows, d);
        }
    }

    /** What the staging ring has done: chunks streamed, buffers reused, and reuses that broke the guard (must stay 0). */
    public record Stats(long chunks, long reuses, long reusesThatWaited, long reusesBeforeConsumerDone) {}

    private final String name;
    private final Tensor weight;
    private final int n, kIn;
    private final PhaseSplits splits;
    private final DeviceSide device;
    private final Options options;
    /** Rows [firstDeviceRow, n) of W, copied once into pinned host memory. */
    private final int firstDeviceRow;
    private final int chunkRows;
    private final Tensor pinned;
    /** The pinned rows and the device buffers: the staging ring, and x / y grown to the largest m seen. */
    private final MemoryScope deviceScope;
    private final Storage[] ring;
    private Storage xDev, yDev;
    private int capacityM;
    private boolean closed;
    private final AtomicLong chunks = new AtomicLong(), reuses = new AtomicLong(), waited = new AtomicLong(), broken = new AtomicLong();

    /**
     * @param weight [n, K] in host memory (F32, F16, BF16 or Q8_0), kept by reference: it must
     *               outlive this layer
     * @param device null only when every phase's k is n (all rows on the CPU)
     */
    public SplitLinear(String name, Tensor weight, PhaseSplits splits, DeviceSide device, Options options) {
        if (weight.rank() != 2 || !weight.isContiguous() || !weight.storage().isHost()) {
            throw new IllegalArgumentException("split linear " + name + ": the weight must be a contiguous [out, in] host tensor, got "
                    + weight.dtype() + " " + Arrays.toString(weight.shape()) + " on " + weight.device());
        }
        this.name = name;
        this.weight = weight;
        this.n = weight.size(0);
        this.kIn = weight.size(1);
        this.splits = splits;
        this.options = options;
        for (int k : splits.rows()) {
            if (k < 0 || k > n) throw new IllegalArgumentException("split linear " + name + ": k = " + k + " is outside [0, " + n + "] (" + splits + ")");
        }
        this.firstDeviceRow = splits.minRows();
        int deviceRows = n - firstDeviceRow;
        if (deviceRows > 0 && device == null) {
            throw new IllegalArgumentException("split linear " + name + ": rows [" + firstDeviceRow + ", " + n + ") go to the device, but no device was given");
        }
        this.device = deviceRows > 0 ? device : null;
        this.chunkRows = options.chunkRows() > 0 ? options.chunkRows()
                : Math.max(SplitSolver.ROW_TILE, ceilDiv(deviceRows, 2 * options.prefetchDepth()));
        if (this.device == null) {
            this.pinned = null;
            this.deviceScope = null;
            this.ring = new Storage[0];
            return;
        }
        MemoryScope scope = MemoryScope.detached("hetero " + name);
        try {
            Backend be = device.backend();
            Tensor p = be.allocatePinned(scope, weight.dtype(), deviceRows, kIn);
            long rowBytes = weight.dtype().byteSize(kIn);
            MemorySegment.copy(weight.segment(), weight.byteOffset() + firstDeviceRow * rowBytes, p.segment(), p.byteOffset(), deviceRows * rowBytes);
            ring = new Storage[options.prefetchDepth()];
            int stageRows = Math.min(chunkRows, deviceRows);
            for (int i = 0; i < ring.length; i++) ring[i] = be.allocate(scope, weight.dtype(), stageRows, kIn).storage();
            copiesAfterCompute(be);
            this.pinned = p;
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
        this.deviceScope = scope;
    }

    public String name() {
        return name;
    }

    public PhaseSplits splits() {
        return splits;
    }

    /** Bytes of pinned host memory this layer holds: W rows [min k, n). */
    public long pinnedBytes() {
        return pinned == null ? 0 : pinned.dtype().byteSize(pinned.numel());
    }

    public Stats stats() {
        return new Stats(chunks.get(), reuses.get(), waited.get(), broken.get());
    }

    /** x [..., K] (host) times Wᵀ: [..., n] F32 on the host, in the output scope every op uses ({@link MemoryScope#forOutputOf}). */
    public Tensor apply(Tensor x) {
        if (x.size(-1) != kIn) {
            throw new IllegalArgumentException("split linear " + name + ": input " + Arrays.toString(x.shape()) + " and weight "
                    + Arrays.toString(weight.shape()) + " do not match on K (" + x.size(-1) + " vs " + kIn + ")");
        }
        if (!x.storage().isHost()) throw new IllegalArgumentException("split linear " + name + ": the input must be on the host, got " + x.device());
        Tensor x2 = x.dtype() == DType.F32 ? x.reshape(-1, kIn).contiguous() : Ops.convert(x, DType.F32).reshape(-1, kIn);
        Tensor out = Tensor.zeros(MemoryScope.forOutputOf(x), DType.F32, x2.size(0), n);
        apply(x2, out);
        int[] shape = x.shape();
        shape[shape.length - 1] = n;
        return out.view(shape);
    }

    /** out [m, n] = x [m, K] · Wᵀ; both contiguous F32 on the host. */
    public synchronized void apply(Tensor x, Tensor out) {
        int m = x.size(0);
        if (x.rank() != 2 || x.size(1) != kIn || out.rank() != 2 || out.size(0) != m || out.size(1) != n
                || !x.isContiguous() || !out.isContiguous() || x.dtype() != DType.F32 || out.dtype() != DType.F32
                || !x.storage().isHost() || !out.storage().isHost()) {
            throw new IllegalArgumentException("split linear " + name + ": expected contiguous F32 host tensors x [m, " + kIn + "] and out [m, " + n
                    + "], got x " + x.dtype() + " " + Arrays.toString(x.shape()) + " on " + x.device() + " and out " + out.dtype() + " "
                    + Arrays.toString(out.shape()) + " on " + out.device());
        }
        if (closed) throw new IllegalStateException("split linear " + name + " is closed");
        if (m == 0) return;
        int k = splits.rowsFor(m);
        Future<Void> deviceHalf = k < n ? device.submit(() -> deviceRows(x, k, out)) : null;
        Throwable failure = null;
        try {
            options.delay().before(Side.CPU, 0);
            CpuRows.compute(x, weight, k, out);
        } catch (Throwable t) {
            failure = t;
        }
        // always join the device half: it writes into out and reads x
        if (deviceHalf != null) {
            try {
                deviceHalf.get();
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException r) throw r;
        if (failure instanceof Error e) throw e;
        if (failure != null) throw new IllegalStateException("split linear " + name + " was interrupted", failure);
    }

    /** The device half, on the orchestration thread: rows [k, n) into columns [k, n) of out. */
    private Void deviceRows(Tensor x, int k, Tensor out) throws InterruptedException {
        int m = x.size(0);
        ensureCapacity(m);
        Delay delay = options.delay();
        Backend be = device.backend();
        int count = ceilDiv(n - k, chunkRows);
        DeviceEvent[] uploads = new DeviceEvent[count];
        DeviceEvent[] lastReader = new DeviceEvent[ring.length];
        List<DeviceEvent> pending = new ArrayList<>();
        try {
            delay.before(Side.DEVICE, 0);
            Tensor xd = Tensor.wrap(xDev, DType.F32, 0, 1, m, kIn);
            DeviceEvent xUp = be.transferAsync(x, xd.view(m, kIn), CommandQueue.COPY);
            pending.add(xUp);
            int next = 0;
            while (next < Math.min(ring.length, count)) upload(next++, k, uploads, lastReader, pending);
            xUp.await();
            for (int j = 0; j < count; j++) {
                // depth 1: the only buffer frees when the previous GEMM is done
                while (next <= j) upload(next++, k, uploads, lastReader, pending);
                delay.before(Side.DEVICE, 1 + j);
                uploads[j].await();
                int r0 = k + j * chunkRows, rows = Math.min(chunkRows, n - r0);
                Tensor w = Tensor.wrap(ring[j % ring.length], weight.dtype(), 0, rows, kIn);
                Tensor y = Tensor.wrap(yDev, DType.F32, 4L * m * (r0 - k), 1, m, rows);
                be.matmul(xd, w.t().unsqueeze(0), y);
                DeviceEvent done = null;
                for (int i = 0; i < m; i++) {
                    if (done != null) done.close();
                    Tensor deviceRow = Tensor.wrap(yDev, DType.F32, y.byteOffset() + 4L * i * rows, rows);
                    Tensor hostRow = Tensor.wrap(out.storage(), DType.F32, out.byteOffset() + 4L * ((long) i * n + r0), rows);
                    done = be.transferAsync(deviceRow, hostRow, CommandQueue.COMPUTE);
                }
                pending.add(done);
                lastReader[j % ring.length] = done;
                // prefetch: the buffer to refill was last read by GEMM j-1 or earlier, queued ahead of GEMM j
                while (next < count && next <= j + ring.length - 1) upload(next++, k, uploads, lastReader, pending);
            }
            DeviceEvent.awaitAll(pending.toArray(DeviceEvent[]::new));
            chunks.addAndGet(count);
            return null;
        } catch (Throwable t) {
            // never return (and let the caller free x or out) while a command may still touch them
            be.synchronize();
            throw t;
        } finally {
            for (DeviceEvent e : pending) e.close();
        }
    }

    /** Uploads chunk j into its ring slot once the read-back behind the slot's last GEMM has completed. */
    private void upload(int j, int k, DeviceEvent[] uploads, DeviceEvent[] lastReader, List<DeviceEvent> pending) throws InterruptedException {
        int slot = j % ring.length;
        DeviceEvent previous = lastReader[slot];
        if (previous != null) {
            reuses.incrementAndGet();
            if (!previous.isDone()) {
                waited.incrementAndGet();
                previous.await();
            }
            if (!previous.isDone()) broken.incrementAndGet();
        }
        int r0 = k + j * chunkRows, rows = Math.min(chunkRows, n - r0);
        Tensor src = pinned.narrow(0, r0 - firstDeviceRow, rows);
        options.delay().before(Side.DEVICE, -1 - j);
        uploads[j] = device.backend().transferAsync(src, Tensor.wrap(ring[slot], weight.dtype(), 0, rows, kIn), CommandQueue.COPY);
        pending.add(uploads[j]);
    }

    /** Grows the device copies of x and y to m rows (kept for later calls). */
    private void ensureCapacity(int m) {
        if (m <= capacityM) return;
        int cap = Math.max(m, Math.min(2 * capacityM, 4096));
        Backend be = device.backend();
        xDev = be.allocate(deviceScope, DType.F32, cap, kIn).storage();
        yDev = be.allocate(deviceScope, DType.F32, cap, n - firstDeviceRow).storage();
        copiesAfterCompute(be);
        capacityM = cap;
    }

    /**
     * Orders later uploads after what the compute queue holds now: allocate zero-fills new device
     * buffers there, and an upload on the other queue could otherwise land first and be zeroed.
     */
    private static void copiesAfterCompute(Backend be) {
        try (DeviceEvent allocated = be.marker(CommandQueue.COMPUTE)) {
            be.waitFor(CommandQueue.COPY, allocated);
        }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (deviceScope != null) deviceScope.close();
    }

    @Override
    public String toString() {
        return "SplitLinear[" + name + " " + weight.dtype() + " [" + n + ", " + kIn + "], " + splits + ", D=" + ring.length + ", chunk " + chunkRows + " rows]";
    }
}
