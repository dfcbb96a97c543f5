package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

/** The cache-free training forward is the inference pass: its hidden states through the classifier give forwardAll's logits. */
class TrainingForwardTest {
    @Test
    void hiddenStatesTimesTheClassifierAreForwardAllsLogits() {
        for (int[] heads : new int[][] {{4, 4}, {4, 2}}) {
            LlamaConfig c = TinyLlama.config(heads[0], heads[1]);
            try (MemoryScope scope = MemoryScope.open()) {
                LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(scope, c, 7));
                int[] tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9};
                float[] expected;
                try (LlamaModel.KvCache cache = model.newCache()) {
                    expected = model.forwardAll(tokens, 0, cache).toFloatArray();
                }
                Tensor hidden = model.trainingForward(tokens);
                float[] actual = Ops.linear(hidden, model.weights().classifier(), null).toFloatArray();
                Close.assertAllClose("training forward, heads " + heads[0] + "/" + heads[1], expected, actual, 1e-4, 1e-4);
            }
        }
    }

    @Test
    void refusesWhatItsLossCannotApply() {
        try (MemoryScope scope = MemoryScope.open()) {
            LlamaConfig c = TinyLlama.config(4, 4);
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(scope, c, 7));
            assertThatThrownBy(() -> model.trainingForward(new int[] {0, 99})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("99");
            assertThatThrownBy(() -> model.forwardBatch(java.util.List.of(new LlamaModel.SequenceStep(new int[] {1}, 0, null))))
                    .isInstanceOf(NullPointerException.class).hasMessageContaining("no KV cache");
        }
    }
}
