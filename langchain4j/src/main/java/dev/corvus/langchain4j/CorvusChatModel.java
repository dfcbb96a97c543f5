package dev.corvus.langchain4j;

import dev.corvus.engine.Generation;
import dev.corvus.engine.GenerationListener;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;

/**
 * LangChain4j's {@link ChatModel} on a model Corvus runs in this JVM: the messages go through the
 * model's chat template ({@link dev.corvus.chat.ChatFormatter}), the reply comes from its
 * {@link dev.corvus.engine.Engine}. {@code chat} blocks until the reply is complete; an
 * interrupt cancels it. The {@link ChatResponse} carries the token usage (prompt tokens with the
 * template, reply tokens) and the finish reason (STOP at an end-of-generation token or a stop
 * sequence, LENGTH at maxOutputTokens or the end of the context).
 *
 * <p>Tools, JSON response formats, penalties and non-text content raise
 * {@link dev.langchain4j.exception.UnsupportedFeatureException}; options out of range and
 * conversations longer than the context raise {@link IllegalArgumentException}.
 *
 * <pre>{@code
 * try (CorvusChatModel model = CorvusChatModel.builder().modelPath(Path.of("qwen2.5-0.5b-instruct-q8_0.gguf")).build()) {
 *     String reply = model.chat("Say hello");
 * }
 * }</pre>
 */
public final class CorvusChatModel extends CorvusChatModelBase implements ChatModel {
    private CorvusChatModel(Builder b) {
        super(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        Generation g = requests.model().engine().submit(requests.generation(request), new GenerationListener() {});
        try {
            return requests.response(g.result().get());
        } catch (InterruptedException e) {
            g.cancel();
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while waiting for the reply; the generation is cancelled");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException("the generation failed: " + e.getCause(), e.getCause());
        }
    }

    /** Builds a {@link CorvusChatModel}; see {@link CorvusModelBuilder} for the settings. */
    public static final class Builder extends CorvusModelBuilder<Builder> {
        private Builder() {}

        @Override
        Builder self() {
            return this;
        }

        /**
         * Loads the model (when a path was given) and checks the settings.
         *
         * @throws IllegalArgumentException     for a missing model or options out of range
         * @throws java.io.UncheckedIOException when the model cannot be read
         */
        public CorvusChatModel build() {
            return new CorvusChatModel(this);
        }
    }
}
