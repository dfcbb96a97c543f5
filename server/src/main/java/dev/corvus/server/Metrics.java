package dev.corvus.server;

import dev.corvus.engine.EngineStats;
import java.util.Locale;
import java.util.Map;

/**
 * {@code GET /metrics} in Prometheus' text exposition format (version 0.0.4): the engine's
 * counters and gauges, and the requests the server refused before they reached the engine, by
 * HTTP status.
 */
final class Metrics {
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private Metrics() {}

    static String render(EngineStats s, Map<Integer, Long> refusedByStatus) {
        StringBuilder out = new StringBuilder(2048);
        header(out, "corvus_requests_total", "counter", "Generations the engine finished or refused, by outcome.");
        outcome(out, "stop", s.finishedStop());
        outcome(out, "length", s.finishedLength());
        outcome(out, "cancelled", s.cancelled());
        outcome(out, "timeout", s.timedOut());
        outcome(out, "failed", s.failed());
        outcome(out, "rejected", s.rejected());
        metric(out, "corvus_requests_submitted_total", "counter", "Generations submitted to the engine (rejected ones included).", s.submitted());
        header(out, "corvus_http_refused_total", "counter", "Requests answered with an error before reaching the engine, by HTTP status.");
        refusedByStatus.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> out.append("corvus_http_refused_total{status=\"").append(e.getKey()).append("\"} ").append(e.getValue()).append('\n'));
        metric(out, "corvus_prompt_tokens_total", "counter", "Prompt tokens read.", s.promptTokens());
        metric(out, "corvus_generated_tokens_total", "counter", "Tokens generated.", s.generatedTokens());
        metric(out, "corvus_decode_steps_total", "counter", "Forward passes the engine ran.", s.decodeSteps());
        metric(out, "corvus_preemptions_total", "counter", "Generations pre-empted (cache freed, recomputed later) to keep the KV cache budget.",
                s.preemptions());
        metric(out, "corvus_queue_depth", "gauge", "Generations waiting for a slot.", s.queued());
        metric(out, "corvus_active_generations", "gauge", "Generations decoding now.", s.active());
        metric(out, "corvus_batch_size", "gauge", "Generations in the last decode step.", s.lastBatchSize());
        metric(out, "corvus_kv_cache_bytes", "gauge", "Bytes the running generations' KV caches hold.", s.kvCacheBytes());
        double sum = s.timeToFirstTokenNanosSum() / 1e9;
        long count = s.finished();
        header(out, "corvus_time_to_first_token_seconds", "summary", "Time from submission to the first token, of finished generations.");
        out.append("corvus_time_to_first_token_seconds_sum ").append(number(sum)).append('\n');
        out.append("corvus_time_to_first_token_seconds_count ").append(count).append('\n');
        metric(out, "corvus_time_to_first_token_seconds_mean", "gauge", "Mean time to first token of finished generations (0 before the first).",
                number(count == 0 ? 0 : sum / count));
        return out.toString();
    }

    private static void outcome(StringBuilder out, String outcome, long n) {
        out.append("corvus_requests_total{outcome=\"").append(outcome).append("\"} ").append(n).append('\n');
    }

    private static void metric(StringBuilder out, String name, String type, String help, Object value) {
        header(out, name, type, help);
        out.append(name).append(' ').append(value).append('\n');
    }

    private static void header(StringBuilder out, String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static String number(double d) {
        return String.format(Locale.ROOT, "%.6f", d);
    }
}
