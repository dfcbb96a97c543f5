package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.MemoryScope;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    private static final LlamaConfig CONFIG = TinyLlama.config(4, 2);

    /** Greedy tokens by hand: the whole sequence so far through the naive reference each step. */
    private static int[] naiveGreedy(LlamaWeights w, int[] prompt, int steps) {
        int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + steps);
        for (int i = prompt.length; i < seq.length; i++) {
            float[][] logits = TinyLlama.naiveLogits(CONFIG, w, java.util.Arrays.copyOf(seq, i));
            seq[i] = Sampler.argmax(logits[i - 1]);
        }
        return java.util.Arrays.copyOfRange(seq, prompt.length, seq.length);
    }

    @Test
    void greedyGenerationStreamsTheReferenceTokens() {
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaWeights w = TinyLlama.randomWeights(weights, CONFIG, 21);
            int[] prompt = {1, 30, 12};
            List<Integer> streamed = new ArrayList<>();
            Generator.Result r = new Generator(new LlamaModel(CONFIG, w), Sampler.greedy()).generate(prompt, 10, streamed::add);
            assertThat(r.tokens()).isEqualTo(naiveGreedy(w, prompt, 10));
            assertThat(streamed).containsExactly(java.util.Arrays.stream(r.tokens()).boxed().toArray(Integer[]::new));
            assertThat(r.stats().stop()).isEqualTo(Generator.Stop.STEPS);
            assertThat(r.stats().promptTokens()).isEqualTo(3);
            assertThat(r.stats().generatedTokens()).isEqualTo(10);
            assertThat(r.stats().prefillTokensPerSecond()).isPositive();
            assertThat(r.stats().decodeTokensPerSecond()).isPositive();
        }
    }

    @Test
    void stopsAtAStopTokenAndAtTheEndOfTheContext() {
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaWeights w = TinyLlama.randomWeights(weights, CONFIG, 21);
            LlamaModel model = new LlamaModel(CONFIG, w);
            int[] prompt = {1, 30, 12};
            int[] free = new Generator(model, Sampler.greedy()).generate(prompt, 10, t -> {}).tokens();
            Generator.Result stopped = new Generator(model, Sampler.greedy(), free[4]).generate(prompt, 10, t -> {});
            int firstStop = 0;
            while (free[firstStop] != free[4]) firstStop++;
            assertThat(stopped.tokens()).isEqualTo(java.util.Arrays.copyOf(free, firstStop));
            assertThat(stopped.stats().stop()).isEqualTo(Generator.Stop.STOP_TOKEN);

            Generator.Result full = new Generator(model, Sampler.of(1f, 0.9f, 5)).generate(prompt, 1000, t -> {});
            assertThat(full.tokens()).hasSize(CONFIG.seqLen() - prompt.length + 1); // the last one needs no cache slot
            assertThat(full.stats().stop()).isEqualTo(Generator.Stop.CONTEXT_FULL);
        }
    }
}
