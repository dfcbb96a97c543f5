package dev.corvus.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** /v1/completions, /v1/models, /health and /metrics on stories15M, through java.net.http. */
class CompletionsEndpointTest {
    static Served s;

    @BeforeAll
    static void start() throws Exception {
        s = Served.stories();
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    @Test
    void greedyCompletionEqualsTheLibrarysGeneration() throws Exception {
        String expected = s.greedy(s.encode("Once upon a time"), 30);
        HttpResponse<String> r = s.post("/v1/completions",
                "{\"model\": \"stories15M\", \"prompt\": \"Once upon a time\", \"max_tokens\": 30, \"temperature\": 0, \"unknown_field\": [1, 2]}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        JsonNode j = Served.json(r.body());
        assertThat(j.path("object").asText()).isEqualTo("text_completion");
        assertThat(j.path("id").asText()).startsWith("cmpl-");
        assertThat(j.path("model").asText()).isEqualTo("stories15M");
        JsonNode choice = j.path("choices").get(0);
        assertThat(choice.path("text").asText()).isEqualTo(expected);
        assertThat(choice.path("finish_reason").asText()).isEqualTo("length");
        JsonNode usage = j.path("usage");
        assertThat(usage.path("prompt_tokens").asInt()).isEqualTo(s.encode("Once upon a time").length);
        assertThat(usage.path("completion_tokens").asInt()).isEqualTo(30);
        assertThat(usage.path("total_tokens").asInt()).isEqualTo(usage.path("prompt_tokens").asInt() + 30);
    }

    @Test
    void streamedCompletionConcatenatesToTheSameText() throws Exception {
        String expected = s.greedy(s.encode("The little dog"), 25);
        HttpResponse<String> r = s.post("/v1/completions", "{\"prompt\": \"The little dog\", \"max_tokens\": 25, \"temperature\": 0,"
                + " \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
        List<JsonNode> events = Served.events(r.body());
        for (JsonNode e : events.subList(0, events.size() - 1)) assertThat(e.has("usage")).as("include_usage puts usage in every chunk").isTrue();
        Served.Streamed streamed = Served.streamed(r.body(), "text_completion");
        assertThat(streamed.text()).isEqualTo(expected);
        assertThat(streamed.finishReason()).isEqualTo("length");
        assertThat(streamed.usage()).isNotNull();
        assertThat(streamed.usage().path("completion_tokens").asInt()).isEqualTo(25);
        assertThat(events.get(events.size() - 2).path("choices").isEmpty()).as("the usage chunk comes last, before [DONE]").isTrue();
    }

    @Test
    void withoutIncludeUsageTheChunksHaveNoUsage() throws Exception {
        HttpResponse<String> r = s.post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 3, \"temperature\": 0, \"stream\": true}");
        List<JsonNode> events = Served.events(r.body());
        assertThat(events.getLast().asText()).isEqualTo("[DONE]");
        for (JsonNode e : events.subList(0, events.size() - 1)) assertThat(e.has("usage")).isFalse();
    }

    @Test
    void aStopStringEndsTheTextBeforeIt() throws Exception {
        String full = s.greedy(s.encode("Once upon a time"), 40);
        String stop = full.substring(30, 34);
        String expected = full.substring(0, full.indexOf(stop));
        for (String stops : List.of("\"" + stop + "\"", "[\"zzzz-never\", \"" + stop + "\"]")) {
            HttpResponse<String> r = s.post("/v1/completions",
                    "{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"temperature\": 0, \"stop\": " + stops + "}");
            JsonNode choice = Served.json(r.body()).path("choices").get(0);
            assertThat(choice.path("text").asText()).isEqualTo(expected);
            assertThat(choice.path("finish_reason").asText()).isEqualTo("stop");
            HttpResponse<String> streamed = s.post("/v1/completions",
                    "{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"temperature\": 0, \"stream\": true, \"stop\": " + stops + "}");
            assertThat(Served.streamed(streamed.body(), "text_completion").text()).isEqualTo(expected);
        }
    }

    @Test
    void tokenIdPromptsAndSeededSamplingWork() throws Exception {
        int[] prompt = s.encode("One day");
        StringBuilder ids = new StringBuilder();
        for (int t : prompt) ids.append(ids.isEmpty() ? "" : ",").append(t);
        HttpResponse<String> r = s.post("/v1/completions", "{\"prompt\": [" + ids + "], \"max_tokens\": 12, \"temperature\": 0}");
        assertThat(Served.json(r.body()).path("choices").get(0).path("text").asText()).isEqualTo(s.greedy(prompt, 12));
        String sampled = "{\"prompt\": \"One day\", \"max_tokens\": 12, \"temperature\": 0.9, \"top_p\": 0.9, \"seed\": 42}";
        String a = Served.json(s.post("/v1/completions", sampled).body()).path("choices").get(0).path("text").asText();
        String b = Served.json(s.post("/v1/completions", sampled).body()).path("choices").get(0).path("text").asText();
        assertThat(a).isEqualTo(b).isNotEmpty();
    }

    @Test
    void modelsHealthAndMetrics() throws Exception {
        JsonNode models = Served.json(s.get("/v1/models").body());
        assertThat(models.path("object").asText()).isEqualTo("list");
        assertThat(models.path("data").get(0).path("id").asText()).isEqualTo("stories15M");
        assertThat(models.path("data").get(0).path("object").asText()).isEqualTo("model");
        assertThat(Served.json(s.get("/v1/models/stories15M").body()).path("id").asText()).isEqualTo("stories15M");
        assertThat(s.get("/v1/models/gpt-4").statusCode()).isEqualTo(404);
        HttpResponse<String> health = s.get("/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(Served.json(health.body()).path("status").asText()).isEqualTo("ok");

        s.post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2, \"temperature\": 0}");
        HttpResponse<String> metrics = s.get("/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain; version=0.0.4"));
        String m = metrics.body();
        assertThat(m).contains("# TYPE corvus_requests_total counter", "corvus_requests_total{outcome=\"length\"} ",
                "corvus_queue_depth 0", "corvus_active_generations ", "corvus_batch_size ", "corvus_time_to_first_token_seconds_mean ",
                "corvus_kv_cache_bytes 0", "corvus_preemptions_total 0");
        long generated = m.lines().filter(l -> l.startsWith("corvus_generated_tokens_total ")).mapToLong(l -> Long.parseLong(l.split(" ")[1]))
                .findFirst().orElseThrow();
        assertThat(generated).isEqualTo(s.engine.stats().generatedTokens()).isGreaterThanOrEqualTo(2);
        // every line is a comment or "name{labels} value"
        for (String line : m.lines().toList()) assertThat(line).matches("# (HELP|TYPE) .*|[a-z_]+(\\{[a-z]+=\"[^\"]*\"\\})? [0-9.]+");
    }
}
