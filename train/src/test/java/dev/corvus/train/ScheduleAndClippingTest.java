package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ScheduleAndClippingTest {
    @Test
    void warmupClimbsLinearlyThenCosineFallsToTheMinimum() {
        LearningRateSchedule s = LearningRateSchedule.warmupCosine(1e-3f, 1e-4f, 4, 24);
        assertThat(s.at(0)).isCloseTo(0.25e-3f, offset(1e-9f));
        assertThat(s.at(1)).isCloseTo(0.5e-3f, offset(1e-9f));
        assertThat(s.at(3)).isCloseTo(1e-3f, offset(1e-9f));
        assertThat(s.at(4)).isCloseTo(1e-3f, offset(1e-9f)); // the cosine starts at its peak
        assertThat(s.at(14)).isCloseTo(0.55e-3f, offset(1e-9f)); // half way: (peak + min) / 2
        assertThat(s.at(24)).isEqualTo(1e-4f);
        assertThat(s.at(1000)).isEqualTo(1e-4f);
        for (long t = 4; t < 24; t++) assertThat(s.at(t + 1)).isLessThanOrEqualTo(s.at(t));
        assertThatThrownBy(() -> LearningRateSchedule.warmupCosine(1e-3f, 1e-4f, 10, 10)).hasMessageContaining("total steps 10");
        assertThatThrownBy(() -> LearningRateSchedule.warmupCosine(1e-3f, 2e-3f, 1, 10)).hasMessageContaining("minimum learning rate");
    }

    @Test
    void clippingScalesEveryGradientToTheGlobalNorm() {
        try (Parameters params = Parameters.empty(); MemoryScope scope = MemoryScope.open()) {
            Parameter a = params.add("a", Tensor.zeros(dev.corvus.tensor.DType.F32, 13, 7));
            Parameter b = params.add("b", Tensor.zeros(dev.corvus.tensor.DType.F32, 1025));
            float[] ga = Tensor.randn(3, 13 * 7).toFloatArray(), gb = Tensor.randn(4, 1025).toFloatArray();
            Ops2.set(a.grad(), ga);
            Ops2.set(b.grad(), gb);
            double sum = 0;
            for (float f : ga) sum += (double) f * f;
            for (float f : gb) sum += (double) f * f;
            double norm = Math.sqrt(sum);
            assertThat(params.gradNorm()).isCloseTo(norm, offset(1e-5 * norm));

            assertThat(params.clipGradNorm(2 * norm)).isCloseTo(norm, offset(1e-5 * norm));
            assertThat(a.grad().toFloatArray()).containsExactly(ga); // under the limit: untouched

            assertThat(params.clipGradNorm(1.5)).isCloseTo(norm, offset(1e-5 * norm));
            assertThat(params.gradNorm()).isCloseTo(1.5, offset(1e-5));
            float[] clipped = b.grad().toFloatArray();
            for (int i = 0; i < gb.length; i++) assertThat((double) clipped[i]).isCloseTo(gb[i] * 1.5 / norm, offset(1e-6));
            assertThatThrownBy(() -> params.clipGradNorm(0)).hasMessageContaining("maxNorm 0.0");
        }
    }
}
