package dev.corvus.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.corvus.chat.ChatMessage;
import dev.corvus.chat.ChatTemplate;
import dev.corvus.engine.EngineConfig;
import dev.corvus.model.LlamaCpp;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * /v1/chat/completions on the qwen2 conformance GGUF (random weights, Qwen2's real vocabulary and
 * ChatML template): at temperature 0 the reply is the library's greedy continuation of the prompt
 * the model's own template makes, whole and streamed.
 */
class ChatCompletionsTest {
    static Served s;
    static String id;

    @BeforeAll
    static void start() throws Exception {
        Path file = LlamaCpp.require().conformanceSet().entry("qwen2", "F16").file();
        s = Served.gguf(file, EngineConfig.defaults(), CorvusServer.Options.defaults());
        id = file.getFileName().toString();
    }

    @AfterAll
    static void stop() {
        if (s != null) s.close();
    }

    @Test
    void theModelsTemplateIsUsed() {
        ChatTemplate t = s.chat.orElseThrow().template();
        assertThat(t.origin()).contains(ChatTemplate.GGUF_KEY);
        assertThat(t.apply(List.of(ChatMessage.user("hi")), true)).contains("<|im_start|>user\nhi<|im_end|>", "<|im_start|>assistant\n");
    }

    @Test
    void greedyChatEqualsTheLibrarysGeneration() throws Exception {
        int[] prompt = s.chatPrompt(ChatMessage.system("You are terse."), ChatMessage.user("Name a colour."));
        String expected = s.greedy(prompt, 20);
        String messages = "[{\"role\": \"system\", \"content\": \"You are terse.\"},"
                + " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Name a \"}, {\"type\": \"text\", \"text\": \"colour.\"}]}]";
        HttpResponse<String> r = s.post("/v1/chat/completions",
                "{\"model\": \"" + id + "\", \"messages\": " + messages + ", \"max_tokens\": 20, \"temperature\": 0, \"logprobs\": false, \"user\": \"x\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode j = Served.json(r.body());
        assertThat(j.path("object").asText()).isEqualTo("chat.completion");
        assertThat(j.path("id").asText()).startsWith("chatcmpl-");
        JsonNode choice = j.path("choices").get(0);
        assertThat(choice.path("message").path("role").asText()).isEqualTo("assistant");
        assertThat(choice.path("message").path("content").asText()).isEqualTo(expected);
        int generated = j.path("usage").path("completion_tokens").asInt();
        assertThat(choice.path("finish_reason").asText()).isEqualTo(generated == 20 ? "length" : "stop");
        assertThat(j.path("usage").path("prompt_tokens").asInt()).isEqualTo(prompt.length);
        assertThat(j.path("usage").path("total_tokens").asInt()).isEqualTo(prompt.length + generated);
    }

    @Test
    void streamedChatStartsWithTheRoleAndEndsWithDone() throws Exception {
        int[] prompt = s.chatPrompt(ChatMessage.user("Hello there"));
        String expected = s.greedy(prompt, 20);
        HttpResponse<String> r = s.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hello there\"}],"
                + " \"max_completion_tokens\": 20, \"temperature\": 0, \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        List<JsonNode> events = Served.events(r.body());
        assertThat(events.getFirst().path("choices").get(0).path("delta").path("role").asText()).isEqualTo("assistant");
        Served.Streamed streamed = Served.streamed(r.body(), "chat.completion.chunk");
        assertThat(streamed.text()).isEqualTo(expected);
        assertThat(streamed.finishReason()).isIn("length", "stop");
        assertThat(streamed.usage()).isNotNull();
        assertThat(streamed.usage().path("prompt_tokens").asInt()).isEqualTo(prompt.length);
    }
}
