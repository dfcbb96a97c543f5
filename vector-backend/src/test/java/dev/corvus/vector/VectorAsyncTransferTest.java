package dev.corvus.vector;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Capability;
import dev.corvus.tensor.testing.AsyncTransferContract;
import org.junit.jupiter.api.Test;

/** The Vector API backend keeps the synchronous defaults for asynchronous transfers, events and pinned memory. */
class VectorAsyncTransferTest extends AsyncTransferContract {
    private static final Backend VECTOR = Backends.named("vector");

    @Override
    protected Backend backend() {
        return VECTOR;
    }

    @Test
    void aCpuBackendHasNoOptionalOperations() {
        for (Capability c : Capability.values()) assertThat(VECTOR.has(c)).as(c.name()).isFalse();
        assertThat(VECTOR.sharesHostCores()).isTrue();
    }
}
