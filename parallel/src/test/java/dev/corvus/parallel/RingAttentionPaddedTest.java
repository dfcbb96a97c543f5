package dev.corvus.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.OpKind;
import dev.corvus.parallel.dsp.DspLayout;
import dev.corvus.parallel.dsp.DspSharding;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Ring attention over a sequence padded to a multiple of P: the real query rows equal one-device
 * attention over the real keys, with NaN in the pad slots (so a pad key attended would show), and
 * each rank sends P-1 padded key/value shards.
 */
class RingAttentionPaddedTest {
    static final int B = 2, H = 3, D = 5;

    @ParameterizedTest(name = "P={0} n={1}")
    @CsvSource({"1,7", "2,7", "3,7", "4,13", "4,1", "8,13", "3,9"})
    void realRowsEqualOneDeviceAttention(int p, int n) {
        float scale = (float) (1 / Math.sqrt(D));
        float[] expected;
        try (MemoryScope scope = MemoryScope.open("reference")) {
            expected = FlashAttention.forward(Tensor.randn(1, B, H, n, D), Tensor.randn(2, B, H, n, D), Tensor.randn(3, B, H, n, D), Mask.NONE, scale)
                    .out().toFloatArray();
        }
        DspLayout layout = new DspLayout(new int[] {B, H, n, D}, 2, p);
        List<Object[]> runs = InJvmCluster.run(p, Duration.ofSeconds(30), comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Tensor q = DspSharding.split(comm, Tensor.randn(1, B, H, n, D), layout, Float.NaN);
                Tensor k = DspSharding.split(comm, Tensor.randn(2, B, H, n, D), layout, Float.NaN);
                Tensor v = DspSharding.split(comm, Tensor.randn(3, B, H, n, D), layout, Float.NaN);
                Tensor out = RingAttention.forwardPadded(comm, q, k, v, n, scale).out();
                return new Object[] {DspSharding.gather(comm, out, layout).toFloatArray(), comm.stats().bytes(OpKind.SEND)};
            }
        });
        long kvBytes = (long) B * H * layout.chunk() * D * 4;
        for (Object[] run : runs) {
            Close.assertAllClose("ring padded P=" + p, expected, (float[]) run[0], Close.reductionTolerance(n, 1e-6), 1e-5);
            assertThat((long) run[1]).as("P-1 hops of the padded key and value shards").isEqualTo((long) (p - 1) * 2 * kvBytes);
        }
    }

    @Test
    void moreRealKeysThanSlotsIsRefused() {
        assertThatThrownBy(() -> InJvmCluster.run(2, Duration.ofSeconds(10), comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Tensor t = Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 1, 3, 2);
                return RingAttention.forwardPadded(comm, t, t, t, 7, 1f);
            }
        })).rootCause().hasMessageContaining("7 real keys do not fit 2 shards of 3");
    }
}
