package dev.corvus.model;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.chunking.AutoChunk;
import dev.corvus.chunking.ChunkedProgram;
import dev.corvus.chunking.Execution;
import dev.corvus.chunking.Graph;
import dev.corvus.chunking.Node;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeTable;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.Tape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The decoder forward pass of every {@link Architecture} (Llama 2/3, Mistral, Qwen 2/3, Phi-3,
 * Gemma 2/3): token embedding (times {@code embeddingScale}), then per block
 * RMSNorm → q, k, v (+ biases) → per-head q/k RMSNorm (if the block has them) → RoPE →
 * causal attention over the KV cache (sliding-window layers see only the last
 * {@code slidingWindow} positions; scores optionally soft-capped) → output projection (+ bias) →
 * post-attention RMSNorm (if any) → residual, RMSNorm → gated MLP down(act(gate x) · up x) →
 * post-MLP RMSNorm (if any) → residual; a final RMSNorm, the classifier (+ bias) and optional
 * final-logit soft-capping. What a family lacks is null in its {@link LlamaWeights.Layer} or a
 * neutral number in its {@link LlamaConfig}, so one pass serves them all.
 *
 * <p>One {@link #forward} serves both phases. Prefill runs T prompt tokens as one batch (x is
 * [T, dim], so every projection is a GEMM) and attends with a bottom-right causal mask; decode
 * (T = 1) is the same code with GEMVs and {@link FlashAttention#decode} against the cache.
 * {@link #forwardAll} returns the logits of every position (teacher forcing, perplexity).
 * {@link #forwardBatch} runs several sequences, each with its own cache, through one pass (what a
 * server batching many streams calls each step).
 * Memory: the {@link KvCache} lives in its own long-lived scope and grows as positions arrive;
 * a prefill's activations live in a scope per layer, freed once the layer is done (its output
 * is carried to the next, {@link LayerScopes}); a decode step's, a few KiB a layer, are freed
 * when it returns; only the logits outlive the call, in the
 * caller's current scope. The training forward keeps every activation, for the tape. Works for any weight dtype
 * {@code Ops.linear} and {@code Ops.embedding} take, on any CPU backend, and on an accelerator:
 * give it weights moved there ({@link LlamaWeights#to}) and everything but the logits stays there
 * (sliding windows and soft-capping are CPU-only in {@link FlashAttention} for now).
 *
 * <p>The pass is written once against {@link DecoderOps}: {@link EagerDecoderOps} runs it on
 * tensors (every call above), {@link TracedDecoderOps} records it as an AutoChunk graph, which is
 * what {@link #forward(int[], int, KvCache, long)} does to hold a long prefill within an
 * activation budget (keys and values are appended to the cache by a traced sink op before the
 * queries are computed, so the chunk loop over the queries reads them from the cache).
 */
public final class LlamaModel {
    /**
     * Positions a new cache holds before it first grows: a prompt of a few hundred tokens fits
     * without a copy, and doubling keeps the total copying below the final cache size.
     */
    static final int INITIAL_CACHE_POSITIONS = 256;

    private final LlamaConfig config;
    private final LlamaWeights weights;
    /** Every weight-matrix product goes through here (the classifier included). */
    private final Linear linear;
    /** Where the weights, the KV cache and every activation live; logits come back to the CPU. */
    private final Device device;
    /** RoPE angular frequencies per pair: full-attention and sliding-window layers, short and long factors. */
    private final double[] ropeFull, ropeSliding, ropeFullLong, ropeSlidingLong;
    /** The forward pass's ops run eagerly (one instance: the hot path allocates nothing more). */
    private final EagerDecoderOps eager;

    public LlamaModel(LlamaConfig config, LlamaWeights weights) {
        this(config, weights, Linear.OPS);
    }

    /** A model whose weight-matrix products run through {@code linear} (for example HeteGen's split layers). */
    public LlamaModel(LlamaConfig config, LlamaWeights weights, Linear linear) {
        this.config = config;
        this.weights = weights;
        this.linear = Objects.requireNonNull(linear, "linear");
        this.device = weights.device();
        this.eager = new EagerDecoderOps(linear, device);
        checkShapes(config, weights);
        float[] factors = floats(weights.ropeFactors()), longFactors = floats(weights.ropeFactorsLong());
        int hd = config.headDim();
        ropeFull = RopeTable.frequencies(hd, config.ropeTheta(), config.ropeScale(), factors);
        ropeSliding = RopeTable.frequencies(hd, config.ropeThetaSliding(), config.ropeScaleSliding(), factors);
        ropeFullLong = longFactors == null ? ropeFull : RopeTable.frequencies(hd, config.ropeTheta(), config.ropeScale(), longFactors);
        ropeSlidingLong = longFactors == null ? ropeSliding
                : RopeTable.frequencies(hd, config.ropeThetaSliding(), config.ropeScaleSliding(), longFactors);
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return weights;
    }

    public Device device() {
        return device;
    }

    /** A cache that grows as needed up to the model's whole context ({@code seqLen} positions). */
    public KvCache newCache() {
        return newCache(config.seqLen());
    }

    /** A cache that grows as needed up to {@code maxCapacity} positions; close it to free its memory. */
    public KvCache newCache(int maxCapacity) {
        return newCache(Math.min(INITIAL_CACHE_POSITIONS, Math.max(1, maxCapacity)), maxCapacity);
    }

    /** A cache holding {@code initialCapacity} positions at once, growing up to {@code maxCapacity}. */
    public KvCache newCache(int initialCapacity, int maxCapacity) {
        // llama.cpp picks Phi-3's long RoPE factors for the whole context once it exceeds the original one
        boolean longRope = weights.ropeFactorsLong() != null && maxCapacity > config.ropeOriginalContext();
        return new KvCache(config, initialCapacity, maxCapacity, device, longRope);
    }

    /**
     * Runs {@code tokens} at positions {@code startPosition ..} and returns the logits [vocab]
     * (F32, in the caller's current scope) predicting the token after the last one. Writes their
     * keys and values into {@code cache}, which must already hold positions [0, startPosition).
     */
    public Tensor forward(int[] tokens, int startPosition, KvCache cache) {
        return run(tokens, startPosition, cache, false).view(config.vocabSize());
    }

    /** As {@link #forward}, but the logits of every position: [T, vocab], row t predicting the token after tokens[t]. */
    public Tensor forwardAll(int[] tokens, int startPosition, KvCache cache) {
        return run(tokens, startPosition, cache, true);
    }

    /**
     * Share of an activation budget a chunk plan may fill: the executor keeps freed buffers of up
     * to a quarter of the plan's peak for reuse, so a plan at 80% keeps the memory held within the
     * budget (1.25 x 0.8 = 1).
     */
    static final double PLAN_SHARE_OF_BUDGET = 0.8;

    /**
     * What {@link #forward(int[], int, KvCache, long)} ran: the logits [vocab], whether the
     * prefill was chunked, AutoChunk's plan ({@link ChunkedProgram#explain()}), its estimated peak,
     * the unchunked graph's estimated peak, the activation peak the run measured (live bytes;
     * the KV cache and the weights are not activations), and the time tracing and compiling took
     * (near zero when the program was kept from an earlier prefill of the same shape) and the time
     * the run took.
     */
    public record BudgetedForward(Tensor logits, boolean chunked, String plan, long estimatedPeakBytes, long unchunkedPeakBytes,
            long measuredPeakBytes, long compileNanos, long runNanos) {}

    /**
     * As {@link #forward}, with the activations held within {@code activationBudgetBytes}: the
     * forward pass is traced (this class's own decoder, through {@link TracedDecoderOps}) and run
     * by AutoChunk, which cuts the positions into chunks where the unchunked peak would exceed the
     * budget; the compiled program is kept for the next prefill of the same shape and budget
     * ({@link #PREFILL_PLANS_KEPT} of them). Each chunk's queries attend to every key so far; the keys and values of all new
     * positions are computed and appended to the cache before the chunk loop. The logits equal
     * the unchunked run's: row-independent ops do the same arithmetic on each row. The pass frees
     * each activation after its last use, so even the unchunked plan holds less than
     * {@link #forward}, which frees them layer by layer. The KV cache grows first and is not
     * counted.
     *
     * @throws BudgetTooSmallException when no chunk plan fits the budget (it names the smallest that does)
     * @throws UnsupportedOperationException when the model multiplies through another {@link Linear} than {@link Linear#OPS}
     *         or its weights are not on the CPU
     */
    public BudgetedForward forward(int[] tokens, int startPosition, KvCache cache, long activationBudgetBytes) {
        checkCall("forward", tokens, startPosition, cache);
        int n = tokens.length;
        Tensor logits = Tensor.zeros(MemoryScope.require("LlamaModel.forward (the logits)"), DType.F32, config.vocabSize());
        long t0 = System.nanoTime();
        PrefillProgram prefill = prefillProgram(n, startPosition, cache, activationBudgetBytes);
        ChunkedProgram program = prefill.program();
        long t1 = System.nanoTime(), measured;
        try (MemoryScope scope = MemoryScope.open("llama.forward (ids)");
                Execution run = program.run(prefill.inputs(Tensor.ofInts(scope, tokens, n), cache))) {
            Ops.copyInto(run.output(0).view(config.vocabSize()), logits);
            measured = run.peakBytes();
        }
        long t2 = System.nanoTime();
        cache.length = startPosition + n;
        return new BudgetedForward(logits, !program.regions().isEmpty(), program.explain(), program.estimatedPeakBytes(),
                program.unchunkedPeakBytes(), measured, t1 - t0, t2 - t1);
    }

    /**
     * The AutoChunk program {@link #forward(int[], int, KvCache, long)} runs for {@code positions}
     * new tokens at {@code startPosition} under {@code activationBudgetBytes}, compiled but not run
     * (for a caller that wants the plan, its estimated peak or the unchunked one; the estimates
     * are what the run measures). The cache grows to hold the positions, since the trace captures
     * its tensors.
     *
     * @throws BudgetTooSmallException when no chunk plan fits the budget
     */
    public ChunkedProgram prefillPlan(int positions, int startPosition, KvCache cache, long activationBudgetBytes) {
        checkCall("prefillPlan", new int[positions], startPosition, cache);
        return prefillProgram(positions, startPosition, cache, activationBudgetBytes).program();
    }

    /**
     * What a budgeted prefill's compiled program depends on besides the model: the positions, the
     * cached ones before them, the cache's capacity (the shape of its tensors, the graph's inputs)
     * and RoPE factors, and the budget. Token values are an input; the cache's own tensors too.
     */
    private record PrefillKey(int positions, int startPosition, int cacheCapacity, boolean longRope, long budgetBytes) {}

    /**
     * A compiled budgeted prefill and how to bind it: per graph input after the token ids, the
     * cache tensor it takes as {@code 2 * layer} (keys) or {@code 2 * layer + 1} (values).
     */
    private record PrefillProgram(ChunkedProgram program, int[] cacheSlots) {
        Tensor[] inputs(Tensor ids, KvCache cache) {
            Tensor[] in = new Tensor[1 + cacheSlots.length];
            in[0] = ids;
            for (int i = 0; i < cacheSlots.length; i++) in[i + 1] = (cacheSlots[i] % 2 == 0 ? cache.keys : cache.values)[cacheSlots[i] / 2];
            return in;
        }
    }

    /**
     * Programs a budgeted prefill compiled, most recently used last: a second prefill of the same
     * shape (a server's requests, a benchmark's repetitions) skips tracing and the 0.4-2 s search.
     * Each holds its graph and plan only (weights are the model's, cache tensors are inputs).
     */
    static final int PREFILL_PLANS_KEPT = 16;

    private final Map<PrefillKey, PrefillProgram> prefillPlans = Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<PrefillKey, PrefillProgram> eldest) {
            return size() > PREFILL_PLANS_KEPT;
        }
    });

    /** The compiled program for a prefill of this shape under this budget: the one kept from before, or a fresh compile kept for next time. */
    private PrefillProgram prefillProgram(int positions, int startPosition, KvCache cache, long activationBudgetBytes) {
        checkBudgetedRun(activationBudgetBytes);
        cache.reserve(startPosition + positions);
        PrefillKey key = new PrefillKey(positions, startPosition, cache.capacity(), cache.longRope, activationBudgetBytes);
        PrefillProgram kept = prefillPlans.get(key);
        if (kept != null) return kept;
        PrefillProgram compiled = compilePrefill(new int[positions], startPosition, cache, activationBudgetBytes);
        prefillPlans.put(key, compiled);
        return compiled;
    }

    /** Prefill programs kept now (for tests). */
    int prefillPlansKept() {
        return prefillPlans.size();
    }

    private void checkBudgetedRun(long activationBudgetBytes) {
        if (activationBudgetBytes <= 0) throw new IllegalArgumentException("forward: the memory budget must be positive, got " + activationBudgetBytes);
        if (linear != Linear.OPS) {
            throw new UnsupportedOperationException("forward: a memory budget runs the decoder through AutoChunk, which traces Ops.linear;"
                    + " this model multiplies through " + linear + " (HeteGen?), which it cannot trace");
        }
        if (!device.equals(Device.CPU)) {
            throw new UnsupportedOperationException("forward: a memory budget runs the decoder through AutoChunk on the CPU; the weights are on " + device);
        }
    }

    /** Traces the decoder for these tokens (their count alone matters) and compiles it for the budget; the cache holds their positions. */
    private PrefillProgram compilePrefill(int[] tokens, int startPosition, KvCache cache, long activationBudgetBytes) {
        int n = tokens.length;
        TracedDecoderOps traced = new TracedDecoderOps();
        Node out = decode(traced, tokens, List.of(new SequenceStep(tokens, startPosition, cache)), new int[] {0, n}, false, false, null,
                UnaryOperator.identity(), false); // the executor frees each activation after its last use
        Graph graph = traced.tracer().build(out);
        long logitsBytes = DType.F32.byteSize(config.vocabSize());
        long planBudget = (long) ((activationBudgetBytes - logitsBytes) * PLAN_SHARE_OF_BUDGET);
        List<Tensor> cacheInputs = traced.cacheInputs();
        int[] slots = new int[cacheInputs.size()];
        for (int i = 0; i < slots.length; i++) slots[i] = cache.slotOf(cacheInputs.get(i));
        try {
            return new PrefillProgram(AutoChunk.compile(graph, Math.max(1, planBudget)), slots);
        } catch (AutoChunk.BudgetTooSmallException e) {
            throw new BudgetTooSmallException(n, activationBudgetBytes, (long) Math.ceil(e.smallestBudgetBytes() / PLAN_SHARE_OF_BUDGET) + logitsBytes,
                    e.unchunkedPeakBytes(), e);
        }
    }

    /** What {@link #forward(int[], int, KvCache, long)} throws when no chunk plan fits the budget. */
    public static final class BudgetTooSmallException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        private final long smallestBudgetBytes;

        BudgetTooSmallException(int positions, long budget, long smallest, long unchunkedPlan, Throwable cause) {
            super(String.format(Locale.ROOT,
                    "a prefill of %d positions needs a memory budget of at least %s of activations, got %s (its unchunked plan peaks at"
                            + " %s; a plan fills %.0f%% of the budget, the rest is the buffers kept for reuse); raise the budget or shorten the prompt",
                    positions, mib(smallest), mib(budget), mib(unchunkedPlan), 100 * PLAN_SHARE_OF_BUDGET), cause);
            this.smallestBudgetBytes = smallest;
        }

        /** The smallest budget a prefill of these positions fits. */
        public long smallestBudgetBytes() {
            return smallestBudgetBytes;
        }
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.2f MiB", bytes / 1048576.0);
    }

    /**
     * One sequence's share of a {@link #forwardBatch} step: its new {@code tokens} (one to decode,
     * or a chunk of its prompt) at positions {@code startPosition ..}, and its own {@code cache},
     * which must hold positions [0, startPosition).
     */
    public record SequenceStep(int[] tokens, int startPosition, KvCache cache) {
        public SequenceStep {
            Objects.requireNonNull(tokens, "tokens"); // a null cache is refused by forwardBatch (the training forward has none)
        }
    }

    /**
     * Runs several sequences in one pass and returns the logits [sequences, vocab] (F32, in the
     * caller's current scope), row i predicting the token after sequence i's last token. The rows
     * of all sequences go through every projection, norm and MLP together (one matrix product per
     * weight, which is what makes serving many streams cheaper than one after another); RoPE
     * rotates each row by its own position, and each sequence attends over its own cache only.
     * Row i equals what {@link #forward} returns for that sequence alone up to the rounding of a
     * product over more rows. Each cache may appear once.
     */
    public Tensor forwardBatch(List<SequenceStep> steps) {
        return run(steps, false, false, false);
    }

    /**
     * The training forward: the final-normed hidden states [T, dim] of {@code tokens} at
     * positions 0 .. T-1 (the classifier's input, for a loss that applies the classifier itself,
     * as a chunked cross-entropy does), by the same pass as {@link #forward} but without a KV
     * cache: every step is a registry op and every activation stays in the caller's current scope,
     * so a {@link dev.corvus.tensor.op.Tape} recording on this thread can differentiate it. The
     * loss applies the classifier, its bias ({@code weights().classifierBias()}) and the final
     * soft-cap ({@code config().finalSoftcap()}) itself.
     */
    public Tensor trainingForward(int[] tokens) {
        return trainingForward(tokens, false);
    }

    /**
     * As {@link #trainingForward(int[])}; with {@code checkpointBlocks}, each decoder block runs
     * as a {@link dev.corvus.tensor.op.Tape#checkpoint} segment: a recording tape keeps only the
     * block's input x [T, dim] and runs the block again in backward, so the activations held from
     * forward to backward are one [T, dim] per block (plus the embedding and final norm) instead of
     * every block's, for one more forward of each block. The hidden states and, under a tape, the
     * gradients are the same (the block is recomputed by the same kernels).
     */
    public Tensor trainingForward(int[] tokens, boolean checkpointBlocks) {
        return run(List.of(new SequenceStep(tokens, 0, null)), true, true, checkpointBlocks);
    }

    /**
     * Rows [localStart, localStart + length) of a training shard hold the tokens at global
     * positions [globalStart, globalStart + length).
     */
    public record PositionRun(int localStart, int globalStart, int length) {}

    /**
     * The training forward of one rank's shard of a sequence split over several ranks (sequence
     * parallelism): the final-normed hidden states [n, dim] of {@code tokens}, the shard's n
     * tokens in local order, which {@code runs} place in the whole sequence (each run is rotated
     * by RoPE at its global positions, as in {@link #trainingForward(int[])}), with every layer's
     * attention computed by {@code attention} over the whole sequence. Everything but the
     * attention is row-local, so the rows equal those of the unsharded forward. A sliding-window
     * layer passes its window and every layer the attention soft-cap to {@code attention}, which
     * applies them at global positions.
     *
     * @param runs the shard's rows in order: the first at local row 0, each starting where the last ended, covering all n
     */
    public Tensor trainingForward(int[] tokens, List<PositionRun> runs, ShardAttention attention) {
        return trainingForward(tokens, runs, attention, false);
    }

    /**
     * As {@link #trainingForward(int[], List, ShardAttention)}; with {@code checkpointBlocks} each
     * decoder block is a {@link dev.corvus.tensor.op.Tape#checkpoint} segment, as in
     * {@link #trainingForward(int[], boolean)}: the backward runs the block again, and with it the
     * block's call to {@code attention} (same layer, same q, k and v), which may answer from what
     * its first call kept ({@link ShardAttention}).
     */
    public Tensor trainingForward(int[] tokens, List<PositionRun> runs, ShardAttention attention, boolean checkpointBlocks) {
        Objects.requireNonNull(attention, "attention");
        int at = 0;
        for (PositionRun r : runs) {
            if (r.localStart() != at || r.length() <= 0 || r.globalStart() < 0) {
                throw new IllegalArgumentException("trainingForward: run " + r + " must start at local row " + at
                        + " (runs cover the shard's rows in order) with a positive length and a global start >= 0; runs " + runs);
            }
            at += r.length();
        }
        if (at != tokens.length) throw new IllegalArgumentException("trainingForward: the runs " + runs + " cover " + at + " rows, the shard has " + tokens.length + " tokens");
        checkCall("trainingForward", tokens, 0, null);
        return decode(eager, tokens, List.of(new SequenceStep(tokens, 0, null)), new int[] {0, tokens.length}, true, true, new Shard(runs, attention),
                UnaryOperator.identity(), checkpointBlocks);
    }

    /** A sharded training forward's row placement and attention (null in every other forward). */
    private record Shard(List<PositionRun> runs, ShardAttention attention) {}

    private Tensor run(int[] tokens, int startPosition, KvCache cache, boolean everyPosition) {
        return run(List.of(new SequenceStep(tokens, startPosition, cache)), everyPosition, false, false);
    }

    /**
     * The eager pass frees each layer's activations when the layer is done ({@link LayerScopes})
     * once a layer's MLP activation (rows x hidden, F32) reaches this size; below it, every
     * layer's together stay small, and a layer scope costs: closing a shared arena measured
     * 20-50 us (2 cores under load 16), two per layer, near a tenth of a stories15M decode step.
     */
    static final long FREE_PER_LAYER_BYTES = 1 << 20;

    /** With {@code training}, the steps' caches are null, and the hidden states come back instead of logits. */
    private Tensor run(List<SequenceStep> steps, boolean everyPosition, boolean training, boolean checkpointBlocks) {
        int sequences = steps.size();
        if (sequences == 0) throw new IllegalArgumentException("forwardBatch: no sequences given");
        int[] firstRow = new int[sequences + 1];
        Set<KvCache> caches = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < sequences; i++) {
            SequenceStep step = steps.get(i);
            if (!training && step.cache() == null) throw new NullPointerException("forward: sequence " + i + " has no KV cache");
            checkCall(sequences == 1 ? "forward" : "forwardBatch: sequence " + i, step.tokens(), step.startPosition(), step.cache());
            if (!training && !caches.add(step.cache())) {
                throw new IllegalArgumentException("forwardBatch: sequence " + i + " brings a KV cache an earlier sequence of the batch uses");
            }
            firstRow[i + 1] = Math.addExact(firstRow[i], step.tokens().length);
        }
        int rows = firstRow[sequences];
        int[] tokens = new int[rows];
        for (int i = 0; i < sequences; i++) System.arraycopy(steps.get(i).tokens(), 0, tokens, firstRow[i], steps.get(i).tokens().length);
        // training keeps every activation in the caller's scope, for the tape's backward
        if (training) return decode(eager, tokens, steps, firstRow, everyPosition, true, null, UnaryOperator.identity(), checkpointBlocks);
        Tensor logits = Tensor.zeros(MemoryScope.require("LlamaModel.forward (the logits)"), DType.F32, everyPosition ? rows : sequences,
                config.vocabSize());
        for (SequenceStep step : steps) step.cache().reserve(step.startPosition() + step.tokens().length);
        boolean perLayer = (long) rows * config.hiddenDim() * Float.BYTES >= FREE_PER_LAYER_BYTES;
        try (MemoryScope scope = MemoryScope.open("llama.forward"); LayerScopes layers = perLayer ? new LayerScopes() : null) {
            Tensor out = decode(eager, tokens, steps, firstRow, everyPosition, false, null, perLayer ? layers::layerDone : UnaryOperator.identity(), false);
            Ops.copyInto(out.to(Device.CPU), logits);
        }
        for (SequenceStep step : steps) step.cache().length = step.startPosition() + step.tokens().length;
        return logits;
    }

    /**
     * The decoder, written once against {@link DecoderOps}: run eagerly on tensors, or traced into
     * an AutoChunk graph. Returns the logits of each sequence's last row, or of every row. With a
     * {@code shard} (training only) the one sequence is a shard of a longer one: rotated run by run
     * at its global positions, attending through the shard's attention. {@code layerDone} is given
     * each layer's output and returns what the next layer reads (the eager inference pass frees the
     * layer's activations there, {@link LayerScopes}).
     */
    @SuppressWarnings("unchecked") // a checkpointed block runs eagerly: T is Tensor there
    private <T> T decode(DecoderOps<T> o, int[] tokens, List<SequenceStep> steps, int[] firstRow, boolean everyPosition, boolean training,
            Shard shard, UnaryOperator<T> layerDone, boolean checkpointBlocks) {
        int sequences = steps.size(), rows = tokens.length;
        float eps = config.normEps();
        T x = o.embedding(weights.tokenEmbedding(), o.tokens(tokens)); // [rows, dim]
        if (config.embeddingScale() != 1f) x = o.scale(x, config.embeddingScale());
        // Only each sequence's last row reaches the classifier, so the last layer carries only those
        // rows past its keys and values (which the cache needs for every row), as llama.cpp does
        // with its output ids: its queries, attention, output projection and MLP run on one row per
        // sequence.
        boolean lastRowsOnly = !everyPosition && !training && rows > sequences;
        for (int l = 0; l < config.layers(); l++) {
            int layer = l;
            if (training && checkpointBlocks) {
                // the block recomputed in backward instead of its activations held: only x between blocks is kept
                x = layerDone.apply((T) Tape.checkpoint("block " + l,
                        in -> (Tensor) block((DecoderOps<T>) o, (T) in[0], layer, tokens, steps, firstRow, training, shard, false),
                        blockInputs((Tensor) x, weights.layers().get(l))));
            } else {
                boolean prune = lastRowsOnly && l == config.layers() - 1;
                x = layerDone.apply(block(o, x, layer, tokens, steps, firstRow, training, shard, prune));
            }
        }

        // final norm and classifier, on each sequence's last row only unless every row is wanted
        T last = everyPosition || lastRowsOnly || rows == sequences ? x : lastRows(o, x, firstRow);
        if (training) return o.rmsnorm(last, weights.finalNorm(), eps);
        T out = project(o, o.rmsnorm(last, weights.finalNorm(), eps), weights.classifier(), weights.classifierBias());
        float cap = config.finalSoftcap();
        if (cap != 0f) out = o.scale(o.tanh(o.scale(out, 1f / cap)), cap);
        return out;
    }

    /** Each sequence's last row of x [rows, ...]: [sequences, ...]. */
    private static <T> T lastRows(DecoderOps<T> o, T x, int[] firstRow) {
        int sequences = firstRow.length - 1;
        if (sequences == 1) return o.narrow(x, 0, firstRow[1] - 1, 1);
        List<T> lastRows = new ArrayList<>(sequences);
        for (int i = 0; i < sequences; i++) lastRows.add(o.narrow(x, 0, firstRow[i + 1] - 1, 1));
        return o.concat(0, lastRows);
    }

    /**
     * Decoder block {@code l} on x [rows, dim]: attention and the gated MLP, each with its residual
     * add. With {@code lastRowsOnly}, keys and values of every row go to the caches, but the rest of
     * the block runs on each sequence's last row, and it returns [sequences, dim].
     */
    private <T> T block(DecoderOps<T> o, T x, int l, int[] tokens, List<SequenceStep> steps, int[] firstRow, boolean training, Shard shard,
            boolean lastRowsOnly) {
        int sequences = steps.size(), rows = tokens.length, heads = config.heads(), kvHeads = config.kvHeads(), headDim = config.headDim();
        float eps = config.normEps();
        List<T> attended = new ArrayList<>(sequences), keys = new ArrayList<>(sequences), values = new ArrayList<>(sequences);
        LlamaWeights.Layer w = weights.layers().get(l);
        boolean sliding = config.isSliding(l);

        // attention: k and v for the new positions of every sequence at once, appended to each
        // sequence's cache before q is computed, so that a chunked prefill holds neither k nor v
        // (the cache does) while its query chunks attend
        T xb = o.rmsnorm(x, w.attentionNorm(), eps);
        T k = o.view(project(o, xb, w.wk(), w.bk()), rows, kvHeads, headDim);
        if (w.kNorm() != null) k = o.rmsnorm(k, w.kNorm(), eps);
        keys.clear();
        for (int i = 0; i < sequences; i++) {
            SequenceStep step = steps.get(i);
            T rotated = rope(o, o.narrow(k, 0, firstRow[i], step.tokens().length), step.startPosition(), shard, frequencies(sliding, step.cache()));
            // training has no cache: the sequence attends over its own keys, [1, kvHeads, T, headDim] as a cache view is
            keys.add(training ? o.unsqueeze(o.permute(rotated, 1, 0, 2), 0) : o.appendToCache(step.cache().keys[l], rotated, step.startPosition()));
        }
        T v = o.view(project(o, xb, w.wv(), w.bv()), rows, kvHeads, headDim);
        values.clear();
        for (int i = 0; i < sequences; i++) {
            SequenceStep step = steps.get(i);
            T own = o.narrow(v, 0, firstRow[i], step.tokens().length);
            values.add(training ? o.unsqueeze(o.permute(own, 1, 0, 2), 0) : o.appendToCache(step.cache().values[l], own, step.startPosition()));
        }
        if (lastRowsOnly) { // the cache has every row's keys and values; one query per sequence attends over them
            x = lastRows(o, x, firstRow);
            xb = lastRows(o, xb, firstRow);
        }
        T q = o.view(project(o, xb, w.wq(), w.bq()), lastRowsOnly ? sequences : rows, heads, headDim);
        if (w.qNorm() != null) q = o.rmsnorm(q, w.qNorm(), eps);
        attended.clear();
        for (int i = 0; i < sequences; i++) {
            SequenceStep step = steps.get(i);
            int n = step.tokens().length;
            T own = lastRowsOnly ? o.narrow(q, 0, i, 1) : o.narrow(q, 0, firstRow[i], n);
            int start = lastRowsOnly ? step.startPosition() + n - 1 : step.startPosition();
            attended.add(attendSequence(o, sliding, step.cache(), start, lastRowsOnly ? 1 : n, own, keys.get(i), values.get(i), shard, l));
        }
        T att = sequences == 1 ? attended.getFirst() : o.concat(0, attended);
        T out = project(o, att, w.wo(), w.bo());
        if (w.attentionPostNorm() != null) out = o.rmsnorm(out, w.attentionPostNorm(), eps);
        x = o.add(x, out);

        // gated MLP: down(act(gate x) · up x)
        xb = o.rmsnorm(x, w.ffnNorm(), eps);
        T gate = project(o, xb, w.w1(), w.b1());
        gate = switch (config.activation()) {
            case SILU -> o.silu(gate);
            case GELU_TANH -> o.gelu(gate, true);
        };
        T up = project(o, xb, w.w3(), w.b3());
        T m = project(o, o.mul(gate, up), w.w2(), w.b2());
        if (w.ffnPostNorm() != null) m = o.rmsnorm(m, w.ffnPostNorm(), eps);
        x = o.add(x, m);
        return x;
    }

    /** What a checkpointed block reads that has a gradient: its input and every weight of the layer (each record component that is a tensor). */
    private static Tensor[] blockInputs(Tensor x, LlamaWeights.Layer layer) {
        List<Tensor> inputs = new ArrayList<>();
        inputs.add(x);
        for (java.lang.reflect.RecordComponent c : LlamaWeights.Layer.class.getRecordComponents()) {
            if (c.getType() != Tensor.class) continue;
            try {
                Tensor t = (Tensor) c.getAccessor().invoke(layer);
                if (t != null) inputs.add(t);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("LlamaWeights.Layer." + c.getName() + " could not be read", e);
            }
        }
        return inputs.toArray(Tensor[]::new);
    }

    /**
     * One sequence's attention: its queries q [count, heads, headDim] at positions
     * {@code startPosition ..} are rotated and attend causally over the cached keys and values
     * [1, kvHeads, startPosition + count, headDim] (their own included). Returns [count, heads * headDim].
     */
    private <T> T attendSequence(DecoderOps<T> o, boolean sliding, KvCache cache, int startPosition, int count, T q, T keys, T values, Shard shard,
            int layer) {
        q = rope(o, q, startPosition, shard, frequencies(sliding, cache));
        // causal attention of the queries over the cached keys they may see (GQA: heads / kvHeads share one)
        T qh = o.unsqueeze(o.permute(q, 1, 0, 2), 0); // [1, heads, count, headDim]
        T att = cache != null ? attend(o, qh, keys, values, count, startPosition + count, sliding)
                : shard != null ? o.shardAttention(shard.attention(), layer, qh, keys, values, config.attentionScale(),
                        sliding ? config.slidingWindow() : Mask.NO_WINDOW, config.attentionSoftcap())
                : o.attention(qh, keys, values, sliding ? Mask.slidingWindowBottomRight(count, count, config.slidingWindow())
                        : Mask.causalBottomRight(count, count), config.attentionScale(), config.attentionSoftcap()); // training: no cache
        return o.reshape(o.permute(o.squeeze(att, 0), 1, 0, 2), count, config.qDim()); // back to [count, heads * headDim]
    }

    /** RoPE of x [T, heads, headDim] at positions startPosition ..; a shard's rows run by run at their global positions. */
    private <T> T rope(DecoderOps<T> o, T x, int startPosition, Shard shard, double[] frequencies) {
        if (shard == null) return o.rope(x, startPosition, frequencies, config.ropeMagnitude(), config.ropeStyle());
        List<T> parts = new ArrayList<>(shard.runs().size());
        for (PositionRun r : shard.runs()) {
            parts.add(o.rope(o.narrow(x, 0, r.localStart(), r.length()), r.globalStart(), frequencies, config.ropeMagnitude(), config.ropeStyle()));
        }
        return parts.size() == 1 ? parts.getFirst() : o.concat(0, parts);
    }

    /** RoPE angular frequencies for a full-attention or sliding-window layer, with the cache's short or long factors. */
    private double[] frequencies(boolean sliding, KvCache cache) {
        boolean longRope = cache != null && cache.longRope;
        return sliding ? (longRope ? ropeSlidingLong : ropeSliding) : (longRope ? ropeFullLong : ropeFull);
    }

    /** x · wᵀ (+ bias). */
    private static <T> T project(DecoderOps<T> o, T x, Tensor w, Tensor bias) {
        T y = o.linear(x, w);
        return bias == null ? y : o.addBias(y, bias);
    }

    /** Attention of qh [1, heads, T, headDim], the last {@code count} of the {@code length} cached positions in keys, values. */
    private <T> T attend(DecoderOps<T> o, T qh, T keys, T values, int count, int length, boolean sliding) {
        float scale = config.attentionScale(), softcap = config.attentionSoftcap();
        int window = config.slidingWindow();
        if (count == 1) {
            // decode: the window is just the last `window` cached positions
            int from = sliding ? Math.max(0, length - window) : 0;
            return o.decodeAttention(qh, o.narrow(keys, 2, from, length - from), o.narrow(values, 2, from, length - from), scale, softcap);
        }
        Mask mask = sliding ? Mask.slidingWindowBottomRight(count, length, window) : Mask.causalBottomRight(count, length);
        return o.attention(qh, keys, values, mask, scale, softcap);
    }

    private static float[] floats(Tensor t) {
        return t == null ? null : t.toFloatArray();
    }

    /**
     * Keys and values of every layer for one sequence: per layer K and V of shape
     * [1, kvHeads, capacity, headDim], F32, in a scope of their own that {@link #close} frees.
     * {@link #length()} counts the positions written so far. The capacity starts small and
     * doubles (copying the cached positions) as forward calls need it, up to
     * {@link #maxCapacity()}: a 128K-context model costs memory for the positions it has seen.
     */
    public static final class KvCache implements AutoCloseable {
        private final int layers, kvHeads, headDim, maxCapacity;
        private final Device device;
        /** Whether the model rotates with its long RoPE factors for this cache (Phi-3 beyond its original context). */
        final boolean longRope;
        private MemoryScope scope;
        private Tensor[] keys, values;
        private int capacity;
        private int length;
        private boolean closed;

        KvCache(LlamaConfig config, int initialCapacity, int maxCapacity, Device device, boolean longRope) {
            if (maxCapacity <= 0) throw new IllegalArgumentException("KV cache capacity must be positive, got " + maxCapacity);
            if (initialCapacity <= 0 || initialCapacity > maxCapacity) {
                throw new IllegalArgumentException("KV cache initial capacity " + initialCapacity + " must be in 1.." + maxCapacity);
            }
            this.layers = config.layers();
            this.kvHeads = config.kvHeads();
            this.headDim = config.headDim();
            this.maxCapacity = maxCapacity;
            this.device = device;
            this.longRope = longRope;
            allocate(initialCapacity);
        }

        /** Fresh tensors of {@code positions} in a new scope, the first {@code length} positions copied over; the old scope freed. */
        private void allocate(int positions) {
            MemoryScope fresh = MemoryScope.detached("llama.kvCache");
            Tensor[] k = new Tensor[layers], v = new Tensor[layers];
            try {
                for (int l = 0; l < layers; l++) {
                    k[l] = Backends.of(device).allocate(fresh, DType.F32, 1, kvHeads, positions, headDim);
                    v[l] = Backends.of(device).allocate(fresh, DType.F32, 1, kvHeads, positions, headDim);
                    if (length > 0) {
                        Ops.copyInto(keys[l].narrow(2, 0, length), k[l].narrow(2, 0, length));
                        Ops.copyInto(values[l].narrow(2, 0, length), v[l].narrow(2, 0, length));
                    }
                }
            } catch (RuntimeException | OutOfMemoryError e) {
                fresh.close();
                throw e;
            }
            if (scope != null) scope.close();
            scope = fresh;
            keys = k;
            values = v;
            capacity = positions;
        }

        /** Makes room for positions [0, positions), doubling the capacity at least, never past {@link #maxCapacity()}. */
        void reserve(int positions) {
            if (positions <= capacity) return;
            if (positions > maxCapacity) {
                throw new IllegalArgumentException("KV cache: " + positions + " positions exceed its maximum capacity " + maxCapacity);
            }
            allocate((int) Math.min(maxCapacity, Math.max(positions, 2L * capacity)));
        }

        /**
         * Grows the cache to hold exactly {@code positions} now, when it holds fewer (a caller
         * that budgets memory chooses the growth instead of the doubling a forward pass does).
         */
        public void ensureCapacity(int positions) {
            if (closed) throw new IllegalStateException("KV cache: closed");
            if (positions <= capacity) return;
            if (positions > maxCapacity) {
                throw new IllegalArgumentException("KV cache: " + positions + " positions exceed its maximum capacity " + maxCapacity);
            }
            allocate(positions);
        }

        /** Bytes one position of capacity holds: a key and a value row per layer and KV head, F32. */
        public long bytesPerPosition() {
            return 2L * layers * kvHeads * DType.F32.byteSize(headDim);
        }

        /** Positions the cache holds memory for now. */
        public int capacity() {
            return capacity;
        }

        /** Positions it may grow to. */
        public int maxCapacity() {
            return maxCapacity;
        }

        /** Positions [0, length) hold keys and values. */
        public int length() {
            return length;
        }

        /** Forgets positions from {@code newLength} on (the next forward must start there or before). */
        public void truncate(int newLength) {
            if (newLength < 0 || newLength > length) {
                throw new IllegalArgumentException("KV cache: cannot truncate to " + newLength + ", it holds " + length + " positions");
            }
            length = newLength;
        }

        /** Where t sits: {@code 2 * layer} for a layer's keys, {@code 2 * layer + 1} for its values. */
        int slotOf(Tensor t) {
            for (int l = 0; l < layers; l++) {
                if (keys[l] == t) return 2 * l;
                if (values[l] == t) return 2 * l + 1;
            }
            throw new IllegalArgumentException("KV cache: " + t + " is none of its tensors");
        }

        /** Layer {@code layer}'s keys [1, kvHeads, capacity, headDim]; a later forward that grows the cache replaces the tensor. */
        public Tensor keys(int layer) {
            return keys[layer];
        }

        public Tensor values(int layer) {
            return values[layer];
        }

        public long byteSize() {
            return scope.liveBytes();
        }

        @Override
        public void close() {
            closed = true;
            scope.close();
        }
    }

    // ---------------------------------------------------------------- checks

    private void checkCall(String call, int[] tokens, int startPosition, KvCache cache) {
        if (tokens.length == 0) throw new IllegalArgumentException(call + ": no tokens given");
        if (cache != null) { // the training forward has none
            if (cache.closed) throw new IllegalStateException(call + ": the KV cache is closed");
            if (cache.layers != config.layers() || cache.kvHeads != config.kvHeads() || cache.headDim != config.headDim()) {
                throw new IllegalArgumentException(call + ": the KV cache " + cache.keys[0] + " x " + cache.layers
                        + " layers was not made for this model (" + config + ")");
            }
            if (startPosition < 0 || startPosition > cache.length) {
                throw new IllegalArgumentException(call + ": start position " + startPosition + " must be within the " + cache.length
                        + " positions the KV cache holds (positions before it must be cached)");
            }
            if ((long) startPosition + tokens.length > cache.maxCapacity) {
                throw new IllegalArgumentException(call + ": positions [" + startPosition + ", " + ((long) startPosition + tokens.length)
                        + ") do not fit the KV cache's maximum capacity " + cache.maxCapacity);
            }
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw new IllegalArgumentException(call + ": token id " + tokens[i] + " at index " + i + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
            }
        }
    }

    private static void checkShapes(LlamaConfig c, LlamaWeights w) {
        if (w.layers().size() != c.layers()) {
            throw new IllegalArgumentException("the weights have " + w.layers().size() + " layers, the config " + c.layers());
        }
        int dim = c.dim(), qDim = c.qDim(), kv = c.kvDim(), hidden = c.hiddenDim(), hd = c.headDim();
        requireShape("token embedding", w.tokenEmbedding(), c.vocabSize(), dim);
        requireShape("final norm", w.finalNorm(), dim);
        requireShape("classifier", w.classifier(), c.vocabSize(), dim);
        optionalShape("classifier bias", w.classifierBias(), c.vocabSize());
        optionalShape("rope factors", w.ropeFactors(), hd / 2);
        optionalShape("long rope factors", w.ropeFactorsLong(), hd / 2);
        for (int l = 0; l < c.layers(); l++) {
            LlamaWeights.Layer L = w.layers().get(l);
            String p = "layer " + l + " ";
            requireShape(p + "attention norm", L.attentionNorm(), dim);
            requireShape(p + "wq", L.wq(), qDim, dim);
            requireShape(p + "wk", L.wk(), kv, dim);
            requireShape(p + "wv", L.wv(), kv, dim);
            requireShape(p + "wo", L.wo(), dim, qDim);
            requireShape(p + "ffn norm", L.ffnNorm(), dim);
            requireShape(p + "w1", L.w1(), hidden, dim);
            requireShape(p + "w2", L.w2(), dim, hidden);
            requireShape(p + "w3", L.w3(), hidden, dim);
            optionalShape(p + "bq", L.bq(), qDim);
            optionalShape(p + "bk", L.bk(), kv);
            optionalShape(p + "bv", L.bv(), kv);
            optionalShape(p + "q norm", L.qNorm(), hd);
            optionalShape(p + "k norm", L.kNorm(), hd);
            optionalShape(p + "bo", L.bo(), dim);
            optionalShape(p + "attention post norm", L.attentionPostNorm(), dim);
            optionalShape(p + "b1", L.b1(), hidden);
            optionalShape(p + "b2", L.b2(), dim);
            optionalShape(p + "b3", L.b3(), hidden);
            optionalShape(p + "ffn post norm", L.ffnPostNorm(), dim);
        }
    }

    private static void requireShape(String what, Tensor t, int... expected) {
        if (t == null) throw new IllegalArgumentException(what + " is missing");
        optionalShape(what, t, expected);
    }

    private static void optionalShape(String what, Tensor t, int... expected) {
        if (t != null && !Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(what + " has shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(expected));
        }
    }
}
