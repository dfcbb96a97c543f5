package dev.corvus.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.Generator;
import dev.corvus.model.Sampler;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The engine on the real stories15M: what it streams is what the library's own loop generates. */
class EngineTest extends Stories15MTestBase {
    @Test
    void greedyTextEqualsTheGenerator() throws Exception {
        int[] prompt = tok.encode("Once upon a time", true, false);
        int[] expected = new Generator(model, Sampler.greedy(), tok.endOfGenerationIds()).generate(prompt, 40, t -> {}).tokens();
        StringBuilder streamed = new StringBuilder();
        try (Engine e = Engine.start(model, tok, EngineConfig.defaults())) {
            Completion c = e.submit(new GenerationRequest(prompt, 40, SamplingOptions.greedy()), new GenerationListener() {
                @Override
                public void onText(String text) {
                    streamed.append(text);
                }
            }).result().get(60, TimeUnit.SECONDS);
            assertThat(c.tokens()).containsExactly(expected);
            assertThat(c.text()).isEqualTo(streamed.toString());
            assertThat(c.promptTokens()).isEqualTo(prompt.length);
            assertThat(c.finishReason()).isEqualTo(expected.length == 40 ? FinishReason.LENGTH : FinishReason.STOP);
            assertThat(e.stats().kvCacheBytes()).isZero();
        }
    }

    @Test
    void aStopStringEndsTheTextBeforeIt() throws Exception {
        int[] prompt = tok.encode("Once upon a time", true, false);
        try (Engine e = Engine.start(model, tok, EngineConfig.defaults())) {
            String full = e.submit(new GenerationRequest(prompt, 40, SamplingOptions.greedy()), new GenerationListener() {}).result()
                    .get(60, TimeUnit.SECONDS).text();
            String stop = full.substring(20, 24);
            Completion c = e.submit(new GenerationRequest(prompt, 40, SamplingOptions.greedy(), List.of(stop), Duration.ZERO),
                    new GenerationListener() {}).result().get(60, TimeUnit.SECONDS);
            assertThat(c.finishReason()).isEqualTo(FinishReason.STOP);
            assertThat(c.text()).isEqualTo(full.substring(0, full.indexOf(stop)));
        }
    }

    @Test
    void promptsThatDoNotFitAreRefusedByName() {
        try (Engine e = Engine.start(model, tok, new EngineConfig(1, 1, 16, 256, Duration.ZERO))) {
            assertThatThrownBy(() -> e.submit(new GenerationRequest(new int[16], 4, SamplingOptions.greedy()), new GenerationListener() {}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16 tokens").hasMessageContaining("context holds 16");
            assertThatThrownBy(() -> e.submit(new GenerationRequest(new int[] {1, 99999}, 4, SamplingOptions.greedy()), new GenerationListener() {}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("prompt token 1 is 99999");
        }
    }

    @Test
    void warmUpRunsThrowawayGenerationsAndLeavesNothingBehind() throws Exception {
        int[] prompt = tok.encode("Once upon a time", true, false);
        int[] expected = new Generator(model, Sampler.greedy(), tok.endOfGenerationIds()).generate(prompt, 20, t -> {}).tokens();
        // a 24-position context fits only the 1- and 5-token warm-up prompts with their 16 tokens: 1 + 1 alone, then 2 together
        try (Engine e = Engine.start(model, tok, new EngineConfig(2, 4, 24, 256, Duration.ZERO))) {
            assertThat(e.warmUp(Duration.ZERO)).isEqualTo(4);
            EngineStats s = e.stats();
            assertThat(List.of(s.submitted(), s.generatedTokens(), s.promptTokens(), s.decodeSteps(), s.finishedLength() + s.finishedStop()))
                    .containsOnly(0L);
            assertThat(s.kvCacheBytes()).isZero();
            Completion c = e.submit(new GenerationRequest(prompt, 20, SamplingOptions.greedy()), new GenerationListener() {}).result()
                    .get(60, TimeUnit.SECONDS);
            assertThat(c.tokens()).containsExactly(expected);
            assertThat(e.stats().submitted()).isEqualTo(1);
        }
    }
}
