package dev.corvus.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.engine.EngineConfig;
import dev.corvus.engine.EngineStats;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * 64 concurrent clients for a bounded time (20 s of new requests, then the stragglers), streamed
 * and whole, a quarter of the streams dropped after their first event: every answer that
 * completes is the greedy text of its prompt, nothing fails, the engine's active, queued and KV
 * figures return to 0, and the server serves correctly after.
 */
class LoadTest {
    private static final int CLIENTS = 64;
    private static final Duration NEW_REQUESTS_FOR = Duration.ofSeconds(20);
    private static final int MAX_TOKENS = 16;
    private static final List<String> PROMPTS = List.of("Once upon a time", "The little dog", "One day, a girl named Lily", "Tom had a red ball",
            "In the park", "The sun was", "Mom said", "A big fish");

    @Test
    void sixtyFourClientsSomeLeavingMidStream() throws Exception {
        // room for every client, and for the generations of those that just left, which hold their place until the engine's next step
        try (Served s = Served.stories(new EngineConfig(8, CLIENTS + 8, 0, 256, Duration.ZERO), CorvusServer.Options.defaults())) {
            Map<String, String> expected = new ConcurrentHashMap<>();
            for (String p : PROMPTS) expected.put(p, s.greedy(s.encode(p), MAX_TOKENS));
            AtomicInteger completed = new AtomicInteger(), dropped = new AtomicInteger(), busy = new AtomicInteger();
            List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
            long stopAt = System.nanoTime() + NEW_REQUESTS_FOR.toNanos();
            List<Future<?>> clients = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int c = 0; c < CLIENTS; c++) {
                    SplittableRandom random = new SplittableRandom(1000 + c);
                    clients.add(pool.submit(() -> {
                        while (System.nanoTime() - stopAt < 0) {
                            String prompt = PROMPTS.get(random.nextInt(PROMPTS.size()));
                            boolean stream = random.nextBoolean(), leave = stream && random.nextInt(4) == 0;
                            String body = "{\"prompt\": " + Json.MAPPER.getNodeFactory().textNode(prompt) + ", \"max_tokens\": " + MAX_TOKENS
                                    + ", \"temperature\": 0, \"stream\": " + stream + "}";
                            HttpRequest r = HttpRequest.newBuilder(s.uri("/v1/completions")).timeout(Duration.ofSeconds(180))
                                    .POST(HttpRequest.BodyPublishers.ofString(body)).build();
                            HttpResponse<InputStream> response = s.http.send(r, HttpResponse.BodyHandlers.ofInputStream());
                            try (InputStream in = response.body()) {
                                if (response.statusCode() == 429) {
                                    busy.incrementAndGet();
                                    Thread.sleep(50);
                                    continue;
                                }
                                if (response.statusCode() != 200) {
                                    wrong.add(prompt + ": HTTP " + response.statusCode() + " " + new String(in.readAllBytes(), StandardCharsets.UTF_8));
                                    continue;
                                }
                                if (leave) {
                                    BufferedReader events = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
                                    for (String line; (line = events.readLine()) != null && !line.startsWith("data: "); ) {
                                        // keep-alive comments while queued: wait for the first text, so it leaves mid-stream
                                    }
                                    dropped.incrementAndGet();
                                    continue; // closing the stream here is the client going away
                                }
                                String text = stream ? Served.streamed(new String(in.readAllBytes(), StandardCharsets.UTF_8), "text_completion").text()
                                        : Served.json(new String(in.readAllBytes(), StandardCharsets.UTF_8)).path("choices").get(0).path("text").asText();
                                if (!text.equals(expected.get(prompt))) wrong.add(prompt + (stream ? " (streamed)" : "") + ": got " + text);
                                completed.incrementAndGet();
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : clients) f.get(240, TimeUnit.SECONDS);
            }
            assertThat(wrong).as("answers that are not the greedy text of their prompt").isEmpty();
            assertThat(completed.get()).as("completed requests").isGreaterThan(CLIENTS);
            assertThat(dropped.get()).as("clients that left mid-stream").isPositive();
            assertThat(busy.get()).as("429s: the queue holds every client").isZero();

            Served.until(Duration.ofSeconds(60), () -> {
                EngineStats st = s.engine.stats();
                return st.active() == 0 && st.queued() == 0 && st.kvCacheBytes() == 0 && st.finished() == st.submitted() - st.rejected();
            });
            EngineStats st = s.engine.stats();
            assertThat(st.failed()).isZero();
            HttpResponse<String> after = s.post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 16, \"temperature\": 0}");
            assertThat(Served.json(after.body()).path("choices").get(0).path("text").asText()).isEqualTo(expected.get("Once upon a time"));
            assertThat(s.get("/metrics").body()).contains("corvus_active_generations 0", "corvus_queue_depth 0", "corvus_kv_cache_bytes 0");
        }
    }
}
