package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TensorViewTest {
    private MemoryScope scope;

    @BeforeEach
    void open() {
        scope = MemoryScope.open("test");
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private static Tensor iota(int... shape) {
        float[] v = new float[(int) Shapes.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = i;
        return Tensor.of(v, shape);
    }

    @Test
    void transposeSharesStorageAndReadsTransposed() {
        Tensor a = iota(2, 3);
        Tensor t = a.t();
        assertThat(t.shape()).containsExactly(3, 2);
        assertThat(t.storage()).isSameAs(a.storage());
        assertThat(t.isContiguous()).isFalse();
        assertThat(t.toFloatArray()).containsExactly(0, 3, 1, 4, 2, 5);
        assertThat(t.contiguous().isContiguous()).isTrue();
        assertThat(t.contiguous().toFloatArray()).containsExactly(0, 3, 1, 4, 2, 5);
    }

    @Test
    void permuteNarrowSelectAndExpand() {
        Tensor a = iota(2, 3, 4);
        Tensor p = a.permute(2, 0, 1);
        assertThat(p.shape()).containsExactly(4, 2, 3);
        assertThat(p.get(3, 1, 2)).isEqualTo(a.get(1, 2, 3));
        Tensor n = a.narrow(2, 1, 2);
        assertThat(n.shape()).containsExactly(2, 3, 2);
        assertThat(n.toFloatArray()).containsExactly(1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22);
        assertThat(a.select(0, 1).toFloatArray()).hasSize(12).startsWith(12, 13);
        Tensor row = Tensor.of(new float[] {1, 2, 3}, 3);
        Tensor e = row.expand(2, 3);
        assertThat(e.strides()).containsExactly(0, 1);
        assertThat(e.toFloatArray()).containsExactly(1, 2, 3, 1, 2, 3);
        assertThat(row.unsqueeze(0).shape()).containsExactly(1, 3);
        assertThat(row.unsqueeze(1).shape()).containsExactly(3, 1);
        assertThat(a.slice(1, 1, 3).toFloatArray()).hasSize(16);
    }

    @Test
    void viewNeedsContiguousButReshapeCopies() {
        Tensor a = iota(4, 6);
        assertThat(a.view(3, -1).shape()).containsExactly(3, 8);
        assertThatThrownBy(() -> a.t().view(24)).isInstanceOf(IllegalStateException.class).hasMessageContaining("not contiguous");
        assertThat(a.t().reshape(24).toFloatArray()).startsWith(0, 6, 12, 18, 1);
        assertThatThrownBy(() -> a.view(5, 5)).hasMessageContaining("[4, 6]").hasMessageContaining("[5, 5]");
        assertThatThrownBy(() -> a.view(-1, -1)).hasMessageContaining("more than one -1");
    }

    @Test
    void outOfRangeSlicesNameTheRangeAndTheSize() {
        Tensor a = iota(4, 6);
        assertThatThrownBy(() -> a.narrow(1, 4, 3))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("[4, 7)").hasMessageContaining("size 6");
        assertThatThrownBy(() -> a.get(4, 0)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("[4, 6]");
        assertThatThrownBy(() -> a.transpose(0, 2)).hasMessageContaining("out of range for rank 2");
        assertThatThrownBy(() -> a.expand(3, 6)).hasMessageContaining("[4, 6]").hasMessageContaining("[3, 6]");
    }

    @Test
    void concatAndSplitRoundTrip() {
        Tensor a = iota(2, 3);
        Tensor b = Ops.scale(iota(2, 5), -1);
        Tensor c = Ops.concat(1, a, b);
        assertThat(c.shape()).containsExactly(2, 8);
        assertThat(c.toFloatArray()).containsExactly(0, 1, 2, -0f, -1, -2, -3, -4, 3, 4, 5, -5, -6, -7, -8, -9);
        Tensor[] parts = Ops.split(c, 1, 3, 5);
        assertThat(parts[0].toFloatArray()).containsExactly(a.toFloatArray());
        assertThat(parts[1].toFloatArray()).containsExactly(b.toFloatArray());
        assertThatThrownBy(() -> Ops.split(c, 1, 3, 4)).hasMessageContaining("add up to 7");
        assertThatThrownBy(() -> Ops.concat(0, a, b)).hasMessageContaining("[2, 3]").hasMessageContaining("[2, 5]").hasMessageContaining("dimension 1");
    }

    @Test
    void factories() {
        assertThat(Tensor.arange(5).toFloatArray()).containsExactly(0, 1, 2, 3, 4);
        assertThat(Tensor.arange(1, 2, 0.25f).toFloatArray()).containsExactly(1, 1.25f, 1.5f, 1.75f);
        assertThat(Tensor.ones(2, 2).toFloatArray()).containsExactly(1, 1, 1, 1);
        assertThat(Tensor.zeros(DType.F32, 3).toFloatArray()).containsExactly(0, 0, 0);
        assertThat(Tensor.randn(7, 100).toFloatArray()).isEqualTo(Tensor.randn(7, 100).toFloatArray());
        assertThat(Tensor.randn(7, 100).toFloatArray()).isNotEqualTo(Tensor.randn(8, 100).toFloatArray());
        float[] u = Tensor.rand(3, -2, 5, 1000).toFloatArray();
        for (float v : u) assertThat(v).isBetween(-2f, 5f);
        assertThatThrownBy(() -> Tensor.of(new float[5], 2, 3)).hasMessageContaining("length 5").hasMessageContaining("[2, 3]");
        assertThat(Tensor.ofInts(new int[] {4, 5}, 2).toIntArray()).containsExactly(4, 5);
    }

    @Test
    void storageIsAlignedTo64Bytes() {
        for (int n : new int[] {1, 3, 17, 1000}) {
            assertThat(Tensor.zeros(DType.F32, n).segment().address() % 64).isZero();
        }
    }
}
