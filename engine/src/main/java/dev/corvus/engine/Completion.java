package dev.corvus.engine;

/**
 * A finished generation: its text (stop string excluded), the generated token ids (an
 * end-of-generation token excluded, tokens past a stop string included), usage counts and
 * timings in nanoseconds from submission.
 */
public record Completion(String text, int[] tokens, int promptTokens, FinishReason finishReason, long timeToFirstTokenNanos,
        long totalNanos) {
    public Completion {
        tokens = tokens.clone();
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    /** Generated tokens, what the OpenAI API calls {@code completion_tokens}. */
    public int completionTokens() {
        return tokens.length;
    }
}
