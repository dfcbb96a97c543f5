package dev.corvus.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.Generator;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.Sampler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A KV cache budget smaller than the running generations want: the newest are pre-empted and
 * recomputed, every generation still produces exactly what the generator does alone, and the
 * caches never hold more than the budget.
 */
class EngineKvBudgetTest extends Stories15MTestBase {
    private static long bytesPerPosition() {
        try (LlamaModel.KvCache c = model.newCache(1, 1)) {
            return c.bytesPerPosition();
        }
    }

    private static int[] expected(int[] prompt, int maxTokens) {
        return new Generator(model, Sampler.greedy(), tok.endOfGenerationIds()).generate(prompt, maxTokens, t -> {}).tokens();
    }

    @Test
    void generationsPreemptedForTheBudgetStillProduceWhatTheGeneratorDoes() throws Exception {
        String[] prompts = {"Once upon a time", "The little dog", "Lily and Ben went to the park. They saw a big", "One day", "The sun"};
        int maxTokens = 70;
        long budget = 180 * bytesPerPosition(); // five generations want ~5 x 80 positions
        AtomicLong mostHeld = new AtomicLong();
        try (Engine e = Engine.start(model, tok, new EngineConfig(5, 8, 0, 16, Duration.ZERO).withKvCacheBudget(budget))) {
            List<Generation> handles = new ArrayList<>();
            for (String p : prompts) {
                handles.add(e.submit(new GenerationRequest(tok.encode(p, true, false), maxTokens, SamplingOptions.greedy()), new GenerationListener() {
                    @Override
                    public void onText(String text) {
                        mostHeld.accumulateAndGet(e.stats().kvCacheBytes(), Math::max);
                    }
                }));
            }
            for (int i = 0; i < prompts.length; i++) {
                Completion c = handles.get(i).result().get(120, TimeUnit.SECONDS);
                int[] want = expected(tok.encode(prompts[i], true, false), maxTokens);
                assertThat(c.tokens()).as("request " + i).containsExactly(want);
                assertThat(c.text()).as("request " + i).isEqualTo(tok.decode(want));
                assertThat(c.promptTokens()).isEqualTo(tok.encode(prompts[i], true, false).length);
            }
            EngineStats s = e.stats();
            assertThat(s.preemptions()).as("the budget forced pre-emptions").isPositive();
            assertThat(mostHeld.get()).as("bytes held while streaming").isPositive().isLessThanOrEqualTo(budget);
            assertThat(s.kvCacheBytes()).isZero();
            assertThat(s.queued()).isZero();
            int promptSum = 0;
            for (String p : prompts) promptSum += tok.encode(p, true, false).length;
            assertThat(s.promptTokens()).as("recomputed tokens are not prompt tokens").isEqualTo(promptSum);
        }
    }

    @Test
    void aGenerationAloneStopsWithLengthWhereTheBudgetEnds() throws Exception {
        int[] prompt = tok.encode("Once upon a time", true, false);
        int positions = 40;
        try (Engine e = Engine.start(model, tok, EngineConfig.defaults().withKvCacheBudget(positions * bytesPerPosition()))) {
            Completion c = e.submit(new GenerationRequest(prompt, 200, SamplingOptions.greedy()), new GenerationListener() {})
                    .result().get(60, TimeUnit.SECONDS);
            int[] want = expected(prompt, 200);
            if (want.length + prompt.length > positions) {
                assertThat(c.finishReason()).isEqualTo(FinishReason.LENGTH);
                assertThat(prompt.length + c.tokens().length).as("the last token sampled is never fed").isEqualTo(positions + 1);
            }
            assertThat(want).startsWith(c.tokens());
        }
    }

    @Test
    void aPromptLargerThanTheWholeBudgetIsRefusedAtOnce() {
        int[] prompt = tok.encode("Once upon a time there was a little girl named Lily", true, false);
        try (Engine e = Engine.start(model, tok, EngineConfig.defaults().withKvCacheBudget(4 * bytesPerPosition()))) {
            assertThatThrownBy(() -> e.submit(new GenerationRequest(prompt, 10, SamplingOptions.greedy()), new GenerationListener() {}))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("KV cache budget")
                    .hasMessageContaining(prompt.length + " tokens");
        }
        assertThatThrownBy(() -> EngineConfig.defaults().withKvCacheBudget(-1)).hasMessageContaining("kvCacheBudget");
    }
}
