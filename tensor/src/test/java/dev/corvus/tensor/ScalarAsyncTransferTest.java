package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.testing.AsyncTransferContract;
import org.junit.jupiter.api.Test;

/** The scalar backend's synchronous defaults for asynchronous transfers, events and pinned memory. */
class ScalarAsyncTransferTest extends AsyncTransferContract {
    @Override
    protected Backend backend() {
        return Backends.scalar();
    }

    @Test
    void aCpuBackendHasNoOptionalOperationsAndRunsOnTheHost() {
        for (Capability c : Capability.values()) assertThat(backend().has(c)).as(c.name()).isFalse();
        assertThat(backend().sharesHostCores()).isTrue();
    }

    @Test
    void itsEventsAreDoneBeforeTheyAreReturned() {
        try (MemoryScope s = MemoryScope.open("t")) {
            Tensor a = Tensor.randn(s, 1, 1f, 7), b = Tensor.zeros(s, DType.F32, 7);
            assertThat(backend().transferAsync(a, b, CommandQueue.COPY)).isSameAs(DeviceEvent.DONE);
            assertThat(b.toFloatArray()).isEqualTo(a.toFloatArray());
            assertThat(backend().marker(CommandQueue.COMPUTE)).isSameAs(DeviceEvent.DONE);
        }
    }
}
