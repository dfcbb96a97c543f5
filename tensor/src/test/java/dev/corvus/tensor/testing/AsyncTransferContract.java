package dev.corvus.tensor.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.CommandQueue;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.DeviceEvent;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What every backend's asynchronous transfers, events, markers and pinned memory must do, run
 * by each backend module against its own backend: bytes arrive unchanged on both queues for
 * awkward sizes and dtypes, events order a copy after a kernel and a kernel after a copy, and
 * bad arguments are refused by name. "Device" tensors come from {@link Backend#allocate}: host
 * memory for CPU backends, so the same checks cover their synchronous defaults.
 */
public abstract class AsyncTransferContract {
    private MemoryScope scope;

    /** The backend under test. */
    protected abstract Backend backend();

    @BeforeEach
    void open() {
        scope = MemoryScope.open("async transfer contract");
    }

    @AfterEach
    void close() {
        backend().synchronize();
        scope.close();
    }

    private static byte[] bytes(Tensor host) {
        return host.segment().asSlice(host.byteOffset(), host.dtype().byteSize(host.numel())).toArray(ValueLayout.JAVA_BYTE);
    }

    /** A host tensor of random values in pinned memory, so every backend may read it asynchronously. */
    private Tensor pinnedRandom(DType dtype, long seed, int... shape) {
        Tensor r = Tensor.randn(scope, seed, 1f, shape);
        if (dtype != DType.F32) r = Ops.convert(r, dtype);
        Tensor p = backend().allocatePinned(scope, dtype, shape);
        long bytes = dtype.byteSize(r.numel());
        MemorySegment.copy(r.segment(), r.byteOffset(), p.segment(), p.byteOffset(), bytes);
        return p;
    }

    /**
     * A device tensor that copies on either queue may target: allocate zero-fills it on COMPUTE,
     * so later commands on COPY are ordered after that.
     */
    private Tensor deviceTensor(DType dtype, int... shape) {
        Tensor t = backend().allocate(scope, dtype, shape);
        try (DeviceEvent allocated = backend().marker(CommandQueue.COMPUTE)) {
            backend().waitFor(CommandQueue.COPY, allocated);
        }
        return t;
    }

    @ParameterizedTest
    @EnumSource(CommandQueue.class)
    void bytesRoundTripUnchangedOnEitherQueue(CommandQueue queue) {
        Backend be = backend();
        for (int n : Close.AWKWARD) {
            Tensor src = pinnedRandom(DType.F32, n, n);
            Tensor dev = deviceTensor(DType.F32, n);
            Tensor back = be.allocatePinned(scope, DType.F32, n);
            try (DeviceEvent up = be.transferAsync(src, dev, queue); DeviceEvent down = be.transferAsync(dev, back, queue, up)) {
                down.await();
                assertThat(down.isDone()).isTrue();
                assertThat(up.isDone()).as("an in-order queue finished the upload before the read-back").isTrue();
            }
            assertThat(bytes(back)).as("F32 [%d] on %s", n, queue).isEqualTo(bytes(src));
        }
        for (DType t : new DType[] {DType.F16, DType.BF16, DType.Q8_0}) {
            Tensor src = pinnedRandom(t, 7, 13, 64);
            Tensor dev = deviceTensor(t, 13, 64);
            Tensor back = be.allocatePinned(scope, t, 13, 64);
            try (DeviceEvent up = be.transferAsync(src, dev, queue); DeviceEvent down = be.transferAsync(dev, back, queue, up)) {
                down.await();
            }
            assertThat(bytes(back)).as("%s [13, 64] on %s", t, queue).isEqualTo(bytes(src));
        }
    }

    @Test
    void aKernelWaitsForTheCopyItReads() {
        Backend be = backend();
        int n = 4099;
        Tensor x = pinnedRandom(DType.F32, 11, n);
        Tensor xd = deviceTensor(DType.F32, n), yd = deviceTensor(DType.F32, n);
        Tensor y = be.allocatePinned(scope, DType.F32, n);
        try (DeviceEvent up = be.transferAsync(x, xd, CommandQueue.COPY)) {
            be.waitFor(CommandQueue.COMPUTE, up);
            be.scale(xd, 2f, yd);
        }
        try (DeviceEvent down = be.transferAsync(yd, y, CommandQueue.COMPUTE)) {
            down.await();
        }
        float[] expected = x.toFloatArray();
        for (int i = 0; i < n; i++) expected[i] *= 2f;
        assertThat(y.toFloatArray()).isEqualTo(expected);
    }

    @Test
    void aCopyWaitsForTheKernelThatWritesIt() {
        Backend be = backend();
        int n = 257;
        Tensor x = pinnedRandom(DType.F32, 12, n);
        Tensor xd = be.allocate(scope, DType.F32, n), yd = be.allocate(scope, DType.F32, n);
        Tensor y = be.allocatePinned(scope, DType.F32, n);
        try (DeviceEvent up = be.transferAsync(x, xd, CommandQueue.COMPUTE)) {
            be.scale(xd, -3f, yd);
        }
        try (DeviceEvent computed = be.marker(CommandQueue.COMPUTE);
             DeviceEvent down = be.transferAsync(yd, y, CommandQueue.COPY, computed)) {
            down.await();
            assertThat(computed.isDone()).isTrue();
        }
        float[] expected = x.toFloatArray();
        for (int i = 0; i < n; i++) expected[i] *= -3f;
        assertThat(y.toFloatArray()).isEqualTo(expected);
    }

    @Test
    void pinnedMemoryIsZeroedHostMemoryOwnedByItsScope() {
        Backend be = backend();
        Tensor p;
        try (MemoryScope own = MemoryScope.open("pinned")) {
            p = be.allocatePinned(own, DType.F32, 3, 13);
            assertThat(p.storage().isHost()).isTrue();
            assertThat(p.shape()).containsExactly(3, 13);
            assertThat(p.toFloatArray()).containsOnly(0f);
            p.segment().set(ValueLayout.JAVA_FLOAT, 4, 1.5f);
            assertThat(p.toFloatArray()[1]).isEqualTo(1.5f);
        }
        Tensor closed = p;
        assertThatThrownBy(closed::segment).isInstanceOf(IllegalStateException.class);
        assertThat(be.allocatePinned(scope, DType.F32, 0).numel()).isZero();
    }

    @Test
    void emptyTransfersAndEventsNeedNoDevice() {
        Backend be = backend();
        Tensor src = be.allocatePinned(scope, DType.F32, 0), dst = be.allocate(scope, DType.F32, 0);
        try (DeviceEvent e = be.transferAsync(src, dst, CommandQueue.COPY)) {
            e.await();
            assertThat(e.isDone()).isTrue();
        }
        DeviceEvent marker = be.marker(CommandQueue.COPY);
        marker.await();
        marker.close();
        marker.close();
        DeviceEvent.awaitAll();
        assertThat(DeviceEvent.DONE.isDone()).isTrue();
    }

    @Test
    void mismatchedOrStridedTransfersAreRefused() {
        Backend be = backend();
        Tensor host = be.allocatePinned(scope, DType.F32, 4, 6), dev = be.allocate(scope, DType.F32, 4, 6);
        Tensor wrongShape = be.allocate(scope, DType.F32, 6, 4);
        assertThatThrownBy(() -> be.transferAsync(host, wrongShape, CommandQueue.COPY)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[4, 6]").hasMessageContaining("[6, 4]").hasMessageContaining("differ");
        assertThatThrownBy(() -> be.transferAsync(host.t(), dev.t(), CommandQueue.COPY)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("contiguous");
    }
}
