package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.testing.QuantFixtures;
import dev.corvus.tensor.testing.QuantFixtures.Fixture;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reference dequantiser against gguf-py's quants.py (fixtures from scripts/quant-fixtures.py),
 * and the scalar backend's ops on quantised operands against the same ops on their F32 copies.
 */
class QuantsTest {
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemoryScope scope;

    @BeforeEach
    void open() {
        scope = MemoryScope.open("quants");
    }

    @AfterEach
    void close() {
        scope.close();
    }

    static Stream<DType> quantTypes() {
        return QuantFixtures.quantTypes();
    }

    static void assertSameBits(String what, float[] expected, float[] actual) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + ": element " + i + " is " + actual[i] + ", gguf-py gives " + expected[i]);
            }
        }
    }

    @Test
    void blockLayoutsAreGgufs() {
        int[][] expected = {{18, 32}, {20, 32}, {22, 32}, {24, 32}, {34, 32}, {84, 256}, {110, 256}, {144, 256}, {176, 256}, {210, 256}};
        DType[] types = {DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q8_0, DType.Q2_K, DType.Q3_K, DType.Q4_K, DType.Q5_K, DType.Q6_K};
        for (int i = 0; i < types.length; i++) {
            assertThat(types[i].isQuantized()).isTrue();
            assertThat(new int[] {types[i].blockBytes(), types[i].blockSize()}).as(types[i].name()).containsExactly(expected[i]);
        }
        assertThat(quantTypes()).containsExactlyInAnyOrder(types);
    }

    @ParameterizedTest
    @MethodSource("quantTypes")
    void dequantisesLikeGgufPyBitForBit(DType t) {
        Fixture f = QuantFixtures.load(t);
        float[] actual = new float[f.expected().length];
        Quants.dequantize(t, f.bytes(), 0, f.blocks(), actual, 0);
        assertSameBits(t + " Quants.dequantize", f.expected(), actual);

        // The same through tensors: whole-tensor conversion and element reads.
        Tensor wrapped = Tensor.wrap(Storage.wrap(f.bytes(), scope), t, 0, f.blocks(), t.blockSize());
        assertSameBits(t + " toFloatArray", f.expected(), wrapped.toFloatArray());
        for (int b = 0; b < f.blocks(); b += 3) {
            for (int i : new int[] {0, 15, 16, 17, t.blockSize() - 1}) {
                assertThat(wrapped.get(b, i)).isEqualTo(f.expected()[b * t.blockSize() + i]);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("quantTypes")
    void scalarOpsOnQuantisedWeightsEqualTheirF32Copies(DType t) {
        int n = 13, k = 3 * t.blockSize();
        Tensor w = QuantFixtures.randomWeights(t, t.ordinal(), n, k);
        Tensor wf = Ops.dequantize(w);
        Tensor x = Tensor.randn(7, 3, k);
        // Both read the same floats and sum them in the same order: equal, not just close.
        assertThat(Ops.linear(x, w, null).toFloatArray()).containsExactly(Ops.linear(x, wf, null).toFloatArray());
        Tensor ids = Tensor.ofInts(new int[] {12, 0, 5, 5}, 2, 2);
        assertThat(Ops.embedding(w, ids).toFloatArray()).containsExactly(Ops.embedding(wf, ids).toFloatArray());
        // Other float targets go through F32.
        assertThat(w.to(DType.F16).toFloatArray()).containsExactly(wf.to(DType.F16).toFloatArray());
        // Row slices stay quantised views.
        assertThat(w.narrow(0, 4, 3).toFloatArray()).containsExactly(wf.narrow(0, 4, 3).toFloatArray());
    }

    @ParameterizedTest
    @MethodSource("quantTypes")
    void findsTheFirstBlockWithANonFiniteScale(DType t) {
        Tensor w = QuantFixtures.randomWeights(t, 3, 4, 2 * t.blockSize());
        MemorySegment seg = w.segment();
        long blocks = t.byteSize(w.numel()) / t.blockBytes();
        assertThat(Quants.findNonFiniteScale(t, seg, 0, blocks)).isEqualTo(-1);
        int[] scales = Quants.scaleOffsets(t);
        int last = scales[scales.length - 1];
        seg.set(HALF, 6L * t.blockBytes() + last, Float.floatToFloat16(Float.NaN));
        seg.set(HALF, 5L * t.blockBytes() + scales[0], Float.floatToFloat16(Float.NEGATIVE_INFINITY));
        assertThat(Quants.findNonFiniteScale(t, seg, 0, blocks)).isEqualTo(5);
        assertThat(Quants.findNonFiniteScale(t, seg, 6L * t.blockBytes(), 2)).isZero();
        assertThat(Quants.findNonFiniteScale(t, seg, 0, 5)).isEqualTo(-1);
        assertThatThrownBy(() -> Quants.findNonFiniteScale(t, seg, t.blockBytes(), blocks))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(t.name()).hasMessageContaining("do not fit");
    }

    @Test
    void refusesToQuantiseWithoutAQuantiserAndNamesTheWayOut() {
        Tensor x = Tensor.randn(1, 2, 256);
        for (DType t : quantTypes().filter(t -> t != DType.Q8_0).toList()) {
            assertThatThrownBy(() -> x.to(t)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("F32 to " + t).hasMessageContaining("llama-quantize");
            assertThatThrownBy(() -> Ops.copyInto(x, Tensor.zeros(t, 2, 256))).hasMessageContaining("llama-quantize");
            assertThatThrownBy(() -> Ops.convert(Tensor.zeros(DType.Q8_0, 2, 256), t)).hasMessageContaining("llama-quantize");
        }
        assertThatThrownBy(() -> Tensor.zeros(DType.Q4_K, 2, 32)).hasMessageContaining("multiple of 256");
        assertThatThrownBy(() -> Quants.scaleOffsets(DType.BF16)).hasMessageContaining("not a quantised type");
        // Quantised to quantised re-blocks through F32 only towards Q8_0.
        Tensor q4 = QuantFixtures.randomWeights(DType.Q4_0, 9, 2, 64);
        assertThat(q4.to(DType.Q8_0).toFloatArray()).containsExactly(Ops.dequantize(q4).to(DType.Q8_0).toFloatArray());
    }
}
