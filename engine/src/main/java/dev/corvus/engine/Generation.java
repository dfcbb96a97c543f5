package dev.corvus.engine;

import java.util.concurrent.CompletableFuture;

/** A submitted generation: its result, and the way to stop it early. */
public final class Generation {
    private final CompletableFuture<Completion> result = new CompletableFuture<>();
    private volatile boolean cancelled;

    Generation() {}

    /**
     * Stops the generation at the engine's next step (its KV memory is freed then); it completes
     * with {@link FinishReason#CANCELLED} and the text so far. Does nothing once it is done.
     */
    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled;
    }

    /** Completes with the {@link Completion}, or exceptionally with what {@link GenerationListener#onError} got. */
    public CompletableFuture<Completion> result() {
        return result;
    }

    public boolean isDone() {
        return result.isDone();
    }
}
