package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Inputs at the edges that used to give silent garbage or say nothing useful (issue 15): copies
 * whose source and destination overlap, zero-size matmuls and reductions (answered as PyTorch
 * does), and norm and rope parameters that can only produce NaN. Runs on whichever backend is
 * selected; vector-backend runs it again on the vector kernels.
 */
public class OpsEdgeCasesTest {
    private MemoryScope scope;

    @BeforeEach
    void open() {
        scope = MemoryScope.open("test");
    }

    @AfterEach
    void close() {
        scope.close();
    }

    static Stream<Arguments> sizesAndDtypes() {
        List<Arguments> all = new ArrayList<>();
        for (int n : new int[] {1, 2, 7, 13, 33}) {
            for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16, DType.I32}) all.add(Arguments.of(n, dt));
        }
        return all.stream();
    }

    /** Distinct values that every dtype here holds exactly (small integers). */
    private static Tensor distinct(DType dt, int... shape) {
        int n = (int) Shapes.numel(shape);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i % 200 - 100;
        Tensor f = Tensor.of(v, shape);
        if (dt == DType.I32) {
            int[] iv = new int[n];
            for (int i = 0; i < n; i++) iv[i] = (int) v[i];
            return Tensor.ofInts(iv, shape);
        }
        return dt == DType.F32 ? f : f.to(dt);
    }

    private static float[] values(Tensor t) {
        if (t.dtype() != DType.I32) return t.toFloatArray();
        int[] iv = t.toIntArray();
        float[] f = new float[iv.length];
        for (int i = 0; i < iv.length; i++) f[i] = iv[i];
        return f;
    }

    @ParameterizedTest(name = "n = {0}, {1}")
    @MethodSource("sizesAndDtypes")
    void copyIntoItsOwnTransposeReadsTheSourceWholeFirst(int n, DType dt) {
        Tensor m = distinct(dt, n, n);
        float[] want = values(Ops.copy(m.t()));
        Ops.copyInto(m.t(), m);
        assertThat(values(m)).containsExactly(want);
    }

    @ParameterizedTest(name = "n = {0}, {1}")
    @MethodSource("sizesAndDtypes")
    void copyIntoOverlappingSlicesOfOneTensorInEitherDirection(int n, DType dt) {
        for (int shift : new int[] {1, -1}) {
            Tensor x = distinct(dt, n + 1, 5);
            Tensor src = x.narrow(0, shift > 0 ? 0 : 1, n), dst = x.narrow(0, shift > 0 ? 1 : 0, n);
            float[] want = values(Ops.copy(src));
            Ops.copyInto(src, dst);
            assertThat(values(Ops.copy(dst))).as("shift %d", shift).containsExactly(want);
        }
    }

    @Test
    void copyIntoThroughTwoStoragesOfTheSameMemory() {
        Tensor m = distinct(DType.F32, 13, 13);
        Tensor alias = Tensor.wrap(Storage.wrap(m.segment(), scope), DType.F32, m.byteOffset(), 13, 13);
        float[] want = values(Ops.copy(m.t()));
        Ops.copyInto(alias.t(), m);
        assertThat(values(m)).containsExactly(want);
    }

    @Test
    void copyIntoOfTheSameViewIsANoOpAndDisjointColumnsCopyDirectly() {
        Tensor m = distinct(DType.F32, 7, 2);
        float[] before = m.toFloatArray();
        Ops.copyInto(m, m);
        assertThat(m.toFloatArray()).containsExactly(before);
        Ops.copyInto(m.narrow(1, 0, 1), m.narrow(1, 1, 1));
        for (int r = 0; r < 7; r++) {
            assertThat(m.get(r, 0)).isEqualTo(before[2 * r]);
            assertThat(m.get(r, 1)).isEqualTo(before[2 * r]);
        }
    }

    @Test
    void copyIntoConvertsWhileOverlapping() {
        // An F16 view over the bytes of an F32 tensor: every write overlaps what is still to be read.
        Tensor f = distinct(DType.F32, 4, 8);
        Tensor half = Tensor.wrap(f.storage(), DType.F16, f.byteOffset(), 4, 8);
        float[] want = values(f);
        Ops.copyInto(f, half);
        assertThat(values(half)).containsExactly(want);
    }

    @Test
    void copyIntoAnExpandedViewIsRefused() {
        Tensor row = Tensor.zeros(DType.F32, 1, 4);
        assertThatThrownBy(() -> Ops.copyInto(Tensor.ones(3, 4), row.expand(3, 4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("copyInto: destination [3, 4] with strides [0, 1] repeats memory along dim 0");
    }

    @Test
    void zeroSizeMatmulsGivePyTorchsShapes() {
        assertThat(Ops.matmul(Tensor.zeros(DType.F32, 0, 3), Tensor.ones(3, 4)).shape()).containsExactly(0, 4);
        assertThat(Ops.matmul(Tensor.ones(2, 3), Tensor.zeros(DType.F32, 3, 0)).shape()).containsExactly(2, 0);
        assertThat(Ops.matmul(Tensor.zeros(DType.F32, 0, 2, 3), Tensor.ones(3, 4)).shape()).containsExactly(0, 2, 4);
        assertThat(Ops.matmul(Tensor.ones(2, 0, 3), Tensor.ones(1, 3, 4)).shape()).containsExactly(2, 0, 4);
        Tensor k0 = Ops.matmul(Tensor.zeros(DType.F32, 2, 0), Tensor.zeros(DType.F32, 0, 4));
        assertThat(k0.shape()).containsExactly(2, 4);
        assertThat(k0.toFloatArray()).containsOnly(0);
        // The weight path, as a model with zero rows in its batch or an empty projection hits it.
        assertThat(Ops.linear(Tensor.zeros(DType.F32, 0, 3), Tensor.ones(4, 3).to(DType.F16), null).shape()).containsExactly(0, 4);
        assertThat(Ops.linear(Tensor.ones(2, 3), Tensor.zeros(DType.F32, 0, 3), null).shape()).containsExactly(2, 0);
    }

    @Test
    void reductionsOverAnEmptyDimAnswerAsPyTorchDoes() {
        Tensor empty = Tensor.zeros(DType.F32, 2, 0);
        assertThat(Ops.sum(empty, 1, false).shape()).containsExactly(2);
        assertThat(Ops.sum(empty, 1, false).toFloatArray()).containsExactly(0, 0);
        assertThat(Ops.sum(empty, 1, true).shape()).containsExactly(2, 1);
        assertThat(Ops.sum(Tensor.zeros(DType.F32, 0, 3), 0, false).toFloatArray()).containsExactly(0, 0, 0);
        assertThat(Ops.sum(Tensor.zeros(DType.F32, 0), 0, false).item()).isZero();
        assertThat(Ops.mean(empty, -1, false).toFloatArray()).containsExactly(Float.NaN, Float.NaN);
        // Reducing a non-empty dim of an empty tensor gives an empty result, for max too.
        assertThat(Ops.max(Tensor.zeros(DType.F32, 0, 3), 1, false).shape()).containsExactly(0);
        assertThat(Ops.mean(Tensor.zeros(DType.BF16, 0, 3), 1, true).shape()).containsExactly(0, 1);
        assertThatThrownBy(() -> Ops.max(empty, 1, false)).hasMessage("max: dimension 1 of [2, 0] is empty");
        assertThatThrownBy(() -> Ops.sum(Tensor.ofInts(new int[0], 0), 0, false)).hasMessageContaining("expected a floating-point tensor, got I32");
    }

    @Test
    void normsRefuseAnEpsThatCanOnlyGiveNaN() {
        Tensor x = Tensor.ones(2, 4);
        for (float eps : new float[] {-1e-5f, Float.NaN, Float.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> Ops.rmsnorm(x, null, eps)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("rmsnorm: eps " + eps + " must be a finite number >= 0");
            assertThatThrownBy(() -> Ops.layernorm(x, null, null, eps)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("layernorm: eps " + eps + " must be a finite number >= 0");
        }
        assertThat(Ops.rmsnorm(x, null, 0).toFloatArray()).containsOnly(1);
    }

    @Test
    void ropeRefusesNonFiniteThetaFrequenciesAndMagnitude() {
        Tensor x = Tensor.ones(3, 4);
        assertThatThrownBy(() -> Ops.rope(x, 0, 0, Double.NaN, RopeStyle.values()[0])).hasMessageContaining("rope: theta NaN");
        assertThatThrownBy(() -> Ops.rope(x, 0, 0, new double[] {1, Double.NaN}, 1, RopeStyle.values()[0]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("rope: frequency 1 of 2 is NaN");
        assertThatThrownBy(() -> Ops.rope(x, 0, 0, new double[] {Double.POSITIVE_INFINITY, 1}, 1, RopeStyle.values()[0]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("rope: frequency 0 of 2 is Infinity");
        assertThatThrownBy(() -> Ops.rope(x, 0, 0, new double[] {1, 0.1}, Double.NaN, RopeStyle.values()[0]))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("rope: magnitude NaN must be a finite number");
    }

    @Test
    void inferringMinusOneAmongZeroSizesSaysWhy() {
        assertThatThrownBy(() -> Tensor.zeros(DType.F32, 0, 4).view(-1, 0, 4))
                .hasMessage("view: cannot infer -1 in [-1, 0, 4] for [0, 4]: the other sizes multiply to 0, so any size would fit; give it explicitly");
    }
}
