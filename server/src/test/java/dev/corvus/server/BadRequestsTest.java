package dev.corvus.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every bad request gets a 4xx and an OpenAI error object naming the field, never a 500, and the
 * server goes on serving (stories15M: a 256-token context, no chat template).
 */
class BadRequestsTest {
    static Served s;

    @BeforeAll
    static void start() throws Exception {
        s = Served.stories(dev.corvus.engine.EngineConfig.defaults(), CorvusServer.Options.defaults().withMaxBodyBytes(4096));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            // still serving after all of them
            HttpResponse<String> r = s.post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2, \"temperature\": 0}");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(s.engine.stats().failed()).isZero();
        } finally {
            s.close();
        }
    }

    /** The error object; its type, param and code checked against what the case names ("-" for null). */
    static JsonNode refused(HttpResponse<String> r, int status, String param) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        JsonNode e = Served.json(r.body()).path("error");
        assertThat(e.path("message").asText()).isNotBlank();
        assertThat(e.has("type") && e.has("param") && e.has("code")).as(r.body()).isTrue();
        if (param != null) assertThat(e.path("param").asText()).as(r.body()).isEqualTo(param);
        return e;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "/v1/completions | {\"prompt\": \"Hi\", \"max_tokens\": \"ten\"}                | max_tokens  | expected an integer",
        "/v1/completions | {\"prompt\": \"Hi\", \"max_tokens\": 2.5}                   | max_tokens  | expected an integer",
        "/v1/completions | {\"prompt\": \"Hi\", \"max_tokens\": 0}                     | max_tokens  | from 1",
        "/v1/completions | {\"prompt\": \"Hi\", \"max_completion_tokens\": -3}         | max_completion_tokens | from 1",
        "/v1/completions | {\"prompt\": \"Hi\", \"temperature\": \"hot\"}              | temperature | expected a number",
        "/v1/completions | {\"prompt\": \"Hi\", \"temperature\": 3}                   | temperature | from 0 to 2",
        "/v1/completions | {\"prompt\": \"Hi\", \"top_p\": 0}                         | top_p       | above 0",
        "/v1/completions | {\"prompt\": \"Hi\", \"top_k\": -1}                        | top_k       | from 0",
        "/v1/completions | {\"prompt\": \"Hi\", \"min_p\": 1.5}                       | min_p       | from 0 to 1",
        "/v1/completions | {\"prompt\": \"Hi\", \"seed\": \"x\"}                      | seed        | expected an integer",
        "/v1/completions | {\"prompt\": \"Hi\", \"stream\": \"yes\"}                  | stream      | true or false",
        "/v1/completions | {\"prompt\": \"Hi\", \"stream_options\": 1}                | stream_options | expected an object",
        "/v1/completions | {\"prompt\": \"Hi\", \"stop\": 5}                          | stop        | a string or an array",
        "/v1/completions | {\"prompt\": \"Hi\", \"stop\": [\"a\", 7]}                 | stop[1]     | expected a string",
        "/v1/completions | {\"prompt\": \"Hi\", \"stop\": \"\"}                       | stop        | empty string",
        "/v1/completions | {\"prompt\": \"Hi\", \"n\": 2}                             | n           | one choice",
        "/v1/completions | {\"prompt\": \"Hi\", \"model\": 7}                         | model       | expected a string",
        "/v1/completions | {\"prompt\": {\"text\": \"Hi\"}}                           | prompt      | expected a string",
        "/v1/completions | {\"prompt\": [\"a\", \"b\"]}                               | prompt      | one prompt per request",
        "/v1/completions | {\"prompt\": [1, 99999]}                                   | prompt      | prompt[1] is 99999",
        "/v1/completions | {\"max_tokens\": 5}                                        | prompt      | prompt is missing",
        "/v1/completions | {\"prompt\": \"Hi\", \"max_tokens\": 5000}                 | max_tokens  | the context holds 256",
        "/v1/chat/completions | {\"max_tokens\": 5}                                   | messages    | messages is missing",
        "/v1/chat/completions | {\"messages\": \"hello\"}                             | messages    | expected an array",
        "/v1/chat/completions | {\"messages\": []}                                    | messages    | empty",
        "/v1/chat/completions | {\"messages\": [{\"content\": \"hi\"}]}               | messages[0].role | missing",
        "/v1/chat/completions | {\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]} | messages[0].role | expected one of",
        "/v1/chat/completions | {\"messages\": [{\"role\": \"user\"}]}                 | messages[0].content | missing",
        "/v1/chat/completions | {\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]} | messages[0].content[0].type | text only",
        "/v1/chat/completions | {\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]} | messages | no chat template",
    })
    void aBadFieldIsNamed(String path, String body, String param, String message) throws Exception {
        JsonNode e = refused(s.post(path, body), 400, param);
        assertThat(e.path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(e.path("message").asText()).contains(message);
    }

    @Test
    void malformedBodies() throws Exception {
        for (String body : new String[] {"{\"prompt\": ", "{\"prompt\": \"Hi\"} trailing", "{\"prompt\": \"a\", \"prompt\": \"b\"}", "not json", ""}) {
            JsonNode e = refused(s.post("/v1/completions", body), 400, null);
            assertThat(e.path("param").isNull()).isTrue();
            assertThat(e.path("message").asText()).as(body).containsAnyOf("not valid JSON", "empty");
        }
        assertThat(refused(s.post("/v1/completions", "[1, 2]"), 400, null).path("message").asText()).contains("JSON array; expected an object");
        byte[] latin1 = "{\"prompt\": \"caf\u00e9\"}".getBytes(StandardCharsets.ISO_8859_1);
        assertThat(refused(s.postBytes("/v1/completions", latin1), 400, null).path("message").asText()).contains("not valid UTF-8", "at byte 15");
    }

    @Test
    void anUnknownModelIs404() throws Exception {
        JsonNode e = refused(s.post("/v1/completions", "{\"model\": \"gpt-4o\", \"prompt\": \"Hi\"}"), 404, "model");
        assertThat(e.path("code").asText()).isEqualTo("model_not_found");
        assertThat(e.path("message").asText()).contains("gpt-4o", "stories15M");
    }

    @Test
    void aPromptLongerThanTheContext() throws Exception {
        String words = "the dog ran and ".repeat(100);
        JsonNode e = refused(s.post("/v1/completions", "{\"prompt\": \"" + words + "\"}"), 400, "prompt");
        assertThat(e.path("code").asText()).isEqualTo("context_length_exceeded");
        assertThat(e.path("message").asText()).contains("context holds 256");
    }

    @Test
    void bodiesOverTheLimitAre413() throws Exception {
        byte[] big = ("{\"prompt\": \"" + "a".repeat(5000) + "\"}").getBytes(StandardCharsets.UTF_8);
        JsonNode e = refused(s.postBytes("/v1/completions", big), 413, null);
        assertThat(e.path("code").asText()).isEqualTo("request_too_large");
        assertThat(e.path("message").asText()).contains("4096");
        // no Content-Length (chunked): refused once the limit is read
        HttpResponse<String> chunked = s.http.send(HttpRequest.newBuilder(s.uri("/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big))).build(), HttpResponse.BodyHandlers.ofString());
        refused(chunked, 413, null);
    }

    @Test
    void unknownEndpointsAndMethods() throws Exception {
        JsonNode e = refused(s.get("/v1/engines"), 404, null);
        assertThat(e.path("message").asText()).contains("GET /v1/engines");
        refused(s.get("/v1/completions"), 404, null);
    }

    @Test
    void streamedRequestsAreCheckedBeforeTheStreamStarts() throws Exception {
        refused(s.post("/v1/completions", "{\"prompt\": \"Hi\", \"stream\": true, \"max_tokens\": -1}"), 400, "max_tokens");
    }

    @Test
    void aStreamIsOnlyDataEvents() throws Exception {
        String body = s.post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 4, \"stream\": true, \"temperature\": 0}").body();
        assertThat(body).endsWith("data: [DONE]\n\n");
        // data lines, one per event, and the keep-alive comments a slow first token may bring
        String events = body.replace(": keep-alive\n", "");
        for (String line : events.split("\n")) if (!line.isEmpty()) assertThat(line).startsWith("data: ");
        assertThat(Arrays.stream(events.split("\n\n")).filter(b -> !b.isEmpty())).allMatch(b -> b.startsWith("data: ") && !b.contains("\n"));
    }
}
