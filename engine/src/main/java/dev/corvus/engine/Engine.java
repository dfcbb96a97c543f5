package dev.corvus.engine;

import dev.corvus.model.LlamaModel;
import dev.corvus.model.Sampler;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serves generations from one model on one thread of its own (the model's kernels use the
 * backend's thread pool): requests wait in a bounded queue and run in order of arrival.
 * Thread-safe: any thread may submit and cancel. {@link #close} finishes nothing: running and
 * waiting generations end with an error.
 */
public final class Engine implements AutoCloseable {
    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final EngineConfig config;
    private final int context;
    private final BlockingQueue<Pending> queue;
    private final Thread worker;
    private volatile boolean closed;

    private final AtomicLong submitted = new AtomicLong(), rejected = new AtomicLong(), finishedStop = new AtomicLong(),
            finishedLength = new AtomicLong(), cancelled = new AtomicLong(), timedOut = new AtomicLong(), failed = new AtomicLong(),
            promptTokens = new AtomicLong(), generatedTokens = new AtomicLong(), ttftSum = new AtomicLong(), decodeSteps = new AtomicLong(),
            kvBytes = new AtomicLong();
    private volatile int active, lastBatchSize;

    private record Pending(GenerationRequest request, GenerationListener listener, Generation handle, long submittedAt) {}

    private Engine(LlamaModel model, Tokenizer tokenizer, EngineConfig config) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.config = config;
        int modelContext = model.config().seqLen();
        this.context = config.contextLength() == 0 ? modelContext : Math.min(config.contextLength(), modelContext);
        this.queue = new ArrayBlockingQueue<>(Math.max(1, config.maxQueue() + config.maxBatch()));
        this.worker = Thread.ofPlatform().name("corvus-engine").daemon().unstarted(this::serve);
    }

    /** An engine for {@code model} and its tokenizer, serving until {@link #close}. */
    public static Engine start(LlamaModel model, Tokenizer tokenizer, EngineConfig config) {
        Engine e = new Engine(model, tokenizer, config);
        e.worker.start();
        return e;
    }

    public EngineConfig config() {
        return config;
    }

    /** Positions (prompt plus generated tokens) one generation may use. */
    public int contextLength() {
        return context;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * Queues {@code request}; {@code listener} hears its text as it is generated.
     *
     * @throws QueueFullException       when the queue is full (HTTP 429)
     * @throws IllegalArgumentException when the prompt does not fit the context, or an option is not supported
     * @throws IllegalStateException    after {@link #close}
     */
    public Generation submit(GenerationRequest request, GenerationListener listener) {
        if (closed) throw new IllegalStateException("the engine is closed");
        int[] prompt = request.prompt();
        if (prompt.length >= context) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens; the context holds " + context
                    + " positions, which must leave room for at least one generated token");
        }
        int vocab = model.config().vocabSize();
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("prompt token " + i + " is " + prompt[i] + ", outside the vocabulary [0, " + vocab + ")");
            }
        }
        SamplingOptions s = request.sampling();
        if (s.topK() != 0 || s.minP() != 0) throw new IllegalArgumentException("top_k and min_p are not supported yet");
        Generation handle = new Generation();
        submitted.incrementAndGet();
        if (active + queue.size() >= config.maxQueue() + 1 || !queue.offer(new Pending(request, listener, handle, System.nanoTime()))) {
            rejected.incrementAndGet();
            throw new QueueFullException("the server is busy: " + queue.size() + " requests are waiting (the limit is " + config.maxQueue() + ")");
        }
        return handle;
    }

    public EngineStats stats() {
        return new EngineStats(submitted.get(), rejected.get(), finishedStop.get(), finishedLength.get(), cancelled.get(), timedOut.get(),
                failed.get(), promptTokens.get(), generatedTokens.get(), active, queue.size(), lastBatchSize, kvBytes.get(), ttftSum.get(),
                decodeSteps.get());
    }

    @Override
    public void close() {
        closed = true;
        worker.interrupt();
        try {
            worker.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Pending p; (p = queue.poll()) != null; ) fail(p, new IllegalStateException("the engine closed before this request ran"));
    }

    private void serve() {
        while (!closed) {
            Pending p;
            try {
                p = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            active = 1;
            lastBatchSize = 1;
            try {
                run(p);
            } catch (Throwable t) {
                fail(p, t);
            } finally {
                active = 0;
            }
        }
    }

    private void run(Pending p) {
        GenerationRequest r = p.request();
        SamplingOptions s = r.sampling();
        Sampler sampler = s.isGreedy() ? Sampler.greedy() : Sampler.of(s.temperature(), s.topP(), s.seed());
        long deadline = deadline(p);
        Tokenizer.StreamDecoder decoder = tokenizer.streamDecoder();
        StopMatcher stops = new StopMatcher(r.stop());
        int[] prompt = r.prompt();
        int[] out = new int[Math.min(Math.max(r.maxTokens(), 1), 256)];
        int n = 0;
        long ttft = 0;
        FinishReason finish = FinishReason.LENGTH;
        promptTokens.addAndGet(prompt.length);
        try (LlamaModel.KvCache cache = model.newCache(Math.min(256, context), context)) {
            int[] input = prompt;
            int position = 0;
            while (n < r.maxTokens()) {
                if (p.handle().isCancelled()) {
                    finish = FinishReason.CANCELLED;
                    break;
                }
                if (deadline != 0 && System.nanoTime() - deadline > 0) {
                    finish = FinishReason.TIMEOUT;
                    break;
                }
                int next;
                try (MemoryScope step = MemoryScope.open("engine.step")) {
                    Tensor logits = model.forward(input, position, cache);
                    next = sampler.sample(logits);
                }
                kvBytes.set(cache.byteSize());
                decodeSteps.incrementAndGet();
                position += input.length;
                if (ttft == 0) ttft = System.nanoTime() - p.submittedAt();
                if (tokenizer.isEndOfGeneration(next)) {
                    finish = FinishReason.STOP;
                    break;
                }
                if (n == out.length) out = Arrays.copyOf(out, Math.min(r.maxTokens(), 2 * n));
                out[n++] = next;
                generatedTokens.incrementAndGet();
                String text = stops.append(decoder.next(next));
                if (!text.isEmpty()) p.listener().onText(text);
                if (stops.stopped()) {
                    finish = FinishReason.STOP;
                    break;
                }
                if (position >= context) break; // LENGTH: the context is full
                input = new int[] {next};
            }
        } finally {
            kvBytes.set(0);
        }
        if (finish != FinishReason.STOP || !stops.stopped()) {
            String tail = stops.append(decoder.flush());
            if (!stops.stopped()) tail += stops.flush();
            if (!tail.isEmpty()) p.listener().onText(tail);
        }
        Completion c = new Completion(stops.text(), Arrays.copyOf(out, n), prompt.length, finish, ttft, System.nanoTime() - p.submittedAt());
        count(finish);
        ttftSum.addAndGet(ttft);
        p.listener().onComplete(c);
        p.handle().result().complete(c);
    }

    private long deadline(Pending p) {
        long limit = Math.min(nanos(p.request().timeout()), nanos(config.requestTimeout()));
        return limit == Long.MAX_VALUE ? 0 : p.submittedAt() + limit;
    }

    private static long nanos(java.time.Duration d) {
        return d.isZero() ? Long.MAX_VALUE : d.toNanos();
    }

    private void count(FinishReason f) {
        (switch (f) {
            case STOP -> finishedStop;
            case LENGTH -> finishedLength;
            case CANCELLED -> cancelled;
            case TIMEOUT -> timedOut;
        }).incrementAndGet();
    }

    private void fail(Pending p, Throwable t) {
        failed.incrementAndGet();
        try {
            p.listener().onError(t);
        } finally {
            p.handle().result().completeExceptionally(t);
        }
    }
}
