package dev.corvus.model;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * Text generation loop: the prompt in one prefill call, then one decode call per new token until
 * {@code steps} tokens, a stop token, or the end of the context (the model's, or a smaller limit
 * set with {@link #withContext}). Every new token goes to a callback as soon as it is chosen
 * (stop tokens are not passed on). The KV cache grows with the positions used, so neither a
 * long context nor a huge {@code steps} costs memory up front.
 */
public final class Generator {
    /** llama2.c checkpoints: BOS (1) separates stories in the training data, EOS is 2. */
    public static final int[] LLAMA2C_STOP_TOKENS = {1, 2};

    private final LlamaModel model;
    private final Sampler sampler;
    private final int[] stopTokens;
    private final int context;
    /** Activation bytes the prompt's prefill may hold (0: no budget, the eager forward pass). */
    private final long memoryBudget;
    private final Consumer<LlamaModel.BudgetedForward> onChunkedPrefill;

    public Generator(LlamaModel model, Sampler sampler, int... stopTokens) {
        this(model, sampler, model.config().seqLen(), stopTokens, 0, f -> {});
    }

    private Generator(LlamaModel model, Sampler sampler, int context, int[] stopTokens, long memoryBudget,
            Consumer<LlamaModel.BudgetedForward> onChunkedPrefill) {
        if (context <= 0) throw new IllegalArgumentException("generate: the context must hold at least one position, got " + context);
        this.model = model;
        this.sampler = sampler;
        this.context = context;
        this.stopTokens = stopTokens.clone();
        this.memoryBudget = memoryBudget;
        this.onChunkedPrefill = Objects.requireNonNull(onChunkedPrefill, "onChunkedPrefill");
    }

    /** This generator with the context (prompt plus generated tokens) limited to {@code positions}. */
    public Generator withContext(int positions) {
        return new Generator(model, sampler, positions, stopTokens, memoryBudget, onChunkedPrefill);
    }

    /**
     * This generator with the prompt's prefill held within {@code activationBytes} of activations
     * ({@link LlamaModel#forward(int[], int, LlamaModel.KvCache, long)}: AutoChunk cuts it into
     * chunks when the unchunked pass would exceed the budget); {@code onChunkedPrefill} hears of
     * each prefill that was chunked. A budget no plan fits fails the generation before any token
     * with {@link LlamaModel.BudgetTooSmallException}.
     */
    public Generator withMemoryBudget(long activationBytes, Consumer<LlamaModel.BudgetedForward> onChunkedPrefill) {
        if (activationBytes <= 0) throw new IllegalArgumentException("generate: the memory budget must be positive, got " + activationBytes);
        return new Generator(model, sampler, context, stopTokens, activationBytes, onChunkedPrefill);
    }

    /** Positions the prompt and the generated tokens may fill together. */
    public int context() {
        return context;
    }

    public enum Stop {
        /** {@code steps} tokens were generated. */
        STEPS,
        /** The model produced a stop token. */
        STOP_TOKEN,
        /** The context (the model's {@code seqLen}, or the limit given to {@link #withContext}) is full. */
        CONTEXT_FULL
    }

    /**
     * Timings of one run. Prefill covers the prompt's forward pass and choosing the first new
     * token; decode covers every later token (forward plus sampling, not the callback).
     * {@code generatedTokens} counts every sampled token, a final stop token included.
     */
    public record Stats(int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos, Stop stop) {
        public double prefillTokensPerSecond() {
            return prefillNanos == 0 ? 0 : promptTokens / (prefillNanos / 1e9);
        }

        /** Decode calls per second (the first generated token comes from prefill). */
        public double decodeTokensPerSecond() {
            int decoded = Math.max(0, generatedTokens - 1);
            return decodeNanos == 0 ? 0 : decoded / (decodeNanos / 1e9);
        }

        public String summary() {
            return String.format(java.util.Locale.ROOT, "prefill: %d tokens, %.1f tok/s; decode: %d tokens, %.1f tok/s; stop: %s",
                    promptTokens, prefillTokensPerSecond(), Math.max(0, generatedTokens - 1), decodeTokensPerSecond(),
                    stop.name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    /** The generated tokens (prompt and stop token excluded) and the timings. */
    public record Result(int[] tokens, Stats stats) {}

    /** Generates up to {@code steps} tokens after {@code prompt} (which must hold at least one token, e.g. BOS). */
    public Result generate(int[] prompt, int steps, IntConsumer onToken) {
        if (prompt.length == 0) throw new IllegalArgumentException("generate: the prompt is empty; start it with BOS");
        if (steps < 0) throw new IllegalArgumentException("generate: steps must be >= 0, got " + steps);
        int capacity = context;
        if (prompt.length > capacity) {
            throw new IllegalArgumentException("generate: the prompt has " + prompt.length + " tokens, more than the context of " + capacity);
        }
        int[] out = new int[Math.min(steps, 256)]; // grows: steps may be Integer.MAX_VALUE
        int n = 0;
        long prefillNanos = 0, decodeNanos = 0;
        Stop stop = Stop.STEPS;
        try (LlamaModel.KvCache cache = model.newCache(capacity)) {
            int[] input = prompt;
            int position = 0;
            while (n < steps) {
                long t0 = System.nanoTime();
                int next;
                try (MemoryScope scope = MemoryScope.open("generate.step")) {
                    Tensor logits;
                    if (position == 0 && memoryBudget > 0) {
                        LlamaModel.BudgetedForward prefill = model.forward(input, position, cache, memoryBudget);
                        if (prefill.chunked()) onChunkedPrefill.accept(prefill);
                        logits = prefill.logits();
                    } else {
                        logits = model.forward(input, position, cache);
                    }
                    next = sampler.sample(logits);
                } catch (Sampler.NonFiniteLogitsException e) {
                    throw new Sampler.NonFiniteLogitsException("generate: at position " + (position + input.length - 1) + " ("
                            + prompt.length + " prompt tokens, " + n + " generated): " + e.getMessage());
                }
                long dt = System.nanoTime() - t0;
                if (position == 0) prefillNanos = dt;
                else decodeNanos += dt;
                position += input.length;
                if (isStop(next)) {
                    stop = Stop.STOP_TOKEN;
                    break;
                }
                if (n == out.length) out = Arrays.copyOf(out, (int) Math.min(Integer.MAX_VALUE - 8, 2L * n + 1));
                out[n++] = next;
                onToken.accept(next);
                if (position >= capacity && n < steps) {
                    stop = Stop.CONTEXT_FULL;
                    break;
                }
                input = new int[] {next};
            }
        }
        int generated = n + (stop == Stop.STOP_TOKEN ? 1 : 0);
        return new Result(Arrays.copyOf(out, n), new Stats(prompt.length, generated, prefillNanos, decodeNanos, stop));
    }

    private boolean isStop(int token) {
        for (int s : stopTokens) if (s == token) return true;
        return false;
    }
}
