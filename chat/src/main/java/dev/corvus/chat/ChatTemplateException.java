package dev.corvus.chat;

/**
 * A chat template that cannot be used: missing, or failing to render. The message names where
 * the template came from (file, GGUF key), the line in the template, and the engine's or the
 * template's own ({@code raise_exception}) words.
 */
public final class ChatTemplateException extends IllegalArgumentException {
    private final int line;

    ChatTemplateException(String message, int line) {
        super(message);
        this.line = line;
    }

    /** The template line the error points at (1-based), or 0 when the engine gave none. */
    public int line() {
        return line;
    }
}
