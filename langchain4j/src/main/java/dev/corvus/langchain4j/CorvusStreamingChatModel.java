package dev.corvus.langchain4j;

import dev.corvus.engine.Completion;
import dev.corvus.engine.Generation;
import dev.corvus.engine.GenerationListener;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicReference;

/**
 * LangChain4j's {@link StreamingChatModel} on a model Corvus runs in this JVM, as
 * {@link CorvusChatModel} but streaming: {@code chat} returns at once and the handler hears the
 * reply's text as the engine produces it ({@code onPartialResponse}; the pieces concatenate to
 * the final text), then {@code onCompleteResponse} with the whole reply, usage and finish reason,
 * or {@code onError}. The handler runs on the engine's thread, so it should return quickly.
 *
 * <p>{@link PartialResponseContext#streamingHandle()} cancels the reply: the engine stops at its
 * next token and the handler hears nothing more. Requests the model cannot serve (tools, JSON
 * formats, options out of range, a conversation longer than the context) are refused by
 * {@code chat} itself, with the exceptions {@link CorvusChatModel} documents, before anything
 * streams.
 */
public final class CorvusStreamingChatModel extends CorvusChatModelBase implements StreamingChatModel {
    private static final System.Logger LOG = System.getLogger(CorvusStreamingChatModel.class.getName());

    private CorvusStreamingChatModel(Builder b) {
        super(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        AtomicReference<Generation> generation = new AtomicReference<>();
        Handle handle = new Handle(generation);
        generation.set(requests.model().engine().submit(requests.generation(request), new GenerationListener() {
            @Override
            public void onText(String text) {
                // a handler's exception ends the generation through the engine, which reports it to onError
                if (!handle.isCancelled()) handler.onPartialResponse(new PartialResponse(text), new PartialResponseContext(handle));
            }

            @Override
            public void onComplete(Completion completion) {
                if (handle.isCancelled()) return;
                try {
                    handler.onCompleteResponse(requests.response(completion));
                } catch (RuntimeException e) {
                    // the reply is over: onError now would be a second ending
                    LOG.log(Level.WARNING, "the onCompleteResponse handler failed", e);
                }
            }

            @Override
            public void onError(Throwable error) {
                if (!handle.isCancelled()) handler.onError(error);
            }
        }));
    }

    /** Cancels the engine's generation; the engine may call the listener before submit returns, hence the reference. */
    private static final class Handle implements StreamingHandle {
        private final AtomicReference<Generation> generation;
        private volatile boolean cancelled;

        Handle(AtomicReference<Generation> generation) {
            this.generation = generation;
        }

        @Override
        public void cancel() {
            cancelled = true;
            Generation g = generation.get();
            if (g != null) g.cancel();
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }
    }

    /** Builds a {@link CorvusStreamingChatModel}; see {@link CorvusModelBuilder} for the settings. */
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
        public CorvusStreamingChatModel build() {
            return new CorvusStreamingChatModel(this);
        }
    }
}
