package dev.corvus.engine;

import java.time.Duration;

/**
 * Limits of one engine: at most {@code maxBatch} generations decode together, {@code maxQueue}
 * more wait (further submissions get {@link QueueFullException}), each holds at most
 * {@code contextLength} positions (prompt and generated text; 0: the model's own context),
 * prompts are prefilled {@code prefillChunk} tokens per step so a long one does not stall the
 * running streams, and no request runs longer than {@code requestTimeout} ({@link Duration#ZERO}:
 * no limit).
 */
public record EngineConfig(int maxBatch, int maxQueue, int contextLength, int prefillChunk, Duration requestTimeout) {
    public EngineConfig {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
        if (maxQueue < 0) throw new IllegalArgumentException("maxQueue must be >= 0, got " + maxQueue);
        if (contextLength < 0) throw new IllegalArgumentException("contextLength must be >= 0 (0: the model's), got " + contextLength);
        if (prefillChunk < 1) throw new IllegalArgumentException("prefillChunk must be >= 1, got " + prefillChunk);
        if (requestTimeout == null || requestTimeout.isNegative()) {
            throw new IllegalArgumentException("requestTimeout must be >= 0 (0: none), got " + requestTimeout);
        }
    }

    /** These limits with each generation held to {@code positions} (0: the model's context). */
    public EngineConfig withContextLength(int positions) {
        return new EngineConfig(maxBatch, maxQueue, positions, prefillChunk, requestTimeout);
    }

    /** 8 streams, 64 waiting, the model's context, 256-token prefill chunks, no time limit. */
    public static EngineConfig defaults() {
        return new EngineConfig(8, 64, 0, 256, Duration.ZERO);
    }
}
