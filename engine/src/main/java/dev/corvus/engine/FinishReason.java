package dev.corvus.engine;

/** Why a generation ended; {@link #openAiName} is the OpenAI API's {@code finish_reason}. */
public enum FinishReason {
    /** The model produced an end-of-generation token, or the text reached a stop string. */
    STOP("stop"),
    /** {@code maxTokens} were generated, or the context is full. */
    LENGTH("length"),
    /** {@link Generation#cancel()} was called (a client went away). */
    CANCELLED("cancelled"),
    /** The request's or the engine's time limit passed. */
    TIMEOUT("timeout");

    private final String openAiName;

    FinishReason(String openAiName) {
        this.openAiName = openAiName;
    }

    public String openAiName() {
        return openAiName;
    }
}
