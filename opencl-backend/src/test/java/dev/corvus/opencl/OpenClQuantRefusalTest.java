package dev.corvus.opencl;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.QuantFixtures;
import org.junit.jupiter.api.Test;

/**
 * Quantised types without OpenCL kernels are refused by name, with the supported list and the
 * way out (compute them on the CPU), never taken for bytes some kernel misreads.
 */
class OpenClQuantRefusalTest {
    @Test
    void theRuleNamesTheDtypeTheSupportedListAndTheWayOut() {
        for (DType t : QuantFixtures.quantTypes().filter(t -> t != DType.Q8_0).toList()) {
            assertThatThrownBy(() -> OpenClBackend.requireKernels("matmul", t)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("opencl matmul").hasMessageContaining("no kernels for " + t)
                    .hasMessageContaining("F32, F16, BF16, I32 and Q8_0").hasMessageContaining("CPU backend");
        }
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, DType.I32, DType.Q8_0}) {
            assertThatCode(() -> OpenClBackend.requireKernels("matmul", t)).doesNotThrowAnyException();
        }
    }

    @Test
    void movingAQ4KWeightToTheDeviceIsRefused() {
        Device dev = OpenClTestSupport.device();
        try (MemoryScope s = MemoryScope.open()) {
            Tensor w = QuantFixtures.randomWeights(DType.Q4_K, 1, 4, 256);
            assertThatThrownBy(() -> w.to(dev)).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("Q4_K");
            assertThatThrownBy(() -> Tensor.zeros(DType.Q6_K, 2, 256).to(dev)).hasMessageContaining("Q6_K");
        }
    }
}
