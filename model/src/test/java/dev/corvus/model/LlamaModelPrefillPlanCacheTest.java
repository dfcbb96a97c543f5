package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.corvus.chunking.ChunkTimeModel;
import dev.corvus.chunking.ChunkedProgram;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.testing.Close;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The programs a budgeted prefill compiles are kept per shape: a second prefill of the same
 * positions, cached positions, cache capacity and budget runs the kept program (no tracing, no
 * search) against its own cache, and gives the logits a fresh compile gives; any other shape
 * compiles anew.
 */
class LlamaModelPrefillPlanCacheTest {
    private static final int CACHED = 5, TAIL = 15, CAPACITY = 24;

    @BeforeAll
    static void calibrateTheCostModel() {
        ChunkTimeModel.measured();
    }

    private static int[] tokens(int seed, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = (seed * 31 + i * 17) % 50;
        return t;
    }

    /** A budget between the smallest a plan of the tail fits and the unchunked plan's, so the kept program is a chunked one. */
    private static long chunkingBudget(LlamaModel model) {
        try (LlamaModel.KvCache cache = model.newCache(CAPACITY, CAPACITY)) {
            long unchunked = (long) (model.prefillPlan(TAIL, 0, cache, Long.MAX_VALUE).unchunkedPeakBytes() / LlamaModel.PLAN_SHARE_OF_BUDGET);
            LlamaModel.BudgetTooSmallException refused = catchThrowableOfType(LlamaModel.BudgetTooSmallException.class,
                    () -> model.prefillPlan(TAIL, 0, cache, 1));
            return (refused.smallestBudgetBytes() + unchunked) / 2;
        }
    }

    /** The logits of {@code tail} after {@code prefix}: eagerly, or under {@code budget} (0: eagerly). */
    private static float[] logitsAfter(LlamaModel model, int[] prefix, int[] tail, long budget, LlamaModel.BudgetedForward[] report) {
        try (MemoryScope s = MemoryScope.open("test"); LlamaModel.KvCache cache = model.newCache(CAPACITY, CAPACITY)) {
            model.forward(prefix, 0, cache);
            if (budget == 0) return model.forward(tail, prefix.length, cache).toFloatArray();
            report[0] = model.forward(tail, prefix.length, cache, budget);
            return report[0].logits().toFloatArray();
        }
    }

    @Test
    void aSecondPrefillOfTheSameShapeRunsTheKeptProgramOnItsOwnCache() {
        LlamaConfig c = TinyLlama.config(4, 2);
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(weights, c, 21));
            long budget = chunkingBudget(model);
            int[] tail = tokens(3, TAIL), firstPrefix = tokens(1, CACHED), otherPrefix = tokens(2, CACHED);
            double tol = Close.reductionTolerance(c.hiddenDim(), 2e-6);
            LlamaModel.BudgetedForward[] first = new LlamaModel.BudgetedForward[1], again = new LlamaModel.BudgetedForward[1],
                    other = new LlamaModel.BudgetedForward[1];

            int kept = model.prefillPlansKept();
            float[] compiled = logitsAfter(model, firstPrefix, tail, budget, first);
            assertThat(model.prefillPlansKept()).as("the first prefill compiles and keeps its program").isEqualTo(kept + 1);
            assertThat(first[0].chunked()).as(first[0].plan()).isTrue();
            float[] reused = logitsAfter(model, firstPrefix, tail, budget, again);
            float[] otherCache = logitsAfter(model, otherPrefix, tail, budget, other);
            assertThat(model.prefillPlansKept()).as("the same shape twice more: no new program").isEqualTo(kept + 1);
            assertThat(again[0].plan()).isEqualTo(first[0].plan());

            Close.assertAllClose("the kept program's logits against a fresh compile's", compiled, reused, tol, tol);
            Close.assertAllClose("the kept program's logits against the eager forward", logitsAfter(model, firstPrefix, tail, 0, null), reused,
                    tol, tol);
            // the kept program reads the cache it is given, not the one it was traced with
            Close.assertAllClose("another cache's prefix through the kept program", logitsAfter(model, otherPrefix, tail, 0, null), otherCache,
                    tol, tol);
            assertThat(Arrays.equals(otherCache, reused)).as("the two prefixes give different logits").isFalse();
        }
    }

    @Test
    void anyOtherShapeOrBudgetCompilesAnewAndTheOldestAreDropped() {
        LlamaConfig c = TinyLlama.config(4, 4);
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(weights, c, 22));
            try (LlamaModel.KvCache cache = model.newCache(CAPACITY, CAPACITY); LlamaModel.KvCache smaller = model.newCache(TAIL, CAPACITY)) {
                long budget = 1L << 30;
                ChunkedProgram base = model.prefillPlan(TAIL, 0, cache, budget);
                assertThat(model.prefillPlan(TAIL, 0, cache, budget)).isSameAs(base);
                assertThat(model.prefillPlan(TAIL - 1, 0, cache, budget)).as("other positions").isNotSameAs(base);
                assertThat(model.prefillPlan(TAIL, 0, cache, budget / 2)).as("another budget").isNotSameAs(base);
                assertThat(model.prefillPlan(TAIL, 0, smaller, budget)).as("a cache of another capacity").isNotSameAs(base);
                try (MemoryScope s = MemoryScope.open("prefix")) {
                    model.forward(tokens(4, 1), 0, cache);
                }
                assertThat(model.prefillPlan(TAIL, 1, cache, budget)).as("after a cached position").isNotSameAs(base);
                assertThat(model.prefillPlansKept()).isEqualTo(5);
                for (int i = 0; i < LlamaModel.PREFILL_PLANS_KEPT; i++) model.prefillPlan(TAIL, 0, cache, budget + 1 + i);
                assertThat(model.prefillPlansKept()).isEqualTo(LlamaModel.PREFILL_PLANS_KEPT);
                assertThat(model.prefillPlan(TAIL, 0, cache, budget)).as("dropped as the least recently used").isNotSameAs(base);
            }
        }
    }
}
