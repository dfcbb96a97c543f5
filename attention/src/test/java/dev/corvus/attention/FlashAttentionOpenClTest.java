package dev.corvus.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.corvus.opencl.OpenClDevices;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused OpenCL attention kernel ({@code FlashAttention.forward} on device tensors) against
 * the CPU flash attention on the same inputs: out and lse, for sizes that are not multiples of
 * the tiles, head dimensions 8 / 13 / 64 (and the wider tile shapes of 128 and 256), grouped
 * heads, full and causal masks with Nq != Nk, and masks that leave rows fully masked. Skipped,
 * saying why, without an OpenCL device.
 */
class FlashAttentionOpenClTest {
    record Case(int batch, int hq, int hkv, int nq, int nk, int d, Mask mask, DType dtype) {
        @Override
        public String toString() {
            return "B" + batch + " H" + hq + "/" + hkv + " Nq" + nq + " Nk" + nk + " D" + d + " " + mask + " " + dtype;
        }
    }

    static Stream<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (int n : new int[] {1, 7, 64, 65, 130}) {
            for (int d : new int[] {8, 13, 64}) {
                cases.add(new Case(1, 4, 2, n, n, d, Mask.NONE, DType.F32));
                cases.add(new Case(2, 4, 2, n, n, d, Mask.causalBottomRight(n, n), DType.F32));
            }
        }
        DType f32 = DType.F32;
        cases.add(new Case(1, 4, 2, 7, 130, 13, Mask.causalBottomRight(7, 130), f32));   // Nq < Nk
        cases.add(new Case(1, 2, 1, 1, 130, 64, Mask.causalBottomRight(1, 130), f32));   // a decode step
        cases.add(new Case(1, 4, 2, 130, 65, 8, Mask.causalBottomRight(130, 65), f32));  // Nq > Nk: top rows see nothing
        cases.add(new Case(2, 2, 1, 65, 40, 13, Mask.causal(100, 120), f32));            // first 20 rows fully masked
        cases.add(new Case(1, 2, 2, 17, 33, 8, Mask.causal(0, 1000), f32));              // every row fully masked
        cases.add(new Case(1, 4, 4, 65, 130, 64, Mask.NONE, f32));
        cases.add(new Case(1, 4, 1, 33, 70, 128, Mask.causalBottomRight(33, 70), f32));   // MQA, 32-key tiles
        cases.add(new Case(1, 2, 1, 20, 37, 256, Mask.causalBottomRight(20, 37), f32));   // 16-key tiles
        cases.add(new Case(1, 4, 2, 65, 65, 13, Mask.causalBottomRight(65, 65), DType.F16));
        cases.add(new Case(2, 2, 1, 64, 130, 64, Mask.NONE, DType.BF16));
        return cases.stream();
    }

    private MemoryScope scope;
    private Device dev;

    @BeforeEach
    void open() {
        Optional<String> why = OpenClDevices.unavailableReason();
        assumeTrue(why.isEmpty(), () -> "no OpenCL device: " + why.orElse(""));
        dev = Backends.device("opencl");
        scope = MemoryScope.open("flash-opencl-test");
    }

    @AfterEach
    void close() {
        if (scope != null) scope.close();
    }

    private static Tensor input(long seed, int b, int h, int n, int d, DType dtype) {
        Tensor t = Tensor.randn(seed, b, h, n, d);
        return dtype == DType.F32 ? t : Ops.convert(t, dtype);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void deviceForwardMatchesTheCpu(Case c) {
        Tensor q = input(1, c.batch, c.hq, c.nq, c.d, c.dtype);
        Tensor k = input(2, c.batch, c.hkv, c.nk, c.d, c.dtype);
        Tensor v = input(3, c.batch, c.hkv, c.nk, c.d, c.dtype);
        float scale = (float) (1 / Math.sqrt(c.d));
        FlashAttention.Result expected = FlashAttention.forward(q, k, v, c.mask, scale);
        FlashAttention.Result actual = FlashAttention.forward(q.to(dev), k.to(dev), v.to(dev), c.mask, scale);
        assertThat(actual.out().device()).isEqualTo(dev);
        assertThat(actual.out().shape()).containsExactly(c.batch, c.hq, c.nq, c.d);
        assertThat(actual.lse().shape()).containsExactly(c.batch, c.hq, c.nq);
        double tol = Close.reductionTolerance(c.nk + c.d, 2e-6);
        Close.assertAllClose(c + " out", expected.out().toFloatArray(), actual.out().to(Device.CPU).toFloatArray(), tol, 1e-5);
        Close.assertAllClose(c + " lse", expected.lse().toFloatArray(), actual.lse().to(Device.CPU).toFloatArray(), tol, 1e-5);
    }

    @Test
    void fullyMaskedRowsAreZeroWithMinusInfinityLse() {
        Tensor q = Tensor.randn(1, 1, 2, 9, 8).to(dev), k = Tensor.randn(2, 1, 1, 5, 8).to(dev), v = Tensor.randn(3, 1, 1, 5, 8).to(dev);
        FlashAttention.Result r = FlashAttention.forward(q, k, v, Mask.causal(0, 4), 0.5f);   // query i sees keys j <= i - 4
        float[] out = r.out().to(Device.CPU).toFloatArray(), lse = r.lse().to(Device.CPU).toFloatArray();
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < 9; i++) {
                float l = lse[h * 9 + i];
                if (i < 4) {
                    assertThat(l).as("lse h=%d i=%d", h, i).isEqualTo(Float.NEGATIVE_INFINITY);
                    for (int d = 0; d < 8; d++) assertThat(out[(h * 9 + i) * 8 + d]).isZero();
                } else {
                    assertThat(Float.isFinite(l)).as("lse h=%d i=%d", h, i).isTrue();
                }
            }
        }
    }

    @Test
    void headDimensionsBeyondTheKernelGiveAClearError() {
        Tensor q = Tensor.randn(1, 1, 1, 2, 300).to(dev);
        assertThatThrownBy(() -> FlashAttention.forward(q, q, q, Mask.NONE, 0.1f)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("head dimension D=300").hasMessageContaining("256");
    }
}
