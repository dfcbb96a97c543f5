package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.corvus.chunking.ChunkTimeModel;
import dev.corvus.tensor.testing.Close;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.MemoryStats;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A prefill under a memory budget: {@link LlamaModel#forward(int[], int, LlamaModel.KvCache, long)}
 * traces the decoder and runs it chunked by AutoChunk. Its logits, and the keys and values it
 * leaves in the cache (checked by decoding one more token), must equal the eager forward's, and
 * the memory it measured must stay within the budget.
 */
class LlamaModelChunkedPrefillTest {
    /** The cost model calibrates once per JVM, allocating as it measures: done first, so the memory checks see only the prefill. */
    @BeforeAll
    static void calibrateTheCostModel() {
        ChunkTimeModel.measured();
    }

    private static int[] randomTokens(long seed, int n, int vocab) {
        Random r = new Random(seed);
        int[] t = new int[n];
        t[0] = 1;
        for (int i = 1; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    /**
     * A budget that needs chunking and that a plan fits: halfway between the smallest budget the
     * prefill of {@code tokens} fits (what a refusal names) and the budget its unchunked plan needs.
     */
    private static long chunkingBudget(LlamaModel model, int[] tokens) {
        try (MemoryScope s = MemoryScope.open("probe"); LlamaModel.KvCache cache = model.newCache(tokens.length)) {
            long unchunked = (long) (model.forward(tokens, 0, cache, Long.MAX_VALUE).unchunkedPeakBytes() / LlamaModel.PLAN_SHARE_OF_BUDGET);
            cache.truncate(0);
            LlamaModel.BudgetTooSmallException refused = catchThrowableOfType(LlamaModel.BudgetTooSmallException.class,
                    () -> model.forward(tokens, 0, cache, 1));
            assertThat(refused).as("a budget of 1 byte is refused").isNotNull();
            assertThat(refused.smallestBudgetBytes()).isLessThan(unchunked);
            return (refused.smallestBudgetBytes() + unchunked) / 2;
        }
    }

    /**
     * Prefills {@code cached} tokens eagerly into both caches, then the next {@code fresh} eagerly
     * into one and under {@code budget} into the other; then decodes one more token on each.
     * Returns what the budgeted run reported.
     */
    private static LlamaModel.BudgetedForward compare(String what, LlamaModel model, int[] tokens, int cached, long budget, double tol) {
        int n = tokens.length - cached;
        int[] head = Arrays.copyOf(tokens, cached), tail = Arrays.copyOfRange(tokens, cached, tokens.length);
        try (MemoryScope scope = MemoryScope.open("test"); LlamaModel.KvCache eager = model.newCache(tokens.length + 1);
                LlamaModel.KvCache chunked = model.newCache(tokens.length + 1)) {
            eager.ensureCapacity(tokens.length + 1);
            chunked.ensureCapacity(tokens.length + 1);
            if (cached > 0) {
                model.forward(head, 0, eager);
                model.forward(head, 0, chunked);
            }
            float[] expected = model.forward(tail, cached, eager).toFloatArray();
            long before = MemoryStats.liveBytes();
            MemoryStats.resetPeak();
            LlamaModel.BudgetedForward run = model.forward(tail, cached, chunked, budget);
            long held = MemoryStats.peakBytes() - before;
            Close.assertAllClose(what + ": last-position logits", expected, run.logits().toFloatArray(), tol, tol);
            assertThat(chunked.length()).isEqualTo(tokens.length);
            assertThat(run.measuredPeakBytes()).as(what + ": measured activation peak").isLessThanOrEqualTo(budget);
            assertThat(held).as(what + ": memory the process held beyond the cache (MemoryStats)").isLessThanOrEqualTo(budget);
            assertThat(run.estimatedPeakBytes()).isLessThanOrEqualTo(budget);
            // the cache the chunked run wrote serves the next decode step as the eager one does
            int next = tokens[tokens.length - 1] % model.config().vocabSize();
            Close.assertAllClose(what + ": decode after the prefill", model.forward(new int[] {next}, tokens.length, chunked).toFloatArray(),
                    model.forward(new int[] {next}, tokens.length, eager).toFloatArray(), tol, tol);
            assertThat(n).isPositive();
            return run;
        }
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void everyFamilyChunksAPrefillAfterCachedPositions(Architecture arch) {
        try (MemoryScope weights = MemoryScope.open("weights")) {
            LlamaConfig c = Decoders.config(arch);
            LlamaModel model = new LlamaModel(c, Decoders.randomWeights(weights, c, 11 + arch.ordinal()));
            int[] tokens = randomTokens(arch.ordinal(), 80, c.vocabSize());
            int[] tail = Arrays.copyOfRange(tokens, 17, 80);
            long budget = chunkingBudget(model, tail);
            LlamaModel.BudgetedForward run = compare(arch.toString(), model, tokens, 17, budget,
                    Close.reductionTolerance(Math.max(c.dim(), c.hiddenDim()), 2e-6));
            assertThat(run.chunked()).as(arch + " between the smallest budget and the unchunked plan's:\n" + run.plan()).isTrue();
        }
    }

    @Test
    void aBudgetThePrefillFitsRunsItUnchunked() {
        try (MemoryScope weights = MemoryScope.open("weights")) {
            LlamaConfig c = TinyLlama.config(8, 2);
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(weights, c, 3));
            LlamaModel.BudgetedForward run = compare("GQA 8/2, ample budget", model, randomTokens(5, 20, c.vocabSize()), 0, 64L << 20,
                    Close.reductionTolerance(c.hiddenDim(), 2e-6));
            assertThat(run.chunked()).isFalse();
            assertThat(run.plan()).contains("0 region(s)");
        }
    }

    @Test
    void refusesABudgetNoPlanFitsByName() {
        try (MemoryScope weights = MemoryScope.open("weights")) {
            LlamaConfig c = TinyLlama.config(4, 4);
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(weights, c, 4));
            try (MemoryScope s = MemoryScope.open("test"); LlamaModel.KvCache cache = model.newCache(20)) {
                assertThatThrownBy(() -> model.forward(randomTokens(6, 20, c.vocabSize()), 0, cache, 1024))
                        .isInstanceOf(LlamaModel.BudgetTooSmallException.class)
                        .hasMessageContaining("a prefill of 20 positions needs a memory budget of at least")
                        .hasMessageContaining("got 0.00 MiB");
                assertThat(cache.length()).as("nothing was cached").isZero();
                assertThatThrownBy(() -> new LlamaModel(c, model.weights(), (x, w) -> dev.corvus.tensor.Ops.linear(x, w, null))
                        .forward(new int[] {1, 2}, 0, cache, 1L << 20))
                        .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("cannot trace");
            }
        }
    }

    /**
     * stories15M with its 256-position context extended to 2048 (RoPE extrapolation: the text is
     * nonsense past 256, the arithmetic is what is checked), an 800-token prompt under a budget
     * below its unchunked activation peak.
     */
    @Test
    void stories15MLongPrefillChunkedEqualsUnchunked() throws Exception {
        try (Checkpoint ckpt = Checkpoints.load(RealModel.files().checkpoint())) {
            LlamaModel model = new LlamaModel(ckpt.config(), ckpt.weights());
            int[] tokens = randomTokens(15, 800, ckpt.config().vocabSize());
            long unchunked;
            try (MemoryScope s = MemoryScope.open("probe"); LlamaModel.KvCache cache = model.newCache(2048)) {
                unchunked = model.forward(tokens, 0, cache, Long.MAX_VALUE).unchunkedPeakBytes();
            }
            long budget = unchunked * 7 / 10;
            LlamaModel.BudgetedForward run = compare("stories15M, 800 positions", model, tokens, 0, budget,
                    Close.reductionTolerance(ckpt.config().hiddenDim(), 2e-6));
            assertThat(run.chunked()).as(run.plan()).isTrue();
            System.out.printf("stories15M 800 positions: unchunked %.1f MiB, budget %.1f MiB, plan %.1f MiB, measured %.1f MiB,"
                    + " compile %.2f s, run %.2f s%n%s", unchunked / 1048576.0, budget / 1048576.0, run.estimatedPeakBytes() / 1048576.0,
                    run.measuredPeakBytes() / 1048576.0, run.compileNanos() / 1e9, run.runNanos() / 1e9, run.plan());
        }
    }
}
