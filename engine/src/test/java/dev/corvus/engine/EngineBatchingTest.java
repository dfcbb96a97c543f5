package dev.corvus.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.Generator;
import dev.corvus.model.Sampler;
import dev.corvus.tensor.MemoryStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching on the real stories15M: many generations share each forward pass, and each
 * still produces exactly what the single-request {@link Generator} produces; cancellation, time
 * limits, a full queue, a long prompt and a throwing listener touch only their own generation.
 */
class EngineBatchingTest extends Stories15MTestBase {
    static final String[] PROMPTS = {"Once upon a time", "The little dog", "Lily and Ben went to the park. They saw a big", "One day",
        "Tom had a red ball. He liked to throw it high in the sky, and his friend", "The sun", "A cat sat on the mat and"};

    /** Records what one generation streams; may sleep per piece, throw at a piece, and count down a latch. */
    static class Recorder implements GenerationListener {
        final StringBuilder text = new StringBuilder();
        final AtomicInteger pieces = new AtomicInteger();
        final CountDownLatch started;
        final long sleepMillis;
        final int throwAt;
        volatile Completion completion;

        Recorder() {
            this(0, 0, 0);
        }

        Recorder(int latchPieces, long sleepMillis, int throwAt) {
            this.started = new CountDownLatch(latchPieces);
            this.sleepMillis = sleepMillis;
            this.throwAt = throwAt;
        }

        @Override
        public void onText(String piece) {
            text.append(piece);
            int n = pieces.incrementAndGet();
            started.countDown();
            if (n == throwAt) throw new IllegalStateException("this listener fails at piece " + n);
            if (sleepMillis > 0) {
                try {
                    Thread.sleep(sleepMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public void onComplete(Completion c) {
            completion = c;
        }
    }

    private static int[] prompt(String text) {
        return tok.encode(text, true, false);
    }

    private static int[] generated(Sampler sampler, int[] prompt, int maxTokens) {
        return new Generator(model, sampler, tok.endOfGenerationIds()).generate(prompt, maxTokens, t -> {}).tokens();
    }

    private static Completion await(Generation g) throws Exception {
        return g.result().get(60, TimeUnit.SECONDS);
    }

    /** The finish reason a generation that equals the generator's {@code expected} output must report. */
    private static FinishReason reasonFor(int[] expected, int maxTokens) {
        return expected.length == maxTokens ? FinishReason.LENGTH : FinishReason.STOP;
    }

    @Test
    void concurrentGreedyRequestsEachProduceWhatTheGeneratorDoes() throws Exception {
        int[] maxTokens = {30, 1, 45, 12, 60, 0, 25};
        int[] maxBatchSeen = new int[1];
        try (Engine e = Engine.start(model, tok, new EngineConfig(4, 8, 0, 7, Duration.ZERO))) {
            List<Generation> handles = new ArrayList<>();
            List<Recorder> recorders = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                Recorder r = new Recorder() {
                    @Override
                    public void onText(String piece) {
                        super.onText(piece);
                        maxBatchSeen[0] = Math.max(maxBatchSeen[0], e.stats().lastBatchSize());
                    }
                };
                recorders.add(r);
                handles.add(e.submit(new GenerationRequest(prompt(PROMPTS[i]), maxTokens[i], SamplingOptions.greedy()), r));
            }
            for (int i = 0; i < PROMPTS.length; i++) {
                Completion c = await(handles.get(i));
                int[] expected = generated(Sampler.greedy(), prompt(PROMPTS[i]), maxTokens[i]);
                assertThat(c.tokens()).as("request " + i).containsExactly(expected);
                assertThat(c.finishReason()).as("request " + i).isEqualTo(reasonFor(expected, maxTokens[i]));
                assertThat(c.text()).as("request " + i).isEqualTo(recorders.get(i).text.toString()).isEqualTo(tok.decode(expected));
                assertThat(c.promptTokens()).isEqualTo(prompt(PROMPTS[i]).length);
            }
            assertThat(maxBatchSeen[0]).as("generations shared a forward pass").isEqualTo(4);
            EngineStats s = e.stats();
            assertThat(s.finished()).isEqualTo(PROMPTS.length);
            assertThat(s.active()).isZero();
            assertThat(s.queued()).isZero();
            assertThat(s.kvCacheBytes()).isZero();
            int promptSum = 0, generatedSum = 0;
            for (int i = 0; i < PROMPTS.length; i++) {
                if (maxTokens[i] > 0) promptSum += prompt(PROMPTS[i]).length;
                generatedSum += handles.get(i).result().get().completionTokens();
            }
            assertThat(s.promptTokens()).isEqualTo(promptSum);
            assertThat(s.generatedTokens()).isEqualTo(generatedSum);
            assertThat(s.timeToFirstTokenNanosSum()).isPositive();
        }
    }

    @Test
    void seededSamplingReproducesTheSamplerOfTheSameSettings() throws Exception {
        SamplingOptions options = new SamplingOptions(0.9f, 0.95f, 40, 0.05f, 1234);
        int[] prompt = prompt("Once upon a time");
        int[] expected = generated(Sampler.of(0.9f, 0.95f, 40, 0.05f, 1234), prompt, 40);
        assertThat(expected).isNotEqualTo(generated(Sampler.greedy(), prompt, 40));
        try (Engine e = Engine.start(model, tok, new EngineConfig(4, 8, 0, 16, Duration.ZERO))) {
            Generation other = e.submit(new GenerationRequest(prompt("The little dog"), 50, SamplingOptions.greedy()), new Recorder());
            Generation sampled = e.submit(new GenerationRequest(prompt, 40, options), new Recorder());
            Generation third = e.submit(new GenerationRequest(prompt("One day"), 30, new SamplingOptions(1f, 1f, 0, 0f, 7)), new Recorder());
            assertThat(await(sampled).tokens()).as("beside other streams").containsExactly(expected);
            await(other);
            await(third);
            assertThat(await(e.submit(new GenerationRequest(prompt, 40, options), new Recorder())).tokens()).as("alone").containsExactly(expected);
        }
    }

    @Test
    void cancellingMidStreamEndsItAndFreesItsCache() throws Exception {
        try (Engine e = Engine.start(model, tok, EngineConfig.defaults())) {
            long[] kvWhileRunning = {Long.MAX_VALUE};
            Recorder r = new Recorder(5, 0, 0) {
                @Override
                public void onText(String piece) {
                    kvWhileRunning[0] = Math.min(kvWhileRunning[0], e.stats().kvCacheBytes());
                    super.onText(piece);
                }
            };
            Generation g = e.submit(new GenerationRequest(prompt("Once upon a time"), 200, SamplingOptions.greedy()), r);
            assertThat(r.started.await(60, TimeUnit.SECONDS)).isTrue();
            g.cancel();
            Completion c = await(g);
            assertThat(c.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(c.completionTokens()).isBetween(5, 199);
            assertThat(c.text()).isEqualTo(r.text.toString());
            int[] greedy = generated(Sampler.greedy(), prompt("Once upon a time"), c.completionTokens());
            assertThat(c.tokens()).containsExactly(greedy);
            assertThat(kvWhileRunning[0]).isPositive();
            assertThat(e.stats().kvCacheBytes()).isZero();
            assertThat(e.stats().cancelled()).isEqualTo(1);
        }
    }

    @Test
    void aTimeLimitEndsTheGenerationWithTimeout() throws Exception {
        try (Engine e = Engine.start(model, tok, EngineConfig.defaults())) {
            Recorder slow = new Recorder(0, 10, 0);
            Generation g = e.submit(new GenerationRequest(prompt("Once upon a time"), 200, SamplingOptions.greedy(), List.of(),
                    Duration.ofMillis(300)), slow);
            Generation fast = e.submit(new GenerationRequest(prompt("One day"), 20, SamplingOptions.greedy()), new Recorder());
            Completion c = await(g);
            assertThat(c.finishReason()).isEqualTo(FinishReason.TIMEOUT);
            assertThat(c.completionTokens()).isBetween(1, 199);
            assertThat(c.text()).isEqualTo(slow.text.toString());
            int[] expected = generated(Sampler.greedy(), prompt("One day"), 20);
            assertThat(await(fast).tokens()).containsExactly(expected);
            assertThat(e.stats().timedOut()).isEqualTo(1);
            assertThat(e.stats().kvCacheBytes()).isZero();
        }
        // the engine's own limit applies too, and to requests still waiting for a place
        try (Engine e = Engine.start(model, tok, new EngineConfig(1, 4, 0, 256, Duration.ofMillis(200)))) {
            Generation running = e.submit(new GenerationRequest(prompt("Once upon a time"), 200, SamplingOptions.greedy()), new Recorder(0, 10, 0));
            Generation waiting = e.submit(new GenerationRequest(prompt("One day"), 20, SamplingOptions.greedy(), List.of(),
                    Duration.ofMillis(50)), new Recorder());
            assertThat(await(running).finishReason()).isEqualTo(FinishReason.TIMEOUT);
            Completion w = await(waiting);
            assertThat(w.finishReason()).isEqualTo(FinishReason.TIMEOUT);
            assertThat(w.completionTokens()).isZero();
        }
    }

    @Test
    void aFullQueueRefusesNewRequestsWhileTheOthersRun() throws Exception {
        String[] texts = {"Once upon a time", "The little dog", "One day"};
        try (Engine e = Engine.start(model, tok, new EngineConfig(2, 1, 0, 256, Duration.ZERO))) {
            List<Generation> accepted = new ArrayList<>();
            for (String t : texts) accepted.add(e.submit(new GenerationRequest(prompt(t), 40, SamplingOptions.greedy()), new Recorder(0, 5, 0)));
            assertThatThrownBy(() -> e.submit(new GenerationRequest(prompt("The sun"), 40, SamplingOptions.greedy()), new Recorder()))
                    .isInstanceOf(QueueFullException.class).hasMessageContaining("busy");
            assertThat(e.stats().rejected()).isEqualTo(1);
            for (int i = 0; i < texts.length; i++) {
                int[] expected = generated(Sampler.greedy(), prompt(texts[i]), 40);
                Completion c = await(accepted.get(i));
                assertThat(c.tokens()).as(texts[i]).containsExactly(expected);
                assertThat(c.finishReason()).isEqualTo(reasonFor(expected, 40));
            }
            // with the queue drained there is room again
            assertThat(await(e.submit(new GenerationRequest(prompt("The sun"), 5, SamplingOptions.greedy()), new Recorder())).tokens())
                    .containsExactly(generated(Sampler.greedy(), prompt("The sun"), 5));
        }
    }

    @Test
    void aLongPromptDoesNotStopTheRunningStreams() throws Exception {
        StringBuilder story = new StringBuilder();
        while (prompt(story.toString()).length < 200) story.append("Lily went to the park with her mom. She saw a big red ball and ran to get it. ");
        int[] longPrompt = Arrays.copyOf(prompt(story.toString()), 200);
        int chunk = 16;
        int prefillSteps = (longPrompt.length + chunk - 1) / chunk; // 13
        try (Engine e = Engine.start(model, tok, new EngineConfig(4, 4, 0, chunk, Duration.ZERO))) {
            Recorder a = new Recorder(5, 0, 0), b = new Recorder();
            Generation ga = e.submit(new GenerationRequest(prompt("Once upon a time"), 60, SamplingOptions.greedy()), a);
            Generation gb = e.submit(new GenerationRequest(prompt("One day"), 60, SamplingOptions.greedy()), b);
            assertThat(a.started.await(60, TimeUnit.SECONDS)).isTrue();
            int[] atFirstToken = new int[2];
            int atSubmit = a.pieces.get();
            Recorder longOne = new Recorder() {
                @Override
                public void onText(String piece) {
                    if (pieces.get() == 0) {
                        atFirstToken[0] = a.pieces.get();
                        atFirstToken[1] = ga.isDone() ? 1 : 0;
                    }
                    super.onText(piece);
                }
            };
            Generation gl = e.submit(new GenerationRequest(longPrompt, 10, SamplingOptions.greedy()), longOne);
            Completion cl = await(gl);
            assertThat(atFirstToken[1]).as("the stream was still running when the long prompt's first token came").isZero();
            // one token per step for the running stream: at least as many as the long prompt's prefill steps, less the one
            // under way when it was submitted
            assertThat(atFirstToken[0] - atSubmit).isGreaterThanOrEqualTo(prefillSteps - 1);
            assertThat(cl.tokens()).containsExactly(generated(Sampler.greedy(), longPrompt, 10));
            assertThat(await(ga).tokens()).containsExactly(generated(Sampler.greedy(), prompt("Once upon a time"), 60));
            assertThat(await(gb).tokens()).containsExactly(generated(Sampler.greedy(), prompt("One day"), 60));
        }
    }

    @Test
    void aThrowingListenerCancelsOnlyItsOwnGeneration() throws Exception {
        try (Engine e = Engine.start(model, tok, EngineConfig.defaults())) {
            Recorder thrower = new Recorder(0, 0, 3);
            Generation bad = e.submit(new GenerationRequest(prompt("Once upon a time"), 40, SamplingOptions.greedy()), thrower);
            Generation good1 = e.submit(new GenerationRequest(prompt("The little dog"), 40, SamplingOptions.greedy()), new Recorder());
            Generation good2 = e.submit(new GenerationRequest(prompt("One day"), 40, SamplingOptions.greedy()), new Recorder());
            Completion c = await(bad);
            assertThat(c.finishReason()).isEqualTo(FinishReason.CANCELLED);
            assertThat(thrower.pieces.get()).as("it heard nothing after it threw").isEqualTo(3);
            assertThat(thrower.completion).isSameAs(c);
            assertThat(await(good1).tokens()).containsExactly(generated(Sampler.greedy(), prompt("The little dog"), 40));
            assertThat(await(good2).tokens()).containsExactly(generated(Sampler.greedy(), prompt("One day"), 40));
            assertThat(e.stats().cancelled()).isEqualTo(1);
        }
    }

    @Test
    void offHeapMemoryReturnsToTheIdleBaseline() throws Exception {
        long baseline = MemoryStats.liveBytes();
        try (Engine e = Engine.start(model, tok, new EngineConfig(3, 8, 0, 5, Duration.ZERO))) {
            Recorder cancelled = new Recorder(3, 0, 0);
            Generation c = e.submit(new GenerationRequest(prompt("Once upon a time"), 100, SamplingOptions.greedy()), cancelled);
            List<Generation> others = new ArrayList<>();
            others.add(e.submit(new GenerationRequest(prompt("The little dog"), 30, new SamplingOptions(0.8f, 0.9f, 20, 0.1f, 3)), new Recorder()));
            others.add(e.submit(new GenerationRequest(prompt("One day"), 0, SamplingOptions.greedy()), new Recorder()));
            others.add(e.submit(new GenerationRequest(prompt("The sun"), 25, SamplingOptions.greedy()), new Recorder(0, 0, 2)));
            others.add(e.submit(new GenerationRequest(prompt(PROMPTS[2]), 60, SamplingOptions.greedy()), new Recorder()));
            assertThat(cancelled.started.await(60, TimeUnit.SECONDS)).isTrue();
            assertThat(MemoryStats.liveBytes()).as("caches are live while generations run").isGreaterThan(baseline);
            c.cancel();
            await(c);
            for (Generation g : others) await(g);
            assertThat(e.stats().kvCacheBytes()).isZero();
            assertThat(MemoryStats.liveBytes()).as("with every generation done, idle").isEqualTo(baseline);
        }
        assertThat(MemoryStats.liveBytes()).isEqualTo(baseline);
    }

    @Test
    void closingEndsRunningAndWaitingGenerationsWithAnError() throws Exception {
        Generation running, waiting;
        Recorder r = new Recorder(2, 5, 0);
        try (Engine e = Engine.start(model, tok, new EngineConfig(1, 2, 0, 256, Duration.ZERO))) {
            running = e.submit(new GenerationRequest(prompt("Once upon a time"), 200, SamplingOptions.greedy()), r);
            waiting = e.submit(new GenerationRequest(prompt("One day"), 20, SamplingOptions.greedy()), new Recorder());
            assertThat(r.started.await(60, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(running.result()).failsWithin(Duration.ofSeconds(5)).withThrowableThat().withMessageContaining("engine closed");
        assertThat(waiting.result()).failsWithin(Duration.ofSeconds(5)).withThrowableThat().withMessageContaining("engine closed");
    }
}
