package dev.corvus.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.chat.ChatMessage;
import dev.corvus.chat.ChatTemplate;
import dev.corvus.model.LlamaCpp;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The LangChain4j models on the conformance set's Qwen2 GGUF (random weights, Qwen2's real
 * vocabulary and ChatML template, no BOS): the template's prompt, generated greedily, is what the
 * library's own loop generates.
 */
class CorvusChatModelGgufTest {
    static Path file;
    static CorvusModel shared;

    @BeforeAll
    static void load() throws Exception {
        file = LlamaCpp.require().conformanceSet().entry("qwen2", "F16").file();
        shared = CorvusModel.load(file);
    }

    @AfterAll
    static void close() {
        shared.close();
    }

    static final List<ChatMessage> TURNS = List.of(ChatMessage.system("You are terse."), ChatMessage.user("Hello"),
            ChatMessage.assistant("Hi there"), ChatMessage.user("Who are you?"));

    static ChatRequest request(int maxTokens) {
        return ChatRequest.builder().messages(SystemMessage.from("You are terse."), UserMessage.from("Hello"), AiMessage.from("Hi there"),
                UserMessage.from("Who are you?")).maxOutputTokens(maxTokens).build();
    }

    @Test
    void theModelsOwnTemplateFormatsTheTurns() {
        assertThat(shared.formatter().usesFallback()).isFalse();
        assertThat(shared.formatter().template().origin()).contains(ChatTemplate.GGUF_KEY);
        assertThat(shared.formatter().render(TURNS)).isEqualTo("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
                + "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void greedyReplyAndUsageAreTheLibrarysGeneration() throws Exception {
        Greedy expected = Greedy.of(file, shared, TURNS, 16);
        try (CorvusChatModel chat = CorvusChatModel.builder().model(shared).build()) {
            ChatResponse r = chat.chat(request(16));
            assertThat(r.aiMessage().text()).isEqualTo(expected.text()).isNotEmpty();
            assertThat(r.tokenUsage().inputTokenCount()).isEqualTo(expected.promptTokens());
            assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(expected.tokens().length);
            assertThat(r.finishReason()).isEqualTo(expected.tokens().length == 16 ? FinishReason.LENGTH : FinishReason.STOP);
        }
        try (CorvusStreamingChatModel streaming = CorvusStreamingChatModel.builder().model(shared).build()) {
            CorvusChatModelTest.Streamed s = CorvusChatModelTest.stream(streaming, request(16));
            assertThat(String.join("", s.pieces())).isEqualTo(expected.text()).isEqualTo(s.response().aiMessage().text());
            assertThat(s.response().tokenUsage().outputTokenCount()).isEqualTo(expected.tokens().length);
        }
    }
}
