package dev.corvus.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.chat.ChatMessage;
import dev.corvus.engine.EngineConfig;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** LangChain4j's OpenAI client (langchain4j-open-ai) against the running server: chat, streaming chat, stop strings, usage. */
class LangChain4jClientTest {
    static Served s;

    @BeforeAll
    static void start() throws Exception {
        s = Served.storiesWithChat(EngineConfig.defaults(), CorvusServer.Options.defaults().withApiKey("lc4j-key"));
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    private static OpenAiChatModel.OpenAiChatModelBuilder chat() {
        return OpenAiChatModel.builder().baseUrl(s.server.url() + "/v1").apiKey("lc4j-key").modelName("stories15M").temperature(0.0)
                .maxTokens(30).timeout(Duration.ofSeconds(120)).maxRetries(0);
    }

    @Test
    void chatEqualsTheLibrarysGreedyText() {
        ChatResponse r = chat().build().chat(SystemMessage.from("Once upon a time"), UserMessage.from("there was a cat"));
        int[] prompt = s.chatPrompt(ChatMessage.system("Once upon a time"), ChatMessage.user("there was a cat"));
        assertThat(r.aiMessage().text()).isEqualTo(s.greedy(prompt, 30));
        assertThat(r.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(r.tokenUsage().inputTokenCount()).isEqualTo(prompt.length);
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(30);
        assertThat(r.tokenUsage().totalTokenCount()).isEqualTo(prompt.length + 30);
        assertThat(r.modelName()).isEqualTo("stories15M");
    }

    @Test
    void streamingChatConcatenatesToTheSameTextWithUsage() throws Exception {
        OpenAiStreamingChatModel model = OpenAiStreamingChatModel.builder().baseUrl(s.server.url() + "/v1").apiKey("lc4j-key")
                .modelName("stories15M").temperature(0.0).maxTokens(30).timeout(Duration.ofSeconds(120)).build();
        StringBuilder partial = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat("One day, a little girl", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String text) {
                partial.append(text);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(120, TimeUnit.SECONDS);
        int[] prompt = s.chatPrompt(ChatMessage.user("One day, a little girl"));
        String expected = s.greedy(prompt, 30);
        assertThat(partial.toString()).isEqualTo(expected);
        assertThat(r.aiMessage().text()).isEqualTo(expected);
        assertThat(r.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(r.tokenUsage()).as("the client asks for stream_options.include_usage").isNotNull();
        assertThat(r.tokenUsage().inputTokenCount()).isEqualTo(prompt.length);
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(30);
    }

    @Test
    void stopStringsEndTheReply() {
        int[] prompt = s.chatPrompt(ChatMessage.user("Once upon a time"));
        String full = s.greedy(prompt, 30);
        String stop = full.substring(15, 19);
        ChatResponse r = chat().stop(List.of(stop)).build().chat(UserMessage.from("Once upon a time"));
        assertThat(r.aiMessage().text()).isEqualTo(full.substring(0, full.indexOf(stop)));
        assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
    }
}
