package dev.corvus.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.corvus.engine.EngineConfig;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The API key, the queue limit (429), a client that goes away mid-stream, and the request timeout. */
class LimitsTest {
    /** A streamed completion that runs for a while (250 tokens of stories15M's 256-token context). */
    private static HttpRequest longStream(Served s) {
        return HttpRequest.newBuilder(s.uri("/v1/completions")).POST(HttpRequest.BodyPublishers.ofString(
                "{\"prompt\": \"Once upon a time\", \"max_tokens\": 250, \"temperature\": 0, \"stream\": true}")).build();
    }

    /** The stream's first data line, past the keep-alive comments sent while it waited. */
    private static String firstData(HttpResponse<InputStream> r) throws java.io.IOException {
        BufferedReader events = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
        for (String line; (line = events.readLine()) != null; ) if (line.startsWith("data: ")) return line;
        return null;
    }

    @Test
    void theApiKeyIsRequiredOnV1AndMetricsButNotHealth() throws Exception {
        try (Served s = Served.stories(EngineConfig.defaults(), CorvusServer.Options.defaults().withApiKey("sesame"))) {
            String body = "{\"prompt\": \"Hi\", \"max_tokens\": 2}";
            JsonNode missing = BadRequestsTest.refused(s.post("/v1/completions", body), 401, null);
            assertThat(missing.path("code").asText()).isEqualTo("invalid_api_key");
            assertThat(missing.path("type").asText()).isEqualTo("authentication_error");
            assertThat(missing.path("message").asText()).contains("Authorization: Bearer");
            BadRequestsTest.refused(s.post("/v1/completions", body, "Authorization", "Bearer open"), 401, null);
            BadRequestsTest.refused(s.post("/v1/completions", body, "Authorization", "sesame"), 401, null);
            BadRequestsTest.refused(s.get("/v1/models"), 401, null);
            BadRequestsTest.refused(s.get("/metrics"), 401, null);
            assertThat(s.post("/v1/completions", body, "Authorization", "Bearer sesame").statusCode()).isEqualTo(200);
            assertThat(s.get("/v1/models", "Authorization", "Bearer sesame").statusCode()).isEqualTo(200);
            assertThat(s.get("/health").statusCode()).isEqualTo(200);
            assertThat(s.get("/metrics", "Authorization", "Bearer sesame").body()).contains("corvus_http_refused_total{status=\"401\"} 5");
        }
    }

    @Test
    void aFullQueueIs429AndAClientThatLeavesCancelsItsGeneration() throws Exception {
        // one generation at a time, none waiting
        try (Served s = Served.stories(new EngineConfig(1, 0, 0, 256, Duration.ZERO), CorvusServer.Options.defaults())) {
            HttpResponse<InputStream> first = s.http.send(longStream(s), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(first.statusCode()).isEqualTo(200);
            assertThat(firstData(first)).startsWith("data: {");

            JsonNode e = BadRequestsTest.refused(s.post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2}"), 429, null);
            assertThat(e.path("code").asText()).isEqualTo("queue_full");
            assertThat(e.path("message").asText()).contains("busy", "retry later");

            first.body().close(); // the client goes away mid-stream
            Served.until(Duration.ofSeconds(30), () -> s.engine.stats().cancelled() == 1);
            assertThat(s.engine.stats().generatedTokens()).as("cancelled well before its 250 tokens").isLessThan(250);
            Served.until(Duration.ofSeconds(10), () -> s.engine.stats().active() == 0 && s.engine.stats().kvCacheBytes() == 0);
            assertThat(s.post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2}").statusCode()).isEqualTo(200);
            assertThat(s.engine.stats().rejected()).isEqualTo(1);
        }
    }

    @Test
    void aQueuedStreamHasItsHeadersAtOnceAndIsCancelledWhenItsClientLeaves() throws Exception {
        try (Served s = Served.stories(new EngineConfig(1, 1, 0, 256, Duration.ZERO), CorvusServer.Options.defaults())) {
            HttpResponse<InputStream> running = s.http.send(longStream(s), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(firstData(running)).startsWith("data: {");
            HttpResponse<InputStream> queued = s.http.send(longStream(s), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(queued.statusCode()).as("headers come at once, before the request leaves the queue").isEqualTo(200);
            assertThat(s.engine.stats().queued()).isEqualTo(1);
            queued.body().close(); // gone while queued: a keep-alive comment's write, or its first text's, fails and cancels it
            running.body().close();
            Served.until(Duration.ofSeconds(30), () -> s.engine.stats().cancelled() == 2);
            Served.until(Duration.ofSeconds(10), () -> s.engine.stats().active() == 0 && s.engine.stats().queued() == 0);
            assertThat(s.engine.stats().kvCacheBytes()).isZero();
        }
    }

    @Test
    void theRequestTimeoutEndsAGenerationWithWhatItHas() throws Exception {
        try (Served s = Served.stories(EngineConfig.defaults(), CorvusServer.Options.defaults().withRequestTimeout(Duration.ofMillis(1)))) {
            JsonNode j = Served.json(s.post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 200}").body());
            JsonNode choice = j.path("choices").get(0);
            assertThat(choice.path("finish_reason").asText()).isEqualTo("timeout");
            assertThat(j.path("usage").path("completion_tokens").asInt()).isLessThan(200);
            assertThat(s.engine.stats().timedOut()).isEqualTo(1);
        }
    }
}
