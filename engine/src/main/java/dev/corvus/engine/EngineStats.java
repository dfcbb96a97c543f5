package dev.corvus.engine;

/**
 * A snapshot of an engine's counters since it started: requests submitted, refused (queue full)
 * and finished by reason, tokens read and generated, the generations decoding now and waiting,
 * the size of the last decode batch, the bytes their KV caches hold, and the summed time to
 * first token of finished requests (divide by {@code finished()} for the mean).
 */
public record EngineStats(long submitted, long rejected, long finishedStop, long finishedLength, long cancelled, long timedOut,
        long failed, long promptTokens, long generatedTokens, int active, int queued, int lastBatchSize, long kvCacheBytes,
        long timeToFirstTokenNanosSum, long decodeSteps) {
    public long finished() {
        return finishedStop + finishedLength + cancelled + timedOut + failed;
    }
}
