package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** NaN and infinite logits are refused by name, by every sampler, and by the generator with the position. */
class NonFiniteLogitsTest {
    private static final Sampler[] SAMPLERS = {Sampler.greedy(), Sampler.of(1f, 0.9f, 3), Sampler.of(0.7f, 1f, 3)};

    private static float[] logits(int n, int at, float value) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) Math.sin(i);
        if (at >= 0) x[at] = value;
        return x;
    }

    @Test
    void oneNaNOrPlusInfinityAnywhereIsRefusedByEverySampler() {
        for (int n : new int[] {1, 7, 13, 1031}) {
            for (int at : new int[] {0, n / 2, n - 1}) {
                for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
                    float[] x = logits(n, at, bad);
                    for (Sampler s : SAMPLERS) {
                        String what = Float.isNaN(bad) ? "1 NaN" : "1 +infinity";
                        assertThatThrownBy(() -> s.sample(x)).as("%s, n=%d, at %d", s, n, at)
                                .isInstanceOf(Sampler.NonFiniteLogitsException.class)
                                .hasMessageContaining(what + " of " + n).hasMessageContaining("the first at token " + at);
                        try (MemoryScope scope = MemoryScope.open("t")) {
                            Tensor t = Tensor.of(scope, x, n);
                            assertThatThrownBy(() -> s.sample(t)).as("%s on a tensor, n=%d, at %d", s, n, at)
                                    .isInstanceOf(Sampler.NonFiniteLogitsException.class).hasMessageContaining(what + " of " + n);
                        }
                    }
                }
            }
        }
    }

    @Test
    void allMinusInfinityIsRefusedButMinusInfinityBesideFiniteValuesMasksATokens() {
        float[] all = new float[9];
        Arrays.fill(all, Float.NEGATIVE_INFINITY);
        for (Sampler s : SAMPLERS) {
            assertThatThrownBy(() -> s.sample(all)).isInstanceOf(Sampler.NonFiniteLogitsException.class).hasMessageContaining("all -infinity of 9");
        }
        float[] masked = all.clone();
        masked[4] = 0.5f;
        for (Sampler s : SAMPLERS) {
            assertThat(s.sample(masked)).as(s.toString()).isEqualTo(4);
            try (MemoryScope scope = MemoryScope.open("t")) {
                assertThat(s.sample(Tensor.of(scope, masked, 9))).as(s + " on a tensor").isEqualTo(4);
            }
        }
    }

    @Test
    void theGeneratorStopsAtTheFirstNaNLogitsAndNamesThePosition() {
        LlamaConfig c = TinyLlama.config(4, 2);
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaWeights w = TinyLlama.randomWeights(weights, c, 21);
            float[] nan = new float[c.dim()];
            Arrays.fill(nan, Float.NaN);
            // a damaged final norm: every logit NaN, which greedy used to turn into token 0 forever
            LlamaWeights broken = new LlamaWeights(w.tokenEmbedding(), w.layers(), Tensor.of(weights, nan, c.dim()), w.classifier());
            for (Sampler s : SAMPLERS) {
                List<Integer> streamed = new ArrayList<>();
                Generator g = new Generator(new LlamaModel(c, broken), s);
                assertThatThrownBy(() -> g.generate(new int[] {1, 30, 12}, 10, streamed::add)).as(s.toString())
                        .isInstanceOf(Sampler.NonFiniteLogitsException.class)
                        .hasMessageContaining("generate: at position 2 (3 prompt tokens, 0 generated)")
                        .hasMessageContaining("NaN of " + c.vocabSize());
                assertThat(streamed).as("tokens passed on before the NaN").isEmpty();
            }
        }
    }
}
