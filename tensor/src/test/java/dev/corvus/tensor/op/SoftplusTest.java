package dev.corvus.tensor.op;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

/** softplus, the op added through its registry entry alone: eager, strided, widened, refused, registered. */
class SoftplusTest {
    @Test
    void matchesLogOnePlusExpOnAwkwardSizes() {
        try (MemoryScope scope = MemoryScope.open()) {
            for (int n : Close.AWKWARD) {
                Tensor x = Ops.scale(Tensor.randn(n, n), 8f);
                float[] in = x.toFloatArray(), expected = new float[n];
                for (int i = 0; i < n; i++) expected[i] = (float) Math.log(1 + Math.exp(in[i]));
                Close.assertAllClose("softplus n=" + n, expected, Ops.softplus(x).toFloatArray(), 1e-6, 1e-6);
            }
        }
    }

    @Test
    void neitherOverflowsNorUnderflowsAtTheTails() {
        try (MemoryScope scope = MemoryScope.open()) {
            float[] out = Ops.softplus(Tensor.of(new float[] {100f, 1000f, -30f, -100f, 0f}, 5)).toFloatArray();
            assertThat(out[0]).isEqualTo(100f);
            assertThat(out[1]).isEqualTo(1000f);
            assertThat(out[2]).isCloseTo((float) Math.exp(-30), org.assertj.core.data.Percentage.withPercentage(1e-4));
            assertThat(out[3]).isPositive();
            assertThat(out[4]).isCloseTo((float) Math.log(2), org.assertj.core.data.Offset.offset(1e-7f));
        }
    }

    @Test
    void readsStridedAndHalfPrecisionOperandsAsEveryElementWiseOpDoes() {
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor x = Tensor.randn(3, 13, 7);
            float[] viaCopy = Ops.softplus(x.t().contiguous()).toFloatArray();
            assertThat(Ops.softplus(x.t()).toFloatArray()).containsExactly(viaCopy);
            Tensor half = x.to(DType.BF16);
            assertThat(Ops.softplus(half).toFloatArray()).containsExactly(Ops.softplus(half.to(DType.F32)).toFloatArray());
            assertThatThrownBy(() -> Ops.softplus(Tensor.ofInts(new int[] {1, 2}, 2)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("softplus: expected a floating-point tensor, got I32 [2]");
        }
    }

    @Test
    void isRegisteredWithItsDimensionAndMemoryRules() {
        assertThat(OpRegistry.named("softplus")).contains(Softplus.OP);
        Layout strided = Layout.contiguous(4, 6).permute(new int[] {1, 0});
        assertThat(Softplus.OP.flow(Softplus.ATTRS, new Operand[] {null}, new int[] {6, 4}, 1)).containsExactly(1);
        assertThat(Softplus.OP.scratchBytes(Softplus.ATTRS, new Layout[] {strided}, new DType[] {DType.F32}, new int[] {6, 4}))
                .as("a strided operand is copied to contiguous F32 first").isEqualTo(4L * 24);
        assertThat(Softplus.OP.scratchBytes(Softplus.ATTRS, new Layout[] {Layout.contiguous(6, 4)}, new DType[] {DType.F32}, new int[] {6, 4}))
                .isZero();
    }
}
