package dev.corvus.chunking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A custom op's result is checked against what was traced, instead of failing later (a null was an NPE in the executor). */
class CustomOpResultTest {
    private MemoryScope scope;

    @BeforeEach
    void open() {
        scope = MemoryScope.open("test");
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private static Execution run(Function<Tensor[], Tensor> fn) {
        Tracer t = new Tracer();
        Node x = t.input("x", 6, 4);
        Graph g = t.build(t.exp(t.custom("myOp", fn, new int[] {6, 4}, t.silu(x))));
        return AutoChunk.unchunked(g).run(Tensor.randn(3, 6, 4));
    }

    @Test
    void aNullResultNamesTheOpAndWhatItShouldHaveReturned() {
        assertThatThrownBy(() -> run(in -> null)).isInstanceOf(IllegalStateException.class)
                .hasMessage("custom op 'myOp' returned null; it must return a F32 [6, 4] tensor");
    }

    @Test
    void aResultOfAnotherShapeOrDtypeIsNamed() {
        assertThatThrownBy(() -> run(in -> in[0].reshape(4, 6))).isInstanceOf(IllegalStateException.class)
                .hasMessage("custom op 'myOp' returned F32 [4, 6], but it was traced as F32 [6, 4]");
        assertThatThrownBy(() -> run(in -> Tensor.zeros(DType.BF16, 6, 4))).isInstanceOf(IllegalStateException.class)
                .hasMessage("custom op 'myOp' returned BF16 [6, 4], but it was traced as F32 [6, 4]");
    }

    @Test
    void aResultAsTracedRuns() {
        try (Execution r = run(in -> Ops.relu(in[0]))) {
            assertThat(r.output(0).shape()).containsExactly(6, 4);
        }
    }
}
