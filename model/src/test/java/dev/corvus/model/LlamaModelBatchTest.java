package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link LlamaModel#forwardBatch}: every row of a batch of decode rows and prefill chunks of
 * different lengths and positions equals that sequence's own {@link LlamaModel#forward}, on every
 * family's tiny random model (GQA, q/k norms, biases, sliding windows, soft-capping) and on the
 * real stories15M; and the caches it wrote serve the next step as the single-sequence ones do.
 */
class LlamaModelBatchTest {
    /** 13 tokens: longer than every sliding window of {@link Decoders}' configs. */
    private static final int[] HISTORY = {1, 17, 4, 28, 9, 9, 3, 0, 25, 11, 7, 12, 2};

    /**
     * One sequence of a test batch: {@code cached} tokens of HISTORY already in its cache, then
     * {@code fresh} more in the batched step.
     */
    private record Plan(int cached, int fresh) {}

    /** Decode rows after short and long histories, a whole prompt, a prompt's second chunk, a first token. */
    private static final List<Plan> MIXED = List.of(new Plan(9, 1), new Plan(0, 13), new Plan(5, 8), new Plan(0, 1), new Plan(12, 1),
            new Plan(2, 3));

    private static double range(float[] x) {
        return LlamaModelTest.range(x);
    }

    private static LlamaModel tinyModel(MemoryScope weights, int heads, int kvHeads, long seed) {
        LlamaConfig c = TinyLlama.config(heads, kvHeads);
        return new LlamaModel(c, TinyLlama.randomWeights(weights, c, seed));
    }

    private static int[] tokens(int[] history, int from, int count) {
        return Arrays.copyOfRange(history, from, from + count);
    }

    /**
     * Runs the plans twice, batched and one sequence at a time (fresh caches primed with the same
     * history), then one more batched decode step on the caches each way wrote; every row must agree.
     */
    private static void assertBatchEqualsSingle(String what, LlamaModel model, int[] history, List<Plan> plans, double relTol) {
        int vocab = model.config().vocabSize();
        List<LlamaModel.KvCache> batched = new ArrayList<>(), single = new ArrayList<>();
        try (MemoryScope scope = MemoryScope.open("test")) {
            List<LlamaModel.SequenceStep> steps = new ArrayList<>();
            float[][] expected = new float[plans.size()][];
            for (int i = 0; i < plans.size(); i++) {
                Plan p = plans.get(i);
                LlamaModel.KvCache b = model.newCache(), s = model.newCache();
                batched.add(b);
                single.add(s);
                if (p.cached() > 0) {
                    model.forward(tokens(history, 0, p.cached()), 0, b);
                    model.forward(tokens(history, 0, p.cached()), 0, s);
                }
                steps.add(new LlamaModel.SequenceStep(tokens(history, p.cached(), p.fresh()), p.cached(), b));
                expected[i] = model.forward(tokens(history, p.cached(), p.fresh()), p.cached(), s).toFloatArray();
            }
            Tensor logits = model.forwardBatch(steps);
            assertThat(logits.shape()).containsExactly(plans.size(), vocab);
            for (int i = 0; i < plans.size(); i++) {
                Plan p = plans.get(i);
                assertThat(batched.get(i).length()).isEqualTo(p.cached() + p.fresh());
                Close.assertAllClose(what + " sequence " + i + " " + p, expected[i], logits.narrow(0, i, 1).toFloatArray(),
                        relTol * Math.max(1, range(expected[i])), relTol);
            }

            // the next step: every sequence decodes one more token from the cache the batch wrote
            List<LlamaModel.SequenceStep> next = new ArrayList<>();
            for (int i = 0; i < plans.size(); i++) {
                int at = plans.get(i).cached() + plans.get(i).fresh();
                int token = history[(at + 3) % history.length];
                next.add(new LlamaModel.SequenceStep(new int[] {token}, at, batched.get(i)));
                expected[i] = model.forward(new int[] {token}, at, single.get(i)).toFloatArray();
            }
            logits = model.forwardBatch(next);
            for (int i = 0; i < plans.size(); i++) {
                Close.assertAllClose(what + " sequence " + i + " next step", expected[i], logits.narrow(0, i, 1).toFloatArray(),
                        relTol * Math.max(1, range(expected[i])), relTol);
            }
        } finally {
            batched.forEach(LlamaModel.KvCache::close);
            single.forEach(LlamaModel.KvCache::close);
        }
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void eachRowOfAMixedBatchEqualsItsOwnForward(Architecture arch) {
        try (MemoryScope weights = MemoryScope.open("weights")) {
            LlamaConfig c = Decoders.config(arch);
            LlamaModel model = new LlamaModel(c, Decoders.randomWeights(weights, c, 7 + arch.ordinal()));
            assertBatchEqualsSingle(arch.toString(), model, HISTORY, MIXED, Close.reductionTolerance(Math.max(c.dim(), c.hiddenDim()), 2e-6));
        }
    }

    @Test
    void groupedQueryAttentionBatchesToo() {
        try (MemoryScope weights = MemoryScope.open("weights")) {
            LlamaModel model = tinyModel(weights, 8, 2, 5);
            assertBatchEqualsSingle("GQA 8/2", model, new int[] {1, 17, 4, 42, 9, 9, 33, 0, 25, 48, 7, 12, 30}, MIXED,
                    Close.reductionTolerance(model.config().hiddenDim(), 2e-6));
        }
    }

    @Test
    void aBatchOfOneIsForward() {
        try (MemoryScope weights = MemoryScope.open("weights")) {
            LlamaModel model = tinyModel(weights, 4, 4, 9);
            try (LlamaModel.KvCache a = model.newCache(); LlamaModel.KvCache b = model.newCache()) {
                float[] single = model.forward(tokens(HISTORY, 0, 6), 0, a).toFloatArray();
                float[] batch = model.forwardBatch(List.of(new LlamaModel.SequenceStep(tokens(HISTORY, 0, 6), 0, b))).toFloatArray();
                // the same code path, so equal but for a kernel that C2 compiled between the two calls
                // (reduceLanes' lane order may change then): rounding-level, not bit for bit
                Close.assertAllClose("a batch of one", single, batch, 1e-5, 1e-5);
            }
        }
    }

    @Test
    void stories15MBatchedEqualsOneSequenceAtATime() throws Exception {
        try (Checkpoint ckpt = Checkpoints.load(RealModel.files().checkpoint())) {
            LlamaModel model = new LlamaModel(ckpt.config(), ckpt.weights());
            int[] history = ckpt.tokenizer().orElseThrow().encode("Once upon a time, there was a little girl named Lily. She loved to play"
                    + " outside in the park with her friends and her big brown dog, who liked to run after the ball.", true, false);
            assertThat(history.length).isGreaterThan(31);
            // 40 rows: the products take the packed GEMM path; the all-decode next step of 6 rows the direct one
            List<Plan> plans = List.of(new Plan(20, 1), new Plan(0, 17), new Plan(7, 1), new Plan(11, 19), new Plan(30, 1), new Plan(0, 1));
            assertBatchEqualsSingle("stories15M", model, history, plans, Close.reductionTolerance(ckpt.config().hiddenDim(), 2e-6));
        }
    }

    @Test
    void refusesBatchesItCannotRunByName() {
        try (MemoryScope weights = MemoryScope.open("weights")) {
            LlamaModel model = tinyModel(weights, 4, 4, 9);
            try (LlamaModel.KvCache a = model.newCache(); LlamaModel.KvCache b = model.newCache()) {
                assertThatThrownBy(() -> model.forwardBatch(List.of())).hasMessageContaining("no sequences");
                assertThatThrownBy(() -> model.forwardBatch(List.of(new LlamaModel.SequenceStep(new int[] {1}, 0, a),
                        new LlamaModel.SequenceStep(new int[] {2}, 0, a)))).hasMessageContaining("sequence 1").hasMessageContaining("earlier sequence");
                assertThatThrownBy(() -> model.forwardBatch(List.of(new LlamaModel.SequenceStep(new int[] {1}, 0, a),
                        new LlamaModel.SequenceStep(new int[] {3, 999}, 0, b)))).hasMessageContaining("sequence 1")
                        .hasMessageContaining("token id 999 at index 1");
                assertThatThrownBy(() -> model.forwardBatch(List.of(new LlamaModel.SequenceStep(new int[] {1}, 0, a),
                        new LlamaModel.SequenceStep(new int[] {3}, 4, b)))).hasMessageContaining("sequence 1")
                        .hasMessageContaining("start position 4");
                assertThat(a.length()).as("a refused batch writes nothing").isZero();
                b.close();
                assertThatThrownBy(() -> model.forwardBatch(List.of(new LlamaModel.SequenceStep(new int[] {1}, 0, b))))
                        .hasMessageContaining("closed");
            }
        }
    }
}
