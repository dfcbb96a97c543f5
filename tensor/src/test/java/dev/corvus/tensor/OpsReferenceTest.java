package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The scalar backend is the oracle for every other backend, so it is checked here against values
 * worked out by hand or with Python's math module.
 */
class OpsReferenceTest {
    private MemoryScope scope;

    @BeforeEach
    void open() {
        scope = MemoryScope.open("test");
    }

    @AfterEach
    void close() {
        scope.close();
    }

    @Test
    void matmulAndItsErrors() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.of(new float[] {7, 8, 9, 10, 11, 12}, 3, 2);
        assertThat(Ops.matmul(a, b).toFloatArray()).containsExactly(58, 64, 139, 154);
        assertThat(Ops.matmul(b, a, true, true).toFloatArray()).containsExactly(58, 139, 64, 154);
        assertThatThrownBy(() -> Ops.matmul(Tensor.zeros(DType.F32, 4, 8), Tensor.zeros(DType.F32, 9, 2)))
                .hasMessage("matmul: shapes [4, 8] and [9, 2] do not match on K (8 vs 9)");
        assertThatThrownBy(() -> Ops.matmul(Tensor.zeros(DType.F32, 2, 4, 8), Tensor.zeros(DType.F32, 3, 8, 2)))
                .hasMessageContaining("[2]").hasMessageContaining("[3]");
    }

    @Test
    void batchedMatmulBroadcastsTheBatch() {
        Tensor a = Tensor.randn(1, 2, 3, 4, 5);
        Tensor b = Tensor.randn(2, 5, 6);
        Tensor c = Ops.matmul(a, b);
        assertThat(c.shape()).containsExactly(2, 3, 4, 6);
        Tensor one = Ops.matmul(a.select(0, 1).select(0, 2), b);
        Close.assertAllClose("batch slice", one.toFloatArray(), c.select(0, 1).select(0, 2).toFloatArray(), 1e-6, 1e-6);
    }

    @Test
    void linearWithBiasAndQuantizedWeights() {
        Tensor x = Tensor.of(new float[] {1, -1}, 1, 2);
        Tensor w = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Tensor bias = Tensor.of(new float[] {0.5f, 0, -0.5f}, 3);
        assertThat(Ops.linear(x, w, bias).toFloatArray()).containsExactly(-0.5f, -1, -1.5f);
        Tensor wide = Tensor.randn(5, 4, 64);
        Tensor xs = Tensor.randn(6, 3, 64);
        float[] exact = Ops.linear(xs, wide, null).toFloatArray();
        for (DType dt : new DType[] {DType.F16, DType.BF16, DType.Q8_0}) {
            float[] lowp = Ops.linear(xs, wide.to(dt), null).toFloatArray();
            Close.assertAllClose("linear " + dt, exact, lowp, dt == DType.F16 ? 0.02 : 0.2, 0.02);
        }
        assertThatThrownBy(() -> Ops.linear(xs, Tensor.zeros(DType.F32, 4, 63), null)).hasMessageContaining("K (64 vs 63)");
    }

    @Test
    void broadcastingElementwise() {
        Tensor m = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor row = Tensor.of(new float[] {10, 20, 30}, 3);
        Tensor col = Tensor.of(new float[] {100, 200}, 2, 1);
        assertThat(Ops.add(m, row).toFloatArray()).containsExactly(11, 22, 33, 14, 25, 36);
        assertThat(Ops.add(row, m).toFloatArray()).containsExactly(11, 22, 33, 14, 25, 36);
        assertThat(Ops.sub(row, m).toFloatArray()).containsExactly(9, 18, 27, 6, 15, 24);
        assertThat(Ops.mul(m, col).toFloatArray()).containsExactly(100, 200, 300, 800, 1000, 1200);
        assertThat(Ops.div(m, Tensor.of(new float[] {2}, 1)).toFloatArray()).containsExactly(0.5f, 1, 1.5f, 2, 2.5f, 3);
        assertThat(Ops.add(col, row).shape()).containsExactly(2, 3);
        assertThatThrownBy(() -> Ops.add(m, Tensor.zeros(DType.F32, 4)))
                .hasMessage("add: shapes [2, 3] and [4] do not broadcast at dimension 1 (3 vs 4)");
    }

    @Test
    void activationsMatchPythonMath() {
        assertThat(UnaryOp.erf(0.1)).isCloseTo(0.1124629160182849, within(1e-15));
        assertThat(UnaryOp.erf(0.5)).isCloseTo(0.5204998778130465, within(1e-15));
        assertThat(UnaryOp.erf(2.4)).isCloseTo(0.999311486103355, within(1e-14));
        assertThat(UnaryOp.erf(2.6)).isCloseTo(0.9997639655834707, within(1e-14));
        assertThat(UnaryOp.erf(4.5)).isCloseTo(0.9999999998033839, within(1e-14));
        assertThat(UnaryOp.erf(-1.2)).isCloseTo(-0.9103139782296353, within(1e-15));
        Tensor one = Tensor.of(new float[] {1}, 1);
        assertThat(Ops.gelu(one, true).item()).isCloseTo(0.8411919906082768f, within(1e-7f));
        assertThat(Ops.gelu(one, false).item()).isCloseTo(0.8413447460685429f, within(1e-7f));
        assertThat(Ops.silu(one).item()).isCloseTo((float) (1 / (1 + Math.exp(-1))), within(1e-7f));
        assertThat(Ops.relu(Tensor.of(new float[] {-1, 2}, 2)).toFloatArray()).containsExactly(0, 2);
        assertThat(Ops.exp(Tensor.of(new float[] {0, 1}, 2)).toFloatArray()).containsExactly(1, (float) Math.E);
    }

    @Test
    void softmaxCausalAndLog() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 1, 2, 3}, 2, 3);
        float[] s = Ops.softmax(x, -1).toFloatArray();
        double z = Math.exp(1) + Math.exp(2) + Math.exp(3);
        assertThat(s[2]).isCloseTo((float) (Math.exp(3) / z), within(1e-7f));
        // 2 queries over 3 keys: query 0 sees keys 0..1, query 1 sees all three.
        float[] c = Ops.causalSoftmax(x).toFloatArray();
        assertThat(c[2]).isZero();
        assertThat(c[0]).isCloseTo((float) (Math.exp(1) / (Math.exp(1) + Math.exp(2))), within(1e-7f));
        assertThat(c[5]).isCloseTo(s[5], within(1e-7f));
        float[] l = Ops.logSoftmax(x, -1).toFloatArray();
        assertThat(l[0]).isCloseTo((float) (1 - Math.log(z)), within(1e-6f));
        // Along dim 0: columns of equal values give 1/2 each.
        assertThat(Ops.softmax(x, 0).toFloatArray()).containsOnly(0.5f);
        // More queries than keys: the first query sees nothing and gets zeros, not NaN.
        Tensor tall = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        assertThat(Ops.causalSoftmax(tall).toFloatArray()).startsWith(0, 0, 1, 0);
        assertThat(Ops.softmax(tall, -1, true, true).toFloatArray()[0]).isEqualTo(Float.NEGATIVE_INFINITY);
    }

    @Test
    void causalSoftmaxBlocksOfQueryRowsEqualTheWhole() {
        try (MemoryScope scope = MemoryScope.open()) {
            // 13 queries over 17 keys: every block of rows, with its own diagonal, is the same rows of the whole.
            Tensor x = Tensor.randn(7, 2, 13, 17);
            float[] whole = Ops.causalSoftmax(x).toFloatArray();
            for (int start = 0; start < 13; start += 5) {
                int len = Math.min(5, 13 - start);
                float[] block = Ops.causalSoftmax(x.narrow(1, start, len), start + 17 - 13).toFloatArray();
                float[] expected = Ops.causalSoftmax(x).narrow(1, start, len).contiguous().toFloatArray();
                assertThat(block).containsExactly(expected);
            }
            assertThat(Ops.causalSoftmax(x, 17 - 13).toFloatArray()).containsExactly(whole);
            // A diagonal below every key gives a block of zeros, not NaN.
            assertThat(Ops.causalSoftmax(x.narrow(1, 0, 2), -5).toFloatArray()).containsOnly(0f);
            assertThatThrownBy(() -> Ops.causalSoftmax(x, 5)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("keys - queries = 4");
        }
    }

    @Test
    void norms() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 1, 4);
        Tensor w = Tensor.of(new float[] {1, 1, 2, 2}, 4);
        double rms = Math.sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
        assertThat(Ops.rmsnorm(x, w, 1e-5f).toFloatArray()).containsExactly(
                new float[] {(float) (1 / rms), (float) (2 / rms), (float) (6 / rms), (float) (8 / rms)}, within(1e-6f));
        double sd = Math.sqrt(1.25 + 1e-5);
        float[] ln = Ops.layernorm(x, null, Tensor.of(new float[] {0, 0, 0, 1}, 4), 1e-5f).toFloatArray();
        assertThat(ln).containsExactly(new float[] {(float) (-1.5 / sd), (float) (-0.5 / sd), (float) (0.5 / sd), (float) (1.5 / sd + 1)}, within(1e-6f));
        assertThatThrownBy(() -> Ops.rmsnorm(x, Tensor.ones(3), 1e-5f)).hasMessageContaining("weight has shape [3], expected [4]");
    }

    @Test
    void ropeConventions() {
        // One head of 4 features at positions 0 and 1, theta 100: pair frequencies 1 and 1/10.
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 1, 2, 3, 4}, 2, 4);
        float[] inter = Ops.rope(x, 0, 0, 100, RopeStyle.INTERLEAVED).toFloatArray();
        assertThat(inter).startsWith(1, 2, 3, 4);
        double c1 = Math.cos(1), s1 = Math.sin(1), c2 = Math.cos(0.1), s2 = Math.sin(0.1);
        assertThat(inter[4]).isCloseTo((float) (1 * c1 - 2 * s1), within(1e-6f));
        assertThat(inter[5]).isCloseTo((float) (1 * s1 + 2 * c1), within(1e-6f));
        assertThat(inter[6]).isCloseTo((float) (3 * c2 - 4 * s2), within(1e-6f));
        float[] half = Ops.rope(x, 0, 0, 100, RopeStyle.HALF_SPLIT).toFloatArray();
        assertThat(half[4]).isCloseTo((float) (1 * c1 - 3 * s1), within(1e-6f));
        assertThat(half[6]).isCloseTo((float) (1 * s1 + 3 * c1), within(1e-6f));
        assertThat(half[5]).isCloseTo((float) (2 * c2 - 4 * s2), within(1e-6f));
        // A position offset shifts the angles: row 0 at offset 1 equals row 1 above.
        float[] shifted = Ops.rope(x.narrow(0, 0, 1), 0, 1, 100, RopeStyle.INTERLEAVED).toFloatArray();
        assertThat(shifted).containsExactly(java.util.Arrays.copyOfRange(inter, 4, 8));
        // [T, H, D]: every head at a position rotates alike.
        Tensor heads = Tensor.of(new float[] {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, 2, 2, 4);
        float[] h = Ops.rope(heads, 0, 0, 100, RopeStyle.INTERLEAVED).toFloatArray();
        assertThat(java.util.Arrays.copyOfRange(h, 8, 12)).containsExactly(java.util.Arrays.copyOfRange(h, 12, 16));
        assertThat(java.util.Arrays.copyOfRange(h, 8, 12)).containsExactly(java.util.Arrays.copyOfRange(inter, 4, 8));
    }

    @Test
    void embeddingArgmaxAndReductions() {
        Tensor table = Tensor.of(new float[] {0, 1, 10, 11, 20, 21}, 3, 2);
        Tensor ids = Tensor.ofInts(new int[] {2, 0, 2}, 3);
        assertThat(Ops.embedding(table, ids).toFloatArray()).containsExactly(20, 21, 0, 1, 20, 21);
        assertThat(Ops.embedding(table.to(DType.BF16), ids).toFloatArray()).containsExactly(20, 21, 0, 1, 20, 21);
        assertThatThrownBy(() -> Ops.embedding(table, Tensor.ofInts(new int[] {3}, 1)))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("id 3").hasMessageContaining("[0, 3)");

        Tensor x = Tensor.of(new float[] {1, 5, 5, 2, Float.NaN, 3}, 2, 3);
        assertThat(Ops.argmax(x, -1).toIntArray()).containsExactly(1, 1);
        assertThat(Ops.argmax(x, 0).toIntArray()).containsExactly(1, 1, 0);
        assertThat(Ops.sum(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3), 0, false).toFloatArray()).containsExactly(5, 7, 9);
        assertThat(Ops.mean(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3), 1, true).shape()).containsExactly(2, 1);
        assertThat(Ops.max(x, 1, false).toFloatArray()[1]).isNaN();
        Tensor cube = Tensor.randn(3, 2, 3, 4);
        Tensor s1 = Ops.sum(cube, 1, false);
        assertThat(s1.shape()).containsExactly(2, 4);
        assertThat(s1.get(1, 2)).isCloseTo(cube.get(1, 0, 2) + cube.get(1, 1, 2) + cube.get(1, 2, 2), within(1e-5f));
    }

    @Test
    void conversionsAndQuantization() {
        float[] v = {0, -0f, 1, -2.5f, 65504, 1e-8f, 0.1f, Float.POSITIVE_INFINITY, Float.NaN};
        Tensor x = Tensor.of(v, v.length);
        float[] f16 = x.to(DType.F16).toFloatArray();
        assertThat(f16[6]).isEqualTo(Float.float16ToFloat((short) 11878));
        assertThat(f16[4]).isEqualTo(65504);
        assertThat(f16[8]).isNaN();
        float[] bf = x.to(DType.BF16).toFloatArray();
        assertThat(bf[3]).isEqualTo(-2.5f);
        assertThat(bf[6]).isEqualTo(Float.intBitsToFloat(0x3dcd0000)); // 0.1 = 0x3dcccccd rounds up
        assertThat(bf[8]).isNaN();
        // Ties to even: 1 + 2^-8 lies halfway between two bf16 values and rounds to the even one (1).
        assertThat(FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(1 + 0x1p-8f))).isEqualTo(1f);
        assertThat(FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(1 + 3 * 0x1p-8f))).isEqualTo(1 + 0x1p-6f);

        float[] w = new float[64];
        for (int i = 0; i < 64; i++) w[i] = (i - 20) * 0.37f;
        w[63] = 0;
        Tensor q = Tensor.of(w, 2, 32).to(DType.Q8_0);
        assertThat(q.storage().byteSize()).isEqualTo(68);
        float[] back = q.toFloatArray();
        float d0 = FloatFormats.f16ToFloat(FloatFormats.floatToF16(20 * 0.37f / 127));
        for (int i = 0; i < 32; i++) assertThat(back[i]).isCloseTo(w[i], within(d0 * 0.5f + 1e-6f));
        assertThat(back[20]).isZero();
        assertThat(Ops.quantize(Tensor.zeros(DType.F32, 32)).toFloatArray()).containsOnly(0f);
        // Round half away from zero, like C's roundf.
        assertThat(FloatFormats.q8Quantize(0.49999997f, 1)).isEqualTo((byte) 0);
        assertThat(FloatFormats.q8Quantize(2.5f, 1)).isEqualTo((byte) 3);
        assertThat(FloatFormats.q8Quantize(-2.5f, 1)).isEqualTo((byte) -3);
        assertThat(FloatFormats.q8Quantize(-127.4f, 1)).isEqualTo((byte) -127);
        assertThatThrownBy(() -> Tensor.zeros(DType.F32, 3, 30).to(DType.Q8_0)).hasMessageContaining("multiple of 32");
        assertThatThrownBy(() -> Tensor.ofInts(new int[] {1}, 1).to(DType.F32)).hasMessageContaining("I32");
    }

    @Test
    void mixingAClosedScopeOrDevicesIsRefused() {
        assertThatThrownBy(() -> Ops.matmul(Tensor.zeros(DType.F32, 2, 2), Tensor.zeros(DType.I32, 2, 2)))
                .hasMessageContaining("I32");
    }
}
