package dev.corvus.engine;

import java.time.Duration;
import java.util.List;

/**
 * One generation: continue {@code prompt} (token ids, BOS included where the vocabulary wants
 * it) by at most {@code maxTokens} tokens. The text ends before the first of the {@code stop}
 * strings it would contain (the stop string itself is not returned), or at an end-of-generation
 * token. {@code timeout} bounds the whole request, queueing included ({@link Duration#ZERO}: only
 * the engine's own limit applies).
 */
public record GenerationRequest(int[] prompt, int maxTokens, SamplingOptions sampling, List<String> stop, Duration timeout) {
    public GenerationRequest {
        if (prompt == null || prompt.length == 0) throw new IllegalArgumentException("prompt: no tokens; start it with BOS");
        if (maxTokens < 0) throw new IllegalArgumentException("max_tokens must be >= 0, got " + maxTokens);
        if (sampling == null) throw new IllegalArgumentException("sampling options are missing");
        stop = List.copyOf(stop == null ? List.of() : stop);
        for (String s : stop) if (s.isEmpty()) throw new IllegalArgumentException("stop: an empty string would end every generation at once");
        if (timeout == null || timeout.isNegative()) throw new IllegalArgumentException("timeout must be >= 0, got " + timeout);
        prompt = prompt.clone();
    }

    public GenerationRequest(int[] prompt, int maxTokens, SamplingOptions sampling) {
        this(prompt, maxTokens, sampling, List.of(), Duration.ZERO);
    }

    @Override
    public int[] prompt() {
        return prompt.clone();
    }
}
