package dev.corvus.model.gguf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Every GGML type Corvus maps to a dtype must have that dtype's block layout, and back. */
class GgmlTypeMappingTest {
    @Test
    void mappedTypesShareTheirDtypesBlockLayout() {
        for (GgmlType g : GgmlType.values()) {
            DType d = g.dtype();
            if (d == null) continue;
            assertThat(new int[] {d.blockSize(), d.blockBytes()}).as(g.name()).containsExactly(g.blockSize(), g.blockBytes());
            assertThat(d.name()).isEqualTo(g.name());
            assertThat(GgmlType.of(d)).isSameAs(g);
        }
        // Every Corvus dtype has a GGUF type: a model can be described whatever it computes on.
        assertThat(Arrays.stream(DType.values()).map(GgmlType::of)).doesNotContainNull();
        assertThat(GgmlType.Q4_K.dtype()).isEqualTo(DType.Q4_K);
        assertThat(GgmlType.IQ4_XS.dtype()).isNull();
    }
}
