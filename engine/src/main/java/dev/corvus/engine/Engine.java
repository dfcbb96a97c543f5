package dev.corvus.engine;

import dev.corvus.model.LlamaModel;
import dev.corvus.model.Sampler;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Serves generations from one model with continuous batching, on one thread of its own (the
 * model's kernels use the backend's thread pool). Requests wait in a bounded FIFO queue; up to
 * {@link EngineConfig#maxBatch()} are active at once. Every step admits waiting requests while
 * there is room, gives each active generation either its next prompt chunk or its one decode
 * token, and runs them all through a single {@link LlamaModel#forwardBatch}, so the weights are
 * read once per step for every stream. The prompt tokens of one step add up to at most
 * {@link EngineConfig#prefillChunk()}, oldest request first: a long prompt is spread over steps
 * and the running streams get a token every step meanwhile. Cancellation and time limits are
 * checked every step; a finished generation's KV cache is freed at once.
 *
 * <p>With a KV cache budget ({@link EngineConfig#kvCacheBudget()}) the caches of all running
 * generations together never hold more than that many bytes: a waiting request is admitted only
 * when its prompt's cache fits beside the running ones, the engine grows caches itself (doubling
 * while the budget allows, else to exactly what the step needs), and when a step would not fit,
 * the most recently submitted generation is pre-empted: its cache is freed and it waits, ahead of
 * new requests, to recompute its prompt and the tokens it generated so far (vLLM's recompute
 * pre-emption), after which it continues where it stopped. A generation alone whose next position
 * does not fit the budget ends with {@link FinishReason#LENGTH}, as at the end of its context.
 *
 * <p>Thread-safe: any thread may submit, cancel and read {@link #stats}; listeners run on the
 * engine's thread. {@link #close} finishes nothing: running and waiting generations end with an
 * error.
 */
public final class Engine implements AutoCloseable {
    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final EngineConfig config;
    private final int context;
    /** KV cache bytes per position of one generation. */
    private final long bytesPerPosition;
    private final Thread worker;

    /** Guards {@link #waiting} and {@link #admitted}; {@link #work} wakes the idle engine thread. */
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<Pending> waiting = new ArrayDeque<>();
    /** Requests accepted and not finished: active plus waiting, what the queue limit bounds. */
    private int admitted;
    private volatile boolean closed;

    /** Only the engine thread touches these. */
    private final List<Active> active = new ArrayList<>();
    /** Generations pre-empted for the KV budget, oldest submission first: admitted before {@link #waiting}. */
    private final List<Active> preempted = new ArrayList<>();

    private final AtomicLong submitted = new AtomicLong(), rejected = new AtomicLong(), finishedStop = new AtomicLong(),
            finishedLength = new AtomicLong(), cancelled = new AtomicLong(), timedOut = new AtomicLong(), failed = new AtomicLong(),
            promptTokens = new AtomicLong(), generatedTokens = new AtomicLong(), ttftSum = new AtomicLong(), decodeSteps = new AtomicLong(),
            preemptions = new AtomicLong();
    private volatile int activeCount, preemptedCount, lastBatchSize;
    private volatile long kvBytes;

    private record Pending(GenerationRequest request, GenerationListener listener, Generation handle, long submittedAt, long deadline) {}

    private Engine(LlamaModel model, Tokenizer tokenizer, EngineConfig config) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.config = config;
        int modelContext = model.config().seqLen();
        this.context = config.contextLength() == 0 ? modelContext : Math.min(config.contextLength(), modelContext);
        this.worker = Thread.ofPlatform().name("corvus-engine").daemon().unstarted(this::serve);
        try (LlamaModel.KvCache probe = model.newCache(1, 1)) {
            this.bytesPerPosition = probe.bytesPerPosition();
        }
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
     * @throws QueueFullException       when {@code maxBatch} generations run and {@code maxQueue} more wait (HTTP 429)
     * @throws IllegalArgumentException when the prompt does not fit the context or holds a token outside the vocabulary
     * @throws IllegalStateException    after {@link #close}
     */
    public Generation submit(GenerationRequest request, GenerationListener listener) {
        if (closed) throw new IllegalStateException("the engine is closed");
        int[] prompt = request.prompt();
        if (prompt.length >= context) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens; the context holds " + context
                    + " positions, which must leave room for at least one generated token");
        }
        long budget = config.kvCacheBudget();
        if (budget > 0 && bytesPerPosition * (prompt.length + 1L) > budget) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens; with the first generated token its KV cache needs "
                    + bytesPerPosition * (prompt.length + 1L) + " bytes (" + bytesPerPosition + " a position), more than the whole KV cache budget of "
                    + budget + " bytes");
        }
        int vocab = model.config().vocabSize();
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("prompt token " + i + " is " + prompt[i] + ", outside the vocabulary [0, " + vocab + ")");
            }
        }
        Generation handle = new Generation();
        long now = System.nanoTime();
        submitted.incrementAndGet();
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the engine is closed");
            if (admitted >= config.maxBatch() + config.maxQueue()) {
                rejected.incrementAndGet();
                throw new QueueFullException("the server is busy: " + activeCount + " generations run and " + waiting.size()
                        + " wait (the limits are " + config.maxBatch() + " and " + config.maxQueue() + ")");
            }
            admitted++;
            waiting.add(new Pending(request, listener, handle, now, deadline(request, now)));
            work.signal();
        } finally {
            lock.unlock();
        }
        return handle;
    }

    /** Prompt lengths a warm-up round runs: one row, the several-row GEMV, the small-m path (9+ rows), longer chunks. */
    private static final int[] WARM_UP_PROMPTS = {1, 5, 9, 17, 40};
    /** Tokens each warm-up generation decodes. */
    private static final int WARM_UP_TOKENS = 16;

    /**
     * Runs throwaway generations for about {@code budget} (at least one round, each round a
     * prompt of every length in {@link #WARM_UP_PROMPTS} alone and then {@code min(maxBatch, 4)}
     * streams together), so that the JIT has compiled the prefill and batched decode kernels
     * before the first client comes, then zeroes the counters {@link #stats} reports. Call it
     * before serving. Why: a prompt's prefill runs once a request, so its kernels (the small-m
     * path from 9 rows) stay interpreted long after decode is compiled; in-process on the AMD EPYC
     * VM (2 vCPUs, load 8-11) the first 9-token prefill took 1.6 s and the next ones 480, 76,
     * 43 ms before settling at about 21, while bench_serve.py's three warm-up requests all used a
     * 5-token prompt, so its measured requests paid this (corvus serve before this, 1 stream, load
     * 8.5-10.7: TTFT mean 292 and 175 ms, p90 989 and 632, in two runs; 40 and 36 ms after).
     *
     * @return the generations run
     */
    public int warmUp(Duration budget) throws InterruptedException {
        long end = System.nanoTime() + budget.toNanos();
        int vocab = model.config().vocabSize(), streams = Math.min(config.maxBatch(), 4), runs = 0;
        do {
            for (int length : WARM_UP_PROMPTS) {
                runs += warmUpRound(length, 1, vocab);
            }
            runs += warmUpRound(WARM_UP_PROMPTS[1], streams, vocab);
        } while (System.nanoTime() - end < 0);
        for (AtomicLong c : List.of(submitted, rejected, finishedStop, finishedLength, cancelled, timedOut, failed, promptTokens, generatedTokens,
                ttftSum, decodeSteps, preemptions)) {
            c.set(0);
        }
        return runs;
    }

    /** {@code streams} generations of a {@code length}-token prompt at once; 0 when the prompt does not fit this engine. */
    private int warmUpRound(int length, int streams, int vocab) throws InterruptedException {
        if (length + WARM_UP_TOKENS >= context
                || (config.kvCacheBudget() > 0 && bytesPerPosition * (long) streams * (length + WARM_UP_TOKENS) > config.kvCacheBudget())) {
            return 0;
        }
        List<Generation> gens = new ArrayList<>();
        for (int s = 0; s < streams; s++) {
            int[] prompt = new int[length];
            // tokens spread over the vocabulary; any valid ids do, the text is thrown away
            for (int i = 0; i < length; i++) prompt[i] = (int) ((1L + s + 7919L * i) % vocab);
            gens.add(submit(new GenerationRequest(prompt, WARM_UP_TOKENS, SamplingOptions.greedy()), new GenerationListener() {}));
        }
        for (Generation g : gens) {
            try {
                g.result().get();
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("the warm-up generation failed: " + e.getCause(), e.getCause());
            }
        }
        return streams;
    }

    public EngineStats stats() {
        int queued;
        lock.lock();
        try {
            queued = waiting.size();
        } finally {
            lock.unlock();
        }
        return new EngineStats(submitted.get(), rejected.get(), finishedStop.get(), finishedLength.get(), cancelled.get(), timedOut.get(),
                failed.get(), promptTokens.get(), generatedTokens.get(), activeCount, queued + preemptedCount, lastBatchSize, kvBytes, ttftSum.get(),
                decodeSteps.get(), preemptions.get());
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            worker.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // the engine thread fails what it holds as it leaves; requests that raced with close land here
        for (Pending p; (p = pollWaiting()) != null; ) fail(p, closedError());
    }

    // ---------------------------------------------------------------- the engine thread

    /** One admitted generation: its request, its cache and sampler, and how far it got. */
    private final class Active {
        final Pending pending;
        /** Tokens to prefill: the prompt, or after a pre-emption the prompt and every token generated so far. */
        int[] feed;
        final Sampler sampler;
        /** Null while pre-empted. */
        LlamaModel.KvCache cache;
        final Tokenizer.StreamDecoder decoder = tokenizer.streamDecoder();
        final StopMatcher stops;
        /** Tokens of {@link #feed} in the cache; once it reaches feed.length the generation decodes. */
        int prefilled;
        /** The token to feed next while decoding. */
        int nextInput = -1;
        int[] out;
        int generated;
        long ttft;
        /** The listener threw: it hears nothing more. */
        boolean listenerFailed;
        /** Pre-empted once: what it prefills now was counted as prompt tokens or generated before. */
        boolean recomputing;

        Active(Pending p) {
            this.pending = p;
            this.feed = p.request().prompt();
            SamplingOptions s = p.request().sampling();
            this.sampler = s.isGreedy() ? Sampler.greedy() : Sampler.of(s.temperature(), s.topP(), s.topK(), s.minP(), s.seed());
            this.stops = new StopMatcher(p.request().stop());
            this.out = new int[Math.min(Math.max(p.request().maxTokens(), 1), 256)];
            this.cache = newCache();
        }

        boolean decoding() {
            return prefilled == feed.length;
        }

    }

    private void serve() {
        try {
            while (true) {
                if (!awaitWork()) break;
                try {
                    step();
                } catch (Throwable t) {
                    // a failure no single generation can be blamed for (out of memory in the batch): it ends them all
                    for (Active a : List.copyOf(active)) fail(a, t);
                }
            }
        } finally {
            IllegalStateException closing = closedError();
            for (Active a : List.copyOf(active)) fail(a, closing);
            for (Active a : List.copyOf(preempted)) fail(a, closing);
            for (Pending p; (p = pollWaiting()) != null; ) fail(p, closing);
        }
    }

    /** Blocks while nothing is active or waiting; false once the engine is closed. */
    private boolean awaitWork() {
        lock.lock();
        try {
            while (!closed && active.isEmpty() && preempted.isEmpty() && waiting.isEmpty()) work.awaitUninterruptibly();
            return !closed;
        } finally {
            lock.unlock();
        }
    }

    /** Admits, checks, runs one batched forward pass, samples and streams. */
    private void step() {
        long now = System.nanoTime();
        endWaitingThatWereCancelledOrExpired(now);
        endCancelledOrExpired(preempted, now);
        admit();
        endCancelledOrExpired(active, now);
        if (active.isEmpty()) return;

        List<Active> batch = new ArrayList<>(active.size());
        List<LlamaModel.SequenceStep> steps = new ArrayList<>(active.size());
        while (true) {
            plan(batch, steps);
            if (config.kvCacheBudget() == 0 || growWithinBudget(batch, steps)) break;
            Active youngest = active.getFirst();
            for (Active a : active) if (a.pending.submittedAt() - youngest.pending.submittedAt() > 0) youngest = a;
            if (active.size() == 1) {
                finish(youngest, FinishReason.LENGTH); // alone and still over: the budget is its context
                return;
            }
            preempt(youngest);
        }
        lastBatchSize = batch.size();
        int[] sampled = new int[batch.size()];
        RuntimeException[] samplingError = new RuntimeException[batch.size()];
        try (MemoryScope scope = MemoryScope.open("engine.step")) {
            Tensor logits = model.forwardBatch(steps);
            decodeSteps.incrementAndGet();
            for (int i = 0; i < batch.size(); i++) {
                Active a = batch.get(i);
                sampled[i] = -1;
                if (!a.decoding()) {
                    a.prefilled += steps.get(i).tokens().length;
                    if (!a.recomputing) promptTokens.addAndGet(steps.get(i).tokens().length);
                    if (!a.decoding()) continue; // more of the prompt to go: these logits predict nothing wanted
                }
                try {
                    sampled[i] = a.sampler.sample(logits.narrow(0, i, 1));
                } catch (RuntimeException e) {
                    samplingError[i] = e;
                }
            }
        }
        updateKvBytes();
        // listeners and futures hear of the tokens once the step's memory is freed: a finished generation leaves nothing behind
        for (int i = 0; i < batch.size(); i++) {
            if (samplingError[i] != null) fail(batch.get(i), samplingError[i]);
            else if (sampled[i] >= 0) accept(batch.get(i), sampled[i]);
        }
    }

    /** Ends the generations of {@code generations} whose client cancelled them or whose time is up. */
    private void endCancelledOrExpired(List<Active> generations, long now) {
        for (Active a : List.copyOf(generations)) {
            if (a.pending.handle().isCancelled()) finish(a, FinishReason.CANCELLED);
            else if (expired(a.pending, now)) finish(a, FinishReason.TIMEOUT);
        }
    }

    /** Every decoding generation gets its token; prompt chunks share one budget of tokens, oldest first. */
    private void plan(List<Active> batch, List<LlamaModel.SequenceStep> steps) {
        batch.clear();
        steps.clear();
        int promptBudget = config.prefillChunk();
        for (Active a : active) {
            if (a.decoding()) {
                steps.add(new LlamaModel.SequenceStep(new int[] {a.nextInput}, a.cache.length(), a.cache));
            } else if (promptBudget > 0) {
                int chunk = Math.min(promptBudget, a.feed.length - a.prefilled);
                promptBudget -= chunk;
                steps.add(new LlamaModel.SequenceStep(Arrays.copyOfRange(a.feed, a.prefilled, a.prefilled + chunk), a.prefilled, a.cache));
            } else {
                continue;
            }
            batch.add(a);
        }
    }

    /**
     * Grows the caches of the step's generations so that all caches together stay within the KV
     * budget: by doubling when the budget allows, else by as much as it allows (fewer copies than
     * growing a position at a time), at least to what the step needs. False, changing nothing,
     * when even that does not fit. The budget bounds what the caches hold between steps: while a
     * cache grows, its old copy lives beside the new one until its positions are copied over
     * (the caches are contiguous, not paged).
     */
    private boolean growWithinBudget(List<Active> batch, List<LlamaModel.SequenceStep> steps) {
        long budgetPositions = config.kvCacheBudget() / bytesPerPosition;
        long positions = 0;
        for (Active a : active) positions += a.cache.capacity();
        int[] target = new int[batch.size()];
        for (int i = 0; i < batch.size(); i++) {
            LlamaModel.KvCache cache = batch.get(i).cache;
            LlamaModel.SequenceStep s = steps.get(i);
            target[i] = Math.max(cache.capacity(), s.startPosition() + s.tokens().length);
            positions += target[i] - cache.capacity();
        }
        if (positions > budgetPositions) return false;
        for (int i = 0; i < batch.size(); i++) {
            LlamaModel.KvCache cache = batch.get(i).cache;
            if (target[i] == cache.capacity()) continue;
            long doubled = Math.min(cache.maxCapacity(), Math.max(target[i], 2L * cache.capacity()));
            long grown = Math.min(doubled, target[i] + (budgetPositions - positions));
            positions += grown - target[i];
            target[i] = (int) grown;
        }
        for (int i = 0; i < batch.size(); i++) batch.get(i).cache.ensureCapacity(target[i]);
        return true;
    }

    /** Frees a generation's cache and puts it back to wait, to recompute what it had when there is room again. */
    private void preempt(Active a) {
        active.remove(a);
        a.cache.close();
        a.cache = null;
        int[] prompt = a.pending.request().prompt();
        a.feed = Arrays.copyOf(prompt, prompt.length + a.generated);
        System.arraycopy(a.out, 0, a.feed, prompt.length, a.generated);
        a.prefilled = 0;
        a.recomputing = true;
        int at = 0;
        while (at < preempted.size() && preempted.get(at).pending.submittedAt() - a.pending.submittedAt() <= 0) at++;
        preempted.add(at, a);
        preemptions.incrementAndGet();
        activeCount = active.size();
        preemptedCount = preempted.size();
        updateKvBytes();
    }

    /** A fresh cache; under a KV budget a small one that the engine grows itself. */
    private LlamaModel.KvCache newCache() {
        return config.kvCacheBudget() == 0 ? model.newCache(context) : model.newCache(Math.min(context, 16), context);
    }

    /** Whether a generation that must prefill {@code tokens} tokens and decode one fits beside the running ones. */
    private boolean fitsBudget(int tokens) {
        if (config.kvCacheBudget() == 0) return true;
        long positions = tokens + 1L;
        for (Active a : active) positions += a.cache.capacity();
        return positions * bytesPerPosition <= config.kvCacheBudget();
    }

    /** A sampled token: the end of generation, or text to stream and the next input. */
    private void accept(Active a, int token) {
        if (a.ttft == 0) a.ttft = Math.max(1, System.nanoTime() - a.pending.submittedAt());
        if (tokenizer.isEndOfGeneration(token)) {
            finish(a, FinishReason.STOP);
            return;
        }
        if (a.generated == a.out.length) a.out = Arrays.copyOf(a.out, (int) Math.min(a.pending.request().maxTokens(), 2L * a.generated));
        a.out[a.generated++] = token;
        a.nextInput = token;
        generatedTokens.incrementAndGet();
        String text = a.stops.append(a.decoder.next(token));
        if (!text.isEmpty() && !tell(a, text)) return;
        if (a.stops.stopped()) finish(a, FinishReason.STOP);
        else if (a.generated == a.pending.request().maxTokens() || a.cache.length() >= context) finish(a, FinishReason.LENGTH); // no room to feed it
    }

    /** Streams text to the listener; one that throws cancels its own generation (false then). */
    private boolean tell(Active a, String text) {
        if (deliver(a, text)) return true;
        a.pending.handle().cancel();
        finish(a, FinishReason.CANCELLED);
        return false;
    }

    /** Hands text to the listener; false when it throws, after which it hears no more text. */
    private static boolean deliver(Active a, String text) {
        try {
            a.pending.listener().onText(text);
            return true;
        } catch (Throwable t) {
            rethrowIfFatal(t);
            a.listenerFailed = true;
            return false;
        }
    }

    private void admit() {
        while (active.size() < config.maxBatch() && !preempted.isEmpty() && fitsBudget(preempted.getFirst().feed.length)) {
            Active a = preempted.removeFirst();
            preemptedCount = preempted.size();
            try {
                a.cache = newCache();
                active.add(a);
            } catch (RuntimeException | OutOfMemoryError e) {
                release(a.pending);
                fail(a.pending, e);
            }
        }
        while (active.size() < config.maxBatch() && preempted.isEmpty()) {
            Pending p = pollWaiting();
            if (p == null) break;
            if (!fitsBudget(p.request().prompt().length)) {
                if (!active.isEmpty()) {
                    unpoll(p);
                    break;
                }
            }
            if (p.request().maxTokens() == 0) {
                release(p);
                complete(p, FinishReason.LENGTH, "", new int[0], 0);
                continue;
            }
            try {
                active.add(new Active(p));
            } catch (RuntimeException | OutOfMemoryError e) {
                release(p);
                fail(p, e);
            }
        }
        activeCount = active.size();
        updateKvBytes();
    }

    private void endWaitingThatWereCancelledOrExpired(long now) {
        List<Pending> ended = new ArrayList<>();
        lock.lock();
        try {
            for (Iterator<Pending> it = waiting.iterator(); it.hasNext(); ) {
                Pending p = it.next();
                if (p.handle().isCancelled() || expired(p, now)) {
                    it.remove();
                    ended.add(p);
                }
            }
        } finally {
            lock.unlock();
        }
        for (Pending p : ended) {
            release(p);
            complete(p, p.handle().isCancelled() ? FinishReason.CANCELLED : FinishReason.TIMEOUT, "", new int[0], 0);
        }
    }

    /** Ends an active generation: its cache is freed first, then the listener and the future hear of it. */
    private void finish(Active a, FinishReason reason) {
        retire(a);
        if (reason != FinishReason.STOP || !a.stops.stopped()) {
            // the held-back tail (an incomplete character, a prefix of a stop string) is part of the answer after all
            String tail = a.stops.append(a.decoder.flush());
            if (!a.stops.stopped()) tail += a.stops.flush();
            if (!tail.isEmpty() && !a.listenerFailed && !deliver(a, tail)) reason = FinishReason.CANCELLED;
        }
        complete(a.pending, reason, a.stops.text(), Arrays.copyOf(a.out, a.generated), a.ttft);
    }

    private void fail(Active a, Throwable t) {
        retire(a);
        fail(a.pending, t);
    }

    /** Takes a generation out of the batch (or the pre-empted) and frees its cache now. */
    private void retire(Active a) {
        if (active.remove(a) | preempted.remove(a)) {
            if (a.cache != null) a.cache.close();
            activeCount = active.size();
            preemptedCount = preempted.size();
            updateKvBytes();
            release(a.pending);
        }
    }

    private void updateKvBytes() {
        long sum = 0;
        for (Active a : active) sum += a.cache.byteSize();
        kvBytes = sum;
    }

    private void release(Pending p) {
        lock.lock();
        try {
            admitted--;
        } finally {
            lock.unlock();
        }
    }

    private void complete(Pending p, FinishReason reason, String text, int[] tokens, long ttft) {
        Completion c = new Completion(text, tokens, p.request().prompt().length, reason, ttft, System.nanoTime() - p.submittedAt());
        count(reason);
        ttftSum.addAndGet(ttft);
        try {
            p.listener().onComplete(c);
        } catch (Throwable t) {
            rethrowIfFatal(t); // else the generation is over: a listener failing to hear so changes nothing for the others
        }
        p.handle().result().complete(c);
    }

    /** Puts a request taken from the queue back at its head. */
    private void unpoll(Pending p) {
        lock.lock();
        try {
            waiting.addFirst(p);
        } finally {
            lock.unlock();
        }
    }

    private Pending pollWaiting() {
        lock.lock();
        try {
            return waiting.poll();
        } finally {
            lock.unlock();
        }
    }

    private static boolean expired(Pending p, long now) {
        return p.deadline() != 0 && now - p.deadline() > 0;
    }

    /** When the request must end (System.nanoTime), or 0 for never: the sooner of its own limit and the engine's. */
    private long deadline(GenerationRequest r, long submittedAt) {
        long limit = Math.min(nanos(r.timeout()), nanos(config.requestTimeout()));
        if (limit == Long.MAX_VALUE) return 0;
        long d = submittedAt + limit;
        return d == 0 ? 1 : d;
    }

    private static long nanos(Duration d) {
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

    /** A listener's exception or assertion is its own; the JVM running out of memory or stack is everyone's. */
    private static void rethrowIfFatal(Throwable t) {
        if (t instanceof VirtualMachineError fatal) throw fatal;
    }

    private static IllegalStateException closedError() {
        return new IllegalStateException("the engine closed before this request finished");
    }

    private void fail(Pending p, Throwable t) {
        failed.incrementAndGet();
        try {
            p.listener().onError(t);
        } catch (Throwable e) {
            rethrowIfFatal(e);
            t.addSuppressed(e);
        } finally {
            p.handle().result().completeExceptionally(t);
        }
    }
}
