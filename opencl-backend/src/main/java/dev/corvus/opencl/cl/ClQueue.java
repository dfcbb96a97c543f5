package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Objects;

/**
 * A command queue. Every enqueue comes in two forms: one without an event (plain ordering on an
 * in-order queue), and an {@code ...Async} one that returns a {@link ClEvent} the caller closes,
 * for host waits or for another queue's wait list. All take an optional wait list.
 *
 * <p>Async host transfers read from or write into the given host segment later: keep it alive and
 * untouched until the event completes.
 */
public final class ClQueue extends ClObject {
    private final ClContext context;
    private final long properties;

    private ClQueue(MemorySegment handle, ClContext context, long properties) {
        super(handle, "queue");
        this.context = context;
        this.properties = properties;
    }

    static ClQueue create(ClContext context, long properties) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment h;
            var withProps = Cl.H.clCreateCommandQueueWithProperties;
            if (withProps.isPresent() && context.device().versionNumber() >= 20) {
                MemorySegment props = a.allocate(JAVA_LONG, 3);
                props.setAtIndex(JAVA_LONG, 0, Cl.CL_QUEUE_PROPERTIES);
                props.setAtIndex(JAVA_LONG, 1, properties);
                props.setAtIndex(JAVA_LONG, 2, 0L);
                h = Cl.callPtr(withProps.get(), context.handle(), context.device().handle(), props, err);
                Cl.check("clCreateCommandQueueWithProperties", err.get(JAVA_INT, 0));
            } else {
                h = Cl.callPtr(Cl.H.clCreateCommandQueue, context.handle(), context.device().handle(), properties, err);
                Cl.check("clCreateCommandQueue", err.get(JAVA_INT, 0));
            }
            return new ClQueue(h, context, properties);
        }
    }

    @Override
    MethodHandle releaser() {
        return Cl.H.clReleaseCommandQueue;
    }

    public ClContext context() {
        return context;
    }

    public boolean isOutOfOrder() {
        return (properties & Cl.CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) != 0;
    }

    /** Blocks until everything enqueued so far has finished. */
    public void finish() {
        Cl.check("clFinish", Cl.call(Cl.H.clFinish, handle()));
    }

    /** Submits everything enqueued so far to the device without waiting. */
    public void flush() {
        Cl.check("clFlush", Cl.call(Cl.H.clFlush, handle()));
    }

    // ---------------------------------------------------------------- host <-> device

    /** Blocking write of all of {@code src} into {@code dst} at byte {@code offset}. */
    public void write(ClBuffer dst, long offset, MemorySegment src, ClEvent... waitFor) {
        transfer(Cl.H.clEnqueueWriteBuffer, "clEnqueueWriteBuffer", dst, offset, src, true, false, waitFor);
    }

    /** Non-blocking write; {@code src} must be native memory and stay alive until the event completes. */
    public ClEvent writeAsync(ClBuffer dst, long offset, MemorySegment src, ClEvent... waitFor) {
        return transfer(Cl.H.clEnqueueWriteBuffer, "clEnqueueWriteBuffer", dst, offset, src, false, true, waitFor);
    }

    /** Blocking read of {@code dst.byteSize()} bytes from {@code src} at byte {@code offset}. */
    public void read(ClBuffer src, long offset, MemorySegment dst, ClEvent... waitFor) {
        transfer(Cl.H.clEnqueueReadBuffer, "clEnqueueReadBuffer", src, offset, dst, true, false, waitFor);
    }

    /** Non-blocking read; {@code dst} must be native memory and stay alive until the event completes. */
    public ClEvent readAsync(ClBuffer src, long offset, MemorySegment dst, ClEvent... waitFor) {
        return transfer(Cl.H.clEnqueueReadBuffer, "clEnqueueReadBuffer", src, offset, dst, false, true, waitFor);
    }

    private ClEvent transfer(MethodHandle h, String name, ClBuffer buf, long offset, MemorySegment host, boolean blocking,
                             boolean wantEvent, ClEvent... waitFor) {
        checkRange(name, buf, offset, host.byteSize());
        if (host.byteSize() == 0) return wantEvent ? refuseEmpty() : null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ptr = host;
            boolean staged = !host.isNative();
            if (staged) {
                if (!blocking) throw new IllegalArgumentException(name + ": an asynchronous transfer needs native (off-heap) host memory");
                ptr = a.allocate(host.byteSize(), 64);
                if (h == Cl.H.clEnqueueWriteBuffer) ptr.copyFrom(host);
            }
            MemorySegment ev = wantEvent ? a.allocate(ADDRESS) : MemorySegment.NULL;
            Cl.check(name, Cl.call(h, handle(), buf.handle(), blocking ? 1 : 0, offset, host.byteSize(), ptr,
                    Cl.count(waitFor), Cl.waitList(a, waitFor), ev));
            if (staged && h == Cl.H.clEnqueueReadBuffer) host.copyFrom(ptr);
            return wantEvent ? ClEvent.from(ev) : null;
        }
    }

    // ---------------------------------------------------------------- device <-> device

    /** Copies {@code bytes} from src at srcOffset to dst at dstOffset, on the device. */
    public void copy(ClBuffer src, long srcOffset, ClBuffer dst, long dstOffset, long bytes, ClEvent... waitFor) {
        copy(src, srcOffset, dst, dstOffset, bytes, false, waitFor);
    }

    public ClEvent copyAsync(ClBuffer src, long srcOffset, ClBuffer dst, long dstOffset, long bytes, ClEvent... waitFor) {
        return copy(src, srcOffset, dst, dstOffset, bytes, true, waitFor);
    }

    private ClEvent copy(ClBuffer src, long srcOffset, ClBuffer dst, long dstOffset, long bytes, boolean wantEvent, ClEvent... waitFor) {
        checkRange("clEnqueueCopyBuffer", src, srcOffset, bytes);
        checkRange("clEnqueueCopyBuffer", dst, dstOffset, bytes);
        if (bytes == 0) return wantEvent ? refuseEmpty() : null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = wantEvent ? a.allocate(ADDRESS) : MemorySegment.NULL;
            Cl.check("clEnqueueCopyBuffer", Cl.call(Cl.H.clEnqueueCopyBuffer, handle(), src.handle(), dst.handle(), srcOffset, dstOffset,
                    bytes, Cl.count(waitFor), Cl.waitList(a, waitFor), ev));
            return wantEvent ? ClEvent.from(ev) : null;
        }
    }

    /** Sets {@code bytes} bytes (a multiple of 4) of {@code buf} from {@code offset} to zero. */
    public void fillZero(ClBuffer buf, long offset, long bytes, ClEvent... waitFor) {
        fill(buf, 0, offset, bytes, waitFor);
    }

    /** Fills with a repeated 32-bit pattern; offset and bytes are multiples of 4. */
    public void fill(ClBuffer buf, int pattern, long offset, long bytes, ClEvent... waitFor) {
        checkRange("clEnqueueFillBuffer", buf, offset, bytes);
        if (bytes == 0) return;
        if (offset % 4 != 0 || bytes % 4 != 0) {
            // Pattern size must divide both; fall back to bytes.
            fillBytes(buf, (byte) pattern, offset, bytes, waitFor);
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            p.set(JAVA_INT, 0, pattern);
            Cl.check("clEnqueueFillBuffer", Cl.call(Cl.H.clEnqueueFillBuffer, handle(), buf.handle(), p, 4L, offset, bytes,
                    Cl.count(waitFor), Cl.waitList(a, waitFor), MemorySegment.NULL));
        }
    }

    private void fillBytes(ClBuffer buf, byte pattern, long offset, long bytes, ClEvent... waitFor) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(1);
            p.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, pattern);
            Cl.check("clEnqueueFillBuffer", Cl.call(Cl.H.clEnqueueFillBuffer, handle(), buf.handle(), p, 1L, offset, bytes,
                    Cl.count(waitFor), Cl.waitList(a, waitFor), MemorySegment.NULL));
        }
    }

    // ---------------------------------------------------------------- mapping

    /**
     * Maps {@code bytes} of a buffer (best a {@link ClContext#pinnedBuffer}) into host memory,
     * blocking until the mapping is valid. flags: {@link Cl#CL_MAP_READ} and/or {@link Cl#CL_MAP_WRITE}.
     * Call {@link #unmap} before the device uses the buffer again.
     */
    public MemorySegment map(ClBuffer buf, long flags, long offset, long bytes) {
        checkRange("clEnqueueMapBuffer", buf, offset, bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(JAVA_INT);
            MemorySegment p = Cl.callPtr(Cl.H.clEnqueueMapBuffer, handle(), buf.handle(), 1, flags, offset, bytes, 0, MemorySegment.NULL,
                    MemorySegment.NULL, err);
            Cl.check("clEnqueueMapBuffer", err.get(JAVA_INT, 0));
            return p.reinterpret(bytes);
        }
    }

    /** Ends a mapping made by {@link #map}; blocks until done. */
    public void unmap(ClBuffer buf, MemorySegment mapped) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = a.allocate(ADDRESS);
            Cl.check("clEnqueueUnmapMemObject", Cl.call(Cl.H.clEnqueueUnmapMemObject, handle(), buf.handle(), mapped, 0, MemorySegment.NULL, ev));
            try (ClEvent e = ClEvent.from(ev)) {
                e.await();
            }
        }
    }

    // ---------------------------------------------------------------- kernels

    /**
     * Enqueues {@code kernel} (arguments already set) over an NDRange of 1 to 3 dimensions.
     * {@code local} may be null (the implementation chooses); else each global size must be a
     * multiple of the local one. The kernel's arguments are captured at this call, so the kernel
     * object may be re-armed right after.
     */
    public void run(ClKernel kernel, long[] global, long[] local, ClEvent... waitFor) {
        launch(kernel, global, local, false, waitFor);
    }

    /** As {@link #run}, returning the launch's event (close it). */
    public ClEvent submit(ClKernel kernel, long[] global, long[] local, ClEvent... waitFor) {
        return launch(kernel, global, local, true, waitFor);
    }

    private ClEvent launch(ClKernel kernel, long[] global, long[] local, boolean wantEvent, ClEvent... waitFor) {
        Objects.requireNonNull(global, "global");
        int dims = global.length;
        if (dims < 1 || dims > 3) throw new IllegalArgumentException("an NDRange has 1 to 3 dimensions, not " + dims);
        if (local != null && local.length != dims) throw new IllegalArgumentException("local has " + local.length + " dimensions, global " + dims);
        for (long g : global) if (g == 0) return wantEvent ? refuseEmpty() : null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(JAVA_LONG, dims);
            for (int i = 0; i < dims; i++) g.setAtIndex(JAVA_LONG, i, global[i]);
            MemorySegment l = MemorySegment.NULL;
            if (local != null) {
                l = a.allocate(JAVA_LONG, dims);
                for (int i = 0; i < dims; i++) l.setAtIndex(JAVA_LONG, i, local[i]);
            }
            MemorySegment ev = wantEvent ? a.allocate(ADDRESS) : MemorySegment.NULL;
            Cl.check("clEnqueueNDRangeKernel(" + kernel.name() + ")", Cl.call(Cl.H.clEnqueueNDRangeKernel, handle(), kernel.handle(), dims,
                    MemorySegment.NULL, g, l, Cl.count(waitFor), Cl.waitList(a, waitFor), ev));
            return wantEvent ? ClEvent.from(ev) : null;
        }
    }

    // ---------------------------------------------------------------- ordering

    /**
     * An event that completes when every command enqueued before it has (and the events in
     * {@code waitFor}): for another queue's wait list, or a host wait on this queue's progress.
     */
    public ClEvent marker(ClEvent... waitFor) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = a.allocate(ADDRESS);
            Cl.check("clEnqueueMarkerWithWaitList", Cl.call(Cl.H.clEnqueueMarkerWithWaitList, handle(), Cl.count(waitFor), Cl.waitList(a, waitFor), ev));
            return ClEvent.from(ev);
        }
    }

    /** Commands enqueued after this start only once the events in {@code waitFor} have completed (and, on an out-of-order queue, every earlier command). */
    public void barrier(ClEvent... waitFor) {
        try (Arena a = Arena.ofConfined()) {
            Cl.check("clEnqueueBarrierWithWaitList", Cl.call(Cl.H.clEnqueueBarrierWithWaitList, handle(), Cl.count(waitFor), Cl.waitList(a, waitFor),
                    MemorySegment.NULL));
        }
    }

    /** Empty async commands are refused: OpenCL cannot enqueue them, and a fake event would hide the mistake. */
    private static ClEvent refuseEmpty() {
        throw new IllegalArgumentException("an empty command (zero bytes or a zero-sized range) has no event; skip it instead");
    }

    private static void checkRange(String call, ClBuffer buf, long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset + bytes > buf.byteSize()) {
            throw new IndexOutOfBoundsException(call + ": bytes [" + offset + ", " + (offset + bytes) + ") outside a buffer of " + buf.byteSize());
        }
    }
}
