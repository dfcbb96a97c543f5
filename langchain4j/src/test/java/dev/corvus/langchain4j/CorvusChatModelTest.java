package dev.corvus.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.chat.ChatMessage;
import dev.corvus.model.RealModel;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.TokenStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The LangChain4j models on the real stories15M (a llama2.c checkpoint without a chat template:
 * llama.cpp's ChatML fallback formats the turns), held to the library's greedy generation of the
 * same prompt tokens.
 */
class CorvusChatModelTest {
    static Path file;
    static CorvusModel shared;
    static CorvusChatModel chat;
    static CorvusStreamingChatModel streaming;

    @BeforeAll
    static void load() throws Exception {
        file = RealModel.files().checkpoint();
        shared = CorvusModel.load(file);
        chat = CorvusChatModel.builder().model(shared).maxTokens(24).build();
        streaming = CorvusStreamingChatModel.builder().model(shared).maxTokens(24).build();
    }

    @AfterAll
    static void close() {
        chat.close();
        streaming.close();
        shared.close();
    }

    @Test
    void greedyReplyIsTheLibrarysGenerationOfTheRenderedPrompt() throws Exception {
        ChatResponse r = chat.chat(SystemMessage.from("Tell a story."), UserMessage.from("Once upon a time"), AiMessage.from("there was a cat."),
                UserMessage.from("What did the cat do?"));
        Greedy expected = Greedy.of(file, shared, List.of(ChatMessage.system("Tell a story."), ChatMessage.user("Once upon a time"),
                ChatMessage.assistant("there was a cat."), ChatMessage.user("What did the cat do?")), 24);
        assertThat(r.aiMessage().text()).isEqualTo(expected.text()).isNotEmpty();
        assertThat(r.tokenUsage().inputTokenCount()).isEqualTo(expected.promptTokens());
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(expected.tokens().length);
        assertThat(r.tokenUsage().totalTokenCount()).isEqualTo(expected.promptTokens() + expected.tokens().length);
        assertThat(r.finishReason()).isEqualTo(expected.tokens().length == 24 ? FinishReason.LENGTH : FinishReason.STOP);
        assertThat(r.modelName()).isEqualTo(file.getFileName().toString());
    }

    @Test
    void streamedPiecesMakeTheBlockingModelsText() throws Exception {
        String blocking = chat.chat("Once upon a time");
        Streamed s = stream(streaming, ChatRequest.builder().messages(UserMessage.from("Once upon a time")).build());
        assertThat(s.pieces()).hasSizeGreaterThan(1);
        assertThat(String.join("", s.pieces())).isEqualTo(blocking).isEqualTo(s.response().aiMessage().text());
        assertThat(s.response().tokenUsage().outputTokenCount()).isEqualTo(24);
        assertThat(s.response().finishReason()).isEqualTo(FinishReason.LENGTH);
    }

    @Test
    void requestParametersOverrideTheBuildersDefaults() throws Exception {
        ChatResponse five = chat.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).maxOutputTokens(5).build());
        assertThat(five.tokenUsage().outputTokenCount()).isEqualTo(5);
        assertThat(five.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(chat.chat("Once upon a time")).startsWith(five.aiMessage().text());
    }

    @Test
    void aStopSequenceEndsTheReplyBeforeIt() throws Exception {
        String full = chat.chat("Once upon a time");
        String stop = full.substring(10, 14);
        ChatRequest request = ChatRequest.builder().messages(UserMessage.from("Once upon a time")).stopSequences(List.of(stop)).build();
        String expected = full.substring(0, full.indexOf(stop));
        ChatResponse r = chat.chat(request);
        assertThat(r.aiMessage().text()).isEqualTo(expected);
        assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
        Streamed s = stream(streaming, request);
        assertThat(String.join("", s.pieces())).isEqualTo(expected);
        assertThat(s.response().finishReason()).isEqualTo(FinishReason.STOP);
        // the builder's stop list, when the request names none
        try (CorvusChatModel stopping = CorvusChatModel.builder().model(shared).maxTokens(24).stop(stop).build()) {
            assertThat(stopping.chat("Once upon a time")).isEqualTo(expected);
        }
    }

    interface Assistant {
        String chat(String message);
    }

    @Test
    void anAiServicesAssistantRunsThroughIt() throws Exception {
        Assistant assistant = AiServices.create(Assistant.class, chat);
        Greedy expected = Greedy.of(file, shared, List.of(ChatMessage.user("Once upon a time")), 24);
        assertThat(assistant.chat("Once upon a time")).isEqualTo(expected.text());
    }

    interface StreamingAssistant {
        TokenStream chat(String message);
    }

    @Test
    void anAiServicesTokenStreamRunsThroughTheStreamingModel() throws Exception {
        StreamingAssistant assistant = AiServices.builder(StreamingAssistant.class).streamingChatModel(streaming).build();
        List<String> pieces = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        assistant.chat("Once upon a time").onPartialResponse(pieces::add).onCompleteResponse(done::complete).onError(done::completeExceptionally).start();
        ChatResponse r = done.get(120, TimeUnit.SECONDS);
        assertThat(String.join("", pieces)).isEqualTo(r.aiMessage().text()).isEqualTo(chat.chat("Once upon a time"));
    }

    @Test
    void cancellingThroughTheStreamingHandleEndsTheReply() throws Exception {
        List<String> pieces = new ArrayList<>();
        CompletableFuture<Void> ended = new CompletableFuture<>();
        streaming.chat("Once upon a time", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                pieces.add(partial.text());
                context.streamingHandle().cancel();
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                ended.completeExceptionally(new AssertionError("completed after cancel: " + response));
            }

            @Override
            public void onError(Throwable error) {
                ended.completeExceptionally(error);
            }
        });
        // the next request runs after the cancelled one, so by its end the cancelled one is over
        chat.chat(ChatRequest.builder().messages(UserMessage.from("Hi")).maxOutputTokens(1).build());
        assertThat(ended).isNotDone();
        assertThat(pieces).hasSize(1);
        assertThat(shared.engine().stats().cancelled()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void unsupportedFeaturesAreRefusedByName() {
        UserMessage hi = UserMessage.from("Hi");
        assertThatThrownBy(() -> chat.chat(ChatRequest.builder().messages(hi)
                .toolSpecifications(ToolSpecification.builder().name("weather").description("the weather").build()).build()))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("tools");
        assertThatThrownBy(() -> chat.chat(ChatRequest.builder().messages(hi).responseFormat(ResponseFormat.JSON).build()))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("responseFormat JSON");
        assertThatThrownBy(() -> streaming.chat(ChatRequest.builder().messages(hi).frequencyPenalty(0.5).build(), failOnAnyCallback()))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("frequencyPenalty");
        assertThatThrownBy(() -> chat.chat(UserMessage.from(TextContent.from("look"), ImageContent.from("https://example.invalid/cat.png"))))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("message 0").hasMessageContaining("IMAGE");
        assertThatThrownBy(() -> chat.chat(hi, ToolExecutionResultMessage.from("id", "weather", "sunny")))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("message 1").hasMessageContaining("TOOL_EXECUTION_RESULT");
    }

    @Test
    void badOptionsFailClearly(@TempDir Path dir) {
        assertThatThrownBy(() -> CorvusChatModel.builder().model(shared).temperature(-1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("temperature");
        assertThatThrownBy(() -> CorvusChatModel.builder().model(shared).topP(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("top_p");
        assertThatThrownBy(() -> CorvusChatModel.builder().model(shared).topK(-1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("top_k");
        assertThatThrownBy(() -> CorvusChatModel.builder().model(shared).minP(1.5).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("min_p");
        assertThatThrownBy(() -> CorvusChatModel.builder().model(shared).maxTokens(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxTokens");
        assertThatThrownBy(() -> CorvusChatModel.builder().model(shared).stop("").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("stop");
        assertThatThrownBy(() -> chat.chat(ChatRequest.builder().messages(UserMessage.from("Hi")).temperature(-0.5).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("temperature");
        assertThatThrownBy(() -> chat.chat(ChatRequest.builder().messages(UserMessage.from("Hi")).modelName("gpt-4o").build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("modelName gpt-4o");
        assertThatThrownBy(() -> chat.chat(ChatRequest.builder().messages(UserMessage.from("Hi")).stopSequences(List.of("")).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("stopSequences");
        assertThatThrownBy(() -> CorvusChatModel.builder().build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("modelPath");
        Path missing = dir.resolve("missing.gguf");
        assertThatThrownBy(() -> CorvusChatModel.builder().modelPath(missing).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(missing.toString()).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> CorvusStreamingChatModel.builder().model(shared).chatTemplate(dir.resolve("t.jinja")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not both");
    }

    @Test
    void aConversationLongerThanTheContextIsRefused() throws Exception {
        try (CorvusChatModel small = CorvusChatModel.builder().modelPath(file).contextLength(16).build()) {
            assertThat(small.model().contextLength()).isEqualTo(16);
            assertThatThrownBy(() -> small.chat("Once upon a time there was a little girl who liked to play in the park"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("context holds 16");
        }
    }

    @Test
    void aClosedModelRefusesRequests(@TempDir Path dir) throws Exception {
        Path template = dir.resolve("join.jinja");
        Files.writeString(template, "{{ bos_token }}{{ messages | map(attribute='content') | join(' ') }}");
        CorvusChatModel own = CorvusChatModel.builder().modelPath(file).chatTemplate(template).maxTokens(8).build();
        assertThat(own.model().formatter().usesFallback()).isFalse();
        assertThat(own.chat("Once upon a time")).isNotEmpty();
        own.close();
        assertThatThrownBy(() -> own.chat("Once upon a time")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    record Streamed(List<String> pieces, ChatResponse response) {}

    static Streamed stream(CorvusStreamingChatModel model, ChatRequest request) throws Exception {
        List<String> pieces = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat(request, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                pieces.add(partial);
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
        return new Streamed(pieces, done.get(120, TimeUnit.SECONDS));
    }

    static StreamingChatResponseHandler failOnAnyCallback() {
        return new StreamingChatResponseHandler() {
            @Override
            public void onCompleteResponse(ChatResponse response) {
                throw new AssertionError("no response expected");
            }

            @Override
            public void onError(Throwable error) {
                throw new AssertionError("the refusal should be thrown, not reported", error);
            }
        };
    }
}
