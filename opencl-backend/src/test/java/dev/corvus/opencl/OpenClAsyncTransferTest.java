package dev.corvus.opencl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.opencl.cl.ClEvent;
import dev.corvus.opencl.cl.ClResources;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Capability;
import dev.corvus.tensor.CommandQueue;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.DeviceEvent;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.AsyncTransferContract;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenCL backend's asynchronous transfers (ClEvents on its two queues) and mapped pinned buffers; skipped without OpenCL. */
class OpenClAsyncTransferTest extends AsyncTransferContract {
    private static Backend backend;

    @BeforeAll
    static void device() {
        backend = Backends.of(OpenClTestSupport.device());
    }

    @Override
    protected Backend backend() {
        return backend;
    }

    @Test
    void declaresEveryOptionalOperation() {
        for (Capability c : Capability.values()) assertThat(backend.has(c)).as(c.name()).isTrue();
    }

    @Test
    void transfersReturnOpenClEventsAndPinnedMemoryIsAMappedBuffer() {
        long buffersBefore = ClResources.live("buffer");
        try (MemoryScope s = MemoryScope.open("pinned")) {
            Tensor p = backend.allocatePinned(s, DType.F32, 1000), d = backend.allocate(s, DType.F32, 1000);
            assertThat(ClResources.live("buffer")).isEqualTo(buffersBefore + 2);
            try (DeviceEvent e = backend.transferAsync(p, d, CommandQueue.COPY)) {
                assertThat(e).isInstanceOf(ClEvent.class);
                e.await();
            }
        }
        assertThat(ClResources.live("buffer")).as("closing the scope unmaps and releases the pinned buffer").isEqualTo(buffersBefore);
    }

    @Test
    void hostToHostAndForeignEventsAreRefused() {
        try (MemoryScope s = MemoryScope.open("refusals")) {
            Tensor a = backend.allocatePinned(s, DType.F32, 4), b = backend.allocatePinned(s, DType.F32, 4), d = backend.allocate(s, DType.F32, 4);
            assertThatThrownBy(() -> backend.transferAsync(a, b, CommandQueue.COPY)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("exactly one");
            DeviceEvent foreign = new DeviceEvent() {
                public void await() {}
                public boolean isDone() { return true; }
                public void close() {}
            };
            assertThatThrownBy(() -> backend.transferAsync(a, d, CommandQueue.COPY, foreign)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not an OpenCL event");
        }
    }
}
