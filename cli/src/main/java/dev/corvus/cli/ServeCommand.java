package dev.corvus.cli;

import dev.corvus.chat.ChatFormatter;
import dev.corvus.engine.Engine;
import dev.corvus.engine.EngineConfig;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.Tokenizer;
import dev.corvus.server.CorvusServer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code corvus serve}: an OpenAI-compatible HTTP server for one model until Ctrl-C, which
 * stops it cleanly (listener closed, running generations cancelled, the model unmapped).
 */
@Command(name = "serve", sortOptions = false,
        description = {"Serve a model over an OpenAI-compatible HTTP API until Ctrl-C:",
            "POST /v1/chat/completions, POST /v1/completions (streamed with \"stream\": true), GET /v1/models, GET /health, GET /metrics."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "PATH", description = "llama2.c checkpoint (.bin) or GGUF file (default: TinyStories 15M, fetched into ~/.cache/corvus).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "llama2.c tokenizer.bin (default: the GGUF's own, or tokenizer.bin beside the checkpoint).")
    Path tokenizer;

    @Option(names = "--host", paramLabel = "ADDRESS", description = "Address to listen on (default ${DEFAULT-VALUE}: this machine only; 0.0.0.0 for every interface).",
            defaultValue = "127.0.0.1")
    String host;

    @Option(names = "--port", paramLabel = "N", description = "TCP port (default ${DEFAULT-VALUE}; 0 picks a free one, printed at start).", defaultValue = "8080")
    int port;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Require the header Authorization: Bearer KEY on /v1 and /metrics (default: the CORVUS_API_KEY environment variable, else none).")
    String apiKey;

    @Option(names = "--alias", paramLabel = "NAME", description = "The model's name in the API (default: the file name without its extension).")
    String alias;

    @Option(names = "--ctx", paramLabel = "N", description = "Context limit per request in tokens, prompt included (default: the model's own context).")
    Integer ctx;

    @Option(names = {"--max-batch", "--max-concurrency"}, paramLabel = "N", description = "Generations decoding at once (default ${DEFAULT-VALUE}).",
            defaultValue = "8")
    int maxBatch;

    @Option(names = "--max-queue", paramLabel = "N", description = "Requests waiting beyond those; more get HTTP 429 (default ${DEFAULT-VALUE}).", defaultValue = "64")
    int maxQueue;

    @Option(names = "--kv-budget", paramLabel = "BYTES", description = "Most memory the running generations' KV caches may hold together,"
            + " e.g. 512M; beyond it the newest generation is paused and recomputed later (default ${DEFAULT-VALUE}: no limit).", defaultValue = "0")
    String kvBudget;

    @Option(names = "--max-body", paramLabel = "BYTES", description = "Largest request body, e.g. 1M or 65536; larger ones get HTTP 413 (default ${DEFAULT-VALUE}).",
            defaultValue = "1M")
    String maxBody;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Longest time one request may take, queueing included; it then ends with"
            + " finish_reason \"timeout\" (default ${DEFAULT-VALUE}: no limit).", defaultValue = "0")
    double timeout;

    @Option(names = "--warmup", paramLabel = "SECONDS", description = "Before listening, run throwaway generations for about this long (at least"
            + " one round) so the first clients do not wait for the JIT to compile the prefill kernels; 0 turns it off (default ${DEFAULT-VALUE}).",
            defaultValue = "2")
    double warmup;

    @Option(names = "--chat-template", paramLabel = "FILE", description = "Jinja chat template for /v1/chat/completions instead of the model's"
            + " (a model without one answers chat requests with HTTP 400).")
    Path chatTemplate;

    @Spec
    CommandSpec spec;

    /** Held so java.util.logging, which keeps loggers weakly, keeps their levels. */
    private static final List<Logger> QUIETED = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port " + port + ": expected 0 to 65535");
        if (ctx != null && ctx <= 0) throw new IllegalArgumentException("--ctx must be positive, got " + ctx);
        if (maxBatch < 1) throw new IllegalArgumentException("--max-batch must be at least 1, got " + maxBatch);
        if (maxQueue < 0) throw new IllegalArgumentException("--max-queue must be at least 0, got " + maxQueue);
        if (!(timeout >= 0) || Double.isInfinite(timeout)) throw new IllegalArgumentException("--timeout must be a number of seconds >= 0, got " + timeout);
        long bodyLimit = HeteroSetup.parseBytes("--max-body", maxBody);
        long kvCacheBudget = HeteroSetup.parseBytes("--kv-budget", kvBudget);
        if (bodyLimit < 1) throw new IllegalArgumentException("--max-body must be at least 1 byte, got " + maxBody);
        String key = apiKey != null ? apiKey : System.getenv("CORVUS_API_KEY");
        if (key != null && key.isBlank()) key = null;
        if (!(warmup >= 0) || Double.isInfinite(warmup)) throw new IllegalArgumentException("--warmup must be a number of seconds >= 0, got " + warmup);
        if (chatTemplate != null) Cli.requireFile(chatTemplate, "--chat-template");
        CorvusServer.Options options = new CorvusServer.Options(host, port, key, bodyLimit, Duration.ofNanos((long) (timeout * 1e9)));

        // Jetty's and Javalin's start-up notes (INFO, a dozen lines) say nothing the URL line does not; warnings still show
        for (String name : List.of("org.eclipse.jetty", "io.javalin")) {
            Logger l = Logger.getLogger(name);
            l.setLevel(Level.WARNING);
            QUIETED.add(l);
        }
        Path path = model != null ? model : Cli.defaultModel();
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        Checkpoint ckpt = Cli.load(path, tokenizer);
        Engine engine = null;
        CorvusServer server = null;
        boolean hasChat;
        try {
            Tokenizer tok = Cli.tokenizer(ckpt, path);
            // a model without a template chats in ChatML, as llama-server, corvus chat and the LangChain4j models do
            ChatFormatter formatter = ChatFormatter.forModel(path, chatTemplate, tok);
            if (formatter.usesFallback()) {
                err.println("corvus serve: " + path.getFileName() + " has no chat template; /v1/chat/completions uses ChatML, as llama.cpp does"
                        + " (--chat-template FILE to give one)");
            }
            Optional<ChatFormatter> chat = Optional.of(formatter);
            if (ctx != null && ctx > ckpt.config().seqLen()) {
                throw new IllegalArgumentException("--ctx " + ctx + " is beyond the model's context of " + ckpt.config().seqLen() + " tokens");
            }
            engine = Engine.start(new LlamaModel(ckpt.config(), ckpt.weights()), tok,
                    new EngineConfig(maxBatch, maxQueue, ctx == null ? 0 : ctx, EngineConfig.defaults().prefillChunk(), Duration.ZERO,
                            kvCacheBudget));
            if (warmup > 0) {
                long t0 = System.nanoTime();
                int runs = engine.warmUp(Duration.ofNanos((long) (warmup * 1e9)));
                err.printf(java.util.Locale.ROOT, "corvus serve: warmed up with %d generations in %.1f s (--warmup 0 skips it)%n", runs, (System.nanoTime() - t0) / 1e9);
                err.flush();
            }
            String id = alias != null ? alias : withoutExtension(path.getFileName().toString());
            server = CorvusServer.start(engine, id, chat, options);
            hasChat = chat.isPresent();
        } catch (RuntimeException | java.io.IOException | InterruptedException e) {
            if (engine != null) engine.close();
            ckpt.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        CorvusServer running = server;
        Engine runningEngine = engine;
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("corvus-serve-shutdown").unstarted(() -> {
            err.println("corvus: stopping");
            err.flush();
            running.close();
            runningEngine.close(); // waits for the engine's thread, so the weights are no longer read when they are unmapped
            ckpt.close();
            stopped.countDown();
        }));
        out.println("corvus: serving " + server.modelId() + " (" + engine.contextLength() + "-token context, "
                + (hasChat ? "chat template" : "no chat template: /v1/completions only") + (key != null ? ", API key required" : "") + ") at "
                + server.url() + "/v1; Ctrl-C stops");
        Cli.flush(out);
        stopped.await();
        return Main.OK;
    }

    private static String withoutExtension(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }
}
