package dev.corvus.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.corvus.chat.ChatFormatter;
import dev.corvus.engine.Completion;
import dev.corvus.engine.Engine;
import dev.corvus.engine.Generation;
import dev.corvus.engine.GenerationListener;
import dev.corvus.engine.GenerationRequest;
import dev.corvus.engine.QueueFullException;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.sse.SseClient;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * An OpenAI-compatible HTTP server over an {@link Engine}: {@code POST /v1/chat/completions} and
 * {@code POST /v1/completions} (whole or streamed as server-sent events, ending with
 * {@code data: [DONE]}), {@code GET /v1/models}, {@code GET /health} and {@code GET /metrics}
 * (Prometheus text).
 *
 * <p>Every refused request gets a 4xx with OpenAI's error object
 * {@code {"error": {"message", "type", "param", "code"}}} naming the field at fault: malformed
 * JSON or UTF-8, a wrong type, an unknown model, a prompt or {@code max_tokens} beyond the
 * context, a body over {@link Options#maxBodyBytes}, a full queue (429), a missing or wrong API
 * key (401). A streaming client that goes away cancels its generation, so the engine frees its KV
 * cache at the next step. Requests run on virtual threads, each waiting for its own generation.
 *
 * <p>The server does not own the engine: {@link #close} stops the listener and cancels the
 * generations still running for its clients; the caller closes the engine after.
 */
public final class CorvusServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(CorvusServer.class.getName());
    private static final String JSON = "application/json";
    private static final String ERROR_WRITTEN = "corvus.errorWritten";
    /** How long a stream may be silent (queued, or prefilling a long prompt) before a keep-alive comment goes out. */
    private static final long KEEP_ALIVE_SECONDS = 2;

    /**
     * How the server listens and what it accepts.
     *
     * @param host           the address to bind (127.0.0.1: this machine only)
     * @param port           the TCP port, 0 for an ephemeral one (see {@link #port()})
     * @param apiKey         when not null, every {@code /v1} and {@code /metrics} request must carry
     *                       {@code Authorization: Bearer apiKey}
     * @param maxBodyBytes   the largest request body read; larger ones get 413
     * @param requestTimeout the longest one generation may take, queueing included
     *                       ({@link Duration#ZERO}: only the engine's own limit)
     */
    public record Options(String host, int port, String apiKey, long maxBodyBytes, Duration requestTimeout) {
        /** 1 MiB, as corvus serve's {@code --max-body} defaults to. */
        public static final long DEFAULT_MAX_BODY = 1 << 20;

        public Options {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0 to 65535, got " + port);
            if (apiKey != null && apiKey.isBlank()) throw new IllegalArgumentException("the API key is blank; give a key or none");
            if (maxBodyBytes < 1) throw new IllegalArgumentException("maxBodyBytes must be >= 1, got " + maxBodyBytes);
            if (requestTimeout == null || requestTimeout.isNegative()) {
                throw new IllegalArgumentException("requestTimeout must be >= 0 (0: none), got " + requestTimeout);
            }
        }

        /** 127.0.0.1:8080, no API key, 1 MiB bodies, no time limit. */
        public static Options defaults() {
            return new Options("127.0.0.1", 8080, null, DEFAULT_MAX_BODY, Duration.ZERO);
        }

        public Options withHost(String host) {
            return new Options(host, port, apiKey, maxBodyBytes, requestTimeout);
        }

        public Options withPort(int port) {
            return new Options(host, port, apiKey, maxBodyBytes, requestTimeout);
        }

        public Options withApiKey(String apiKey) {
            return new Options(host, port, apiKey, maxBodyBytes, requestTimeout);
        }

        public Options withMaxBodyBytes(long maxBodyBytes) {
            return new Options(host, port, apiKey, maxBodyBytes, requestTimeout);
        }

        public Options withRequestTimeout(Duration requestTimeout) {
            return new Options(host, port, apiKey, maxBodyBytes, requestTimeout);
        }
    }

    private final Engine engine;
    private final Requests.Model model;
    private final Options options;
    private final long createdAt = Instant.now().getEpochSecond();
    private final Set<Generation> running = ConcurrentHashMap.newKeySet();
    private final Map<Integer, LongAdder> refused = new ConcurrentHashMap<>();
    private final byte[] expectedAuthorization;
    private final Javalin app;

    private CorvusServer(Engine engine, String modelId, Optional<ChatFormatter> chat, Options options) {
        this.engine = Objects.requireNonNull(engine, "engine");
        this.model = new Requests.Model(Objects.requireNonNull(modelId, "modelId"), engine.tokenizer(), chat, engine.contextLength());
        this.options = options;
        this.expectedAuthorization = options.apiKey() == null ? null : ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
        this.app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.concurrency.useVirtualThreads = true;
            config.http.maxRequestSize = options.maxBodyBytes();
            // the streams flush per event; compressing them would hold text back
            config.http.compressionStrategy = CompressionStrategy.NONE;
            config.routes.before(this::authorize);
            config.routes.post("/v1/chat/completions", ctx -> complete(ctx, true));
            config.routes.post("/v1/completions", ctx -> complete(ctx, false));
            config.routes.get("/v1/models", this::models);
            config.routes.get("/v1/models/{id}", this::oneModel);
            config.routes.get("/health", ctx -> ctx.contentType(JSON).result("{\"status\":\"ok\"}"));
            config.routes.get("/metrics", ctx -> ctx.contentType(Metrics.CONTENT_TYPE).result(Metrics.render(engine.stats(), refusedCounts())));
            config.routes.exception(ApiError.class, (e, ctx) -> error(ctx, e));
            config.routes.exception(HttpResponseException.class, (e, ctx) -> error(ctx, fromJavalin(e)));
            config.routes.exception(Exception.class, (e, ctx) -> {
                LOG.log(Level.WARNING, "request " + ctx.method() + " " + ctx.path() + " failed", e);
                error(ctx, new ApiError(500, "server_error", null, null, "the server failed on this request: " + e));
            });
            // Javalin's own 404/405 (no such route): the same error object as everything else
            config.routes.error(404, ctx -> notFound(ctx));
            config.routes.error(405, ctx -> notFound(ctx));
        });
    }

    /**
     * Starts serving {@code engine}'s model as {@code modelId} (the name clients pass as
     * {@code model}), with chat completions through {@code chat} (without one,
     * {@code /v1/chat/completions} answers 400 and {@code /v1/completions} still works).
     *
     * @throws IllegalStateException when the address cannot be bound
     */
    public static CorvusServer start(Engine engine, String modelId, Optional<ChatFormatter> chat, Options options) {
        CorvusServer s = new CorvusServer(engine, modelId, chat, options);
        s.app.start(options.host(), options.port());
        return s;
    }

    /** The port it listens on (the ephemeral one chosen when {@link Options#port} was 0). */
    public int port() {
        return app.port();
    }

    /** {@code http://host:port}, the base of every endpoint ({@code /v1/...}). */
    public URI url() {
        String host = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        return URI.create("http://" + host + ":" + port());
    }

    public String modelId() {
        return model.id();
    }

    /** Stops listening and cancels the generations its clients are still waiting for; the engine stays open. */
    @Override
    public void close() {
        for (Generation g : running) g.cancel();
        app.stop();
    }

    // ------------------------------------------------------------------ endpoints

    private void complete(Context ctx, boolean chat) throws Exception {
        ObjectNode body = Json.object(body(ctx));
        Requests.Call call = chat ? Requests.chat(body, model) : Requests.completion(body, model);
        GenerationRequest request = new GenerationRequest(call.prompt(), call.maxTokens(), call.sampling(), call.stop(), options.requestTimeout());
        Answer answer = new Answer(call, (chat ? "chatcmpl-" : "cmpl-") + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1),
                Instant.now().getEpochSecond(), model.id());
        if (call.stream()) stream(ctx, request, answer);
        else whole(ctx, request, answer);
    }

    private void whole(Context ctx, GenerationRequest request, Answer answer) throws Exception {
        Generation g = submit(request, new GenerationListener() {});
        try {
            Completion c = g.result().get();
            ctx.contentType(JSON).result(Json.MAPPER.writeValueAsString(answer.whole(c)));
        } catch (ExecutionException e) {
            throw failed(e.getCause());
        } catch (InterruptedException e) {
            g.cancel();
            throw e;
        } finally {
            running.remove(g);
        }
    }

    /**
     * Streams the generation as server-sent events. The engine's thread only queues what it
     * hears; this request's thread writes it, and a write that fails (the client went away)
     * cancels the generation.
     */
    private void stream(Context ctx, GenerationRequest request, Answer answer) throws Exception {
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        Generation g = submit(request, new GenerationListener() {
            @Override
            public void onText(String text) {
                events.add(text);
            }

            @Override
            public void onComplete(Completion completion) {
                events.add(completion);
            }

            @Override
            public void onError(Throwable error) {
                events.add(error);
            }
        });
        try {
            ctx.status(200);
            ctx.res().setCharacterEncoding("UTF-8");
            ctx.res().setContentType("text/event-stream");
            ctx.res().setHeader("Cache-Control", "no-cache");
            ctx.res().setHeader("X-Accel-Buffering", "no");
            ctx.res().flushBuffer(); // the client has its 200 and headers while the request waits in the queue
            SseClient sse = new SseClient(ctx);
            if (answer.call().chat() && !send(sse, answer.roleChunk())) return;
            while (true) {
                Object event = events.poll(KEEP_ALIVE_SECONDS, TimeUnit.SECONDS);
                if (event == null) {
                    // a comment, which clients skip: the write fails once the client has gone, even before the first token
                    if (!sse.terminated()) sse.sendComment("keep-alive");
                    if (sse.terminated()) return;
                } else if (event instanceof String text) {
                    if (!send(sse, answer.textChunk(text))) return;
                } else if (event instanceof Completion c) {
                    if (!send(sse, answer.finalChunk(c))) return;
                    if (answer.call().includeUsage() && !send(sse, answer.usageChunk(c))) return;
                    send(sse, "[DONE]");
                    return;
                } else {
                    ApiError e = failed((Throwable) event);
                    send(sse, errorBody(e));
                    return;
                }
            }
        } finally {
            if (!g.isDone()) g.cancel(); // the client went away, or this thread was stopped
            running.remove(g);
        }
    }

    /** Sends one event; false when the client is gone (the caller stops, and the finally cancels the generation). */
    private static boolean send(SseClient sse, Object data) throws JsonProcessingException {
        if (sse.terminated()) return false;
        sse.sendData(data instanceof String s ? s : Json.MAPPER.writeValueAsString(data));
        return !sse.terminated();
    }

    private Generation submit(GenerationRequest request, GenerationListener listener) {
        Generation g;
        try {
            g = engine.submit(request, listener);
        } catch (QueueFullException e) {
            throw new ApiError(429, "rate_limit_error", null, "queue_full", e.getMessage() + "; retry later");
        } catch (IllegalArgumentException e) {
            throw ApiError.invalid(null, e.getMessage());
        } catch (IllegalStateException e) {
            throw new ApiError(503, "server_error", null, "shutting_down", "the server is shutting down: " + e.getMessage());
        }
        running.add(g);
        return g;
    }

    private static ApiError failed(Throwable cause) {
        return new ApiError(500, "server_error", null, null, "the generation failed: " + cause);
    }

    private void models(Context ctx) throws JsonProcessingException {
        ctx.contentType(JSON).result(Json.MAPPER.writeValueAsString(Map.of("object", "list", "data", List.of(modelObject()))));
    }

    private void oneModel(Context ctx) throws JsonProcessingException {
        String id = ctx.pathParam("id");
        if (!id.equals(model.id())) {
            throw new ApiError(404, "invalid_request_error", "model", "model_not_found", "the model " + Json.MAPPER.getNodeFactory().textNode(id)
                    + " does not exist; this server serves " + Json.MAPPER.getNodeFactory().textNode(model.id()));
        }
        ctx.contentType(JSON).result(Json.MAPPER.writeValueAsString(modelObject()));
    }

    private Map<String, Object> modelObject() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", model.id());
        m.put("object", "model");
        m.put("created", createdAt);
        m.put("owned_by", "corvus");
        m.put("context_length", model.contextLength());
        return m;
    }

    // ------------------------------------------------------------------ requests and errors

    private void authorize(Context ctx) {
        if (expectedAuthorization == null) return;
        String path = ctx.path();
        if (!path.startsWith("/v1/") && !path.equals("/metrics")) return;
        String given = ctx.header("Authorization");
        // constant time, so the key cannot be guessed byte by byte from response times
        if (given == null || !MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), expectedAuthorization)) {
            throw new ApiError(401, "authentication_error", null, "invalid_api_key", given == null
                    ? "no API key: send the header Authorization: Bearer KEY" : "the API key in the Authorization header is not this server's");
        }
    }

    /** The body, read up to the limit: a larger one is refused before it is read whole. */
    private byte[] body(Context ctx) throws IOException {
        long limit = options.maxBodyBytes();
        long declared = ctx.req().getContentLengthLong();
        if (declared > limit) throw tooLarge(declared + " bytes", limit);
        try (InputStream in = ctx.req().getInputStream()) {
            byte[] body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
            if (body.length > limit) throw tooLarge("more than " + limit + " bytes", limit);
            return body;
        }
    }

    private static ApiError tooLarge(String size, long limit) {
        return new ApiError(413, "invalid_request_error", null, "request_too_large",
                "the request body is " + size + "; the limit is " + limit + " bytes (corvus serve --max-body)");
    }

    private static ApiError fromJavalin(HttpResponseException e) {
        int status = e.getStatus();
        if (status == 413) return new ApiError(413, "invalid_request_error", null, "request_too_large", "the request body is too large: " + e.getMessage());
        return new ApiError(status, status >= 500 ? "server_error" : "invalid_request_error", null, null, e.getMessage());
    }

    private void notFound(Context ctx) {
        if (Boolean.TRUE.equals(ctx.attribute(ERROR_WRITTEN))) return; // our own 404 (an unknown model), already written
        error(ctx, new ApiError(ctx.statusCode(), "invalid_request_error", null, "unknown_endpoint",
                "no endpoint " + ctx.method() + " " + ctx.path() + "; this server has POST /v1/chat/completions, POST /v1/completions,"
                        + " GET /v1/models, GET /health and GET /metrics"));
    }

    private void error(Context ctx, ApiError e) {
        ctx.attribute(ERROR_WRITTEN, true);
        try {
            ctx.status(e.status).contentType(JSON).result(Json.MAPPER.writeValueAsString(errorBody(e)));
        } catch (JsonProcessingException impossible) {
            throw new IllegalStateException(impossible);
        }
        if (e.status >= 400 && e.status < 500) {
            // counted by the server, not the engine: these never reached it (429 is the engine's "rejected" as well)
            refused.computeIfAbsent(e.status, k -> new LongAdder()).increment();
        }
    }

    private static Map<String, Object> errorBody(ApiError e) {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("message", e.getMessage());
        inner.put("type", e.type);
        inner.put("param", e.param);
        inner.put("code", e.code);
        return Map.of("error", inner);
    }

    private Map<Integer, Long> refusedCounts() {
        Map<Integer, Long> m = new TreeMap<>();
        refused.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }
}
