package dev.corvus.engine;

import java.time.Duration;

/**
 * Limits of one engine: at most {@code maxBatch} generations decode together, {@code maxQueue}
 * more wait (further submissions get {@link QueueFullException}), each holds at most
 * {@code contextLength} positions (prompt and generated text; 0: the model's own context),
 * prompts are prefilled {@code prefillChunk} tokens per step so a long one does not stall the
 * running streams, no request runs longer than {@code requestTimeout} ({@link Duration#ZERO}:
 * no limit), and the KV caches of all running generations hold at most {@code kvCacheBudget}
 * bytes together (0: no limit; see {@link Engine} for how generations are pre-empted to keep it).
 */
public record EngineConfig(int maxBatch, int maxQueue, int contextLength, int prefillChunk, Duration requestTimeout, long kvCacheBudget) {
    public EngineConfig {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
        if (maxQueue < 0) throw new IllegalArgumentException("maxQueue must be >= 0, got " + maxQueue);
        if (contextLength < 0) throw new IllegalArgumentException("contextLength must be >= 0 (0: the model's), got " + contextLength);
        if (prefillChunk < 1) throw new IllegalArgumentException("prefillChunk must be >= 1, got " + prefillChunk);
        if (requestTimeout == null || requestTimeout.isNegative()) {
            throw new IllegalArgumentException("requestTimeout must be >= 0 (0: none), got " + requestTimeout);
        }
        if (kvCacheBudget < 0) throw new IllegalArgumentException("kvCacheBudget must be >= 0 bytes (0: none), got " + kvCacheBudget);
    }

    /** These limits without a KV cache budget. */
    public EngineConfig(int maxBatch, int maxQueue, int contextLength, int prefillChunk, Duration requestTimeout) {
        this(maxBatch, maxQueue, contextLength, prefillChunk, requestTimeout, 0);
    }

    /** These limits with each generation held to {@code positions} (0: the model's context). */
    public EngineConfig withContextLength(int positions) {
        return new EngineConfig(maxBatch, maxQueue, positions, prefillChunk, requestTimeout, kvCacheBudget);
    }

    /** These limits with the running generations' KV caches held to {@code bytes} together (0: no limit). */
    public EngineConfig withKvCacheBudget(long bytes) {
        return new EngineConfig(maxBatch, maxQueue, contextLength, prefillChunk, requestTimeout, bytes);
    }

    /** 8 streams, 64 waiting, the model's context, 256-token prefill chunks, no time limit. */
    public static EngineConfig defaults() {
        return new EngineConfig(8, 64, 0, 256, Duration.ZERO);
    }
}
