package dev.corvus.engine;

/**
 * Receives one generation's output on the engine's thread, so it must return quickly (hand
 * slow work to another thread). Exactly one of {@link #onComplete} and {@link #onError} ends
 * every generation. An exception thrown here cancels that generation only.
 */
public interface GenerationListener {
    /**
     * New text. Several tokens may arrive as one piece and a token may add nothing yet: text is
     * held back while it is an incomplete UTF-8 character or could be the start of a stop string.
     */
    default void onText(String text) {}

    default void onComplete(Completion completion) {}

    /** The generation failed (bad logits, out of memory, the engine closed); nothing more follows. */
    default void onError(Throwable error) {}
}
