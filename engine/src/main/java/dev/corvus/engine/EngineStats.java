package dev.corvus.engine;

/**
 * A snapshot of an engine's counters since it started: requests submitted, refused (queue full)
 * and finished by reason, prompt tokens prefilled and tokens generated, the generations active now
 * and waiting, how many generations the last batched step ran (decode tokens and prompt chunks
 * together), the bytes the active generations' KV caches hold, the summed time to first token of
 * finished requests (divide by {@code finished()} for the mean), and the batched forward passes
 * run ({@code decodeSteps}), and how often a generation was pre-empted to keep the KV cache budget
 * ({@code preemptions}; pre-empted generations count as queued until they run again).
 */
public record EngineStats(long submitted, long rejected, long finishedStop, long finishedLength, long cancelled, long timedOut,
        long failed, long promptTokens, long generatedTokens, int active, int queued, int lastBatchSize, long kvCacheBytes,
        long timeToFirstTokenNanosSum, long decodeSteps, long preemptions) {
    public long finished() {
        return finishedStop + finishedLength + cancelled + timedOut + failed;
    }
}
