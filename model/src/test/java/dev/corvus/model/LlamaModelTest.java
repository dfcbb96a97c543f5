package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.MemoryStats;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The forward pass on tiny random models: no checkpoint needed. */
class LlamaModelTest {
    private static final int[] TOKENS = {1, 17, 4, 42, 9, 9, 33, 0, 25, 48, 7, 12};

    /** Logits after each token, feeding them one at a time (every call a decode step). */
    private static List<float[]> oneAtATime(LlamaModel model, int[] tokens) {
        List<float[]> out = new ArrayList<>();
        try (LlamaModel.KvCache cache = model.newCache(); MemoryScope scope = MemoryScope.open("test")) {
            for (int i = 0; i < tokens.length; i++) out.add(model.forward(new int[] {tokens[i]}, i, cache).toFloatArray());
        }
        return out;
    }

    /** Logits after the last token of each chunk, feeding the chunks as prefill calls. */
    private static List<float[]> inChunks(LlamaModel model, int[] tokens, int... chunkSizes) {
        List<float[]> out = new ArrayList<>();
        try (LlamaModel.KvCache cache = model.newCache(); MemoryScope scope = MemoryScope.open("test")) {
            int at = 0;
            for (int size : chunkSizes) {
                int[] chunk = java.util.Arrays.copyOfRange(tokens, at, at + size);
                out.add(model.forward(chunk, at, cache).toFloatArray());
                at += size;
                assertThat(cache.length()).isEqualTo(at);
            }
        }
        return out;
    }

    static double range(float[] x) {
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (float v : x) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        return max - min;
    }

    @Test
    void matchesTheNaiveReferenceForMultiHeadAndGroupedQueryAttention() {
        for (int kvHeads : new int[] {4, 2, 1}) {
            LlamaConfig c = TinyLlama.config(4, kvHeads);
            try (MemoryScope weights = MemoryScope.detached("weights")) {
                LlamaWeights w = TinyLlama.randomWeights(weights, c, 7);
                float[][] expected = TinyLlama.naiveLogits(c, w, TOKENS);
                List<float[]> actual = oneAtATime(new LlamaModel(c, w), TOKENS);
                for (int i = 0; i < TOKENS.length; i++) {
                    Close.assertAllClose("kvHeads " + kvHeads + " position " + i, expected[i], actual.get(i), 1e-4 * range(expected[i]), 1e-5);
                }
                // prefill of the whole sequence agrees with the reference at the last position
                float[] prefill = inChunks(new LlamaModel(c, w), TOKENS, TOKENS.length).get(0);
                Close.assertAllClose("kvHeads " + kvHeads + " prefill", expected[TOKENS.length - 1], prefill, 1e-4 * range(prefill), 1e-5);
            }
        }
    }

    @Test
    void prefillThenDecodeEqualsOneTokenAtATime() {
        LlamaConfig c = TinyLlama.config(4, 4);
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(weights, c, 11));
            List<float[]> single = oneAtATime(model, TOKENS);
            // prefill 7, then 5 decode steps; and chunked prefill (3, 4 at an offset, 1, 4)
            int[][] schedules = {{7, 1, 1, 1, 1, 1}, {3, 4, 1, 4}, {1, 11}, {12}};
            for (int[] schedule : schedules) {
                List<float[]> chunked = inChunks(model, TOKENS, schedule);
                int end = 0;
                for (int i = 0; i < schedule.length; i++) {
                    end += schedule[i];
                    float[] expected = single.get(end - 1);
                    Close.assertAllClose("schedule " + java.util.Arrays.toString(schedule) + " chunk " + i, expected, chunked.get(i),
                            1e-5 * range(expected), 1e-5);
                }
            }
        }
    }

    @Test
    void groupedQueryAttentionEqualsMultiHeadWithRepeatedKvHeads() {
        LlamaConfig gqa = TinyLlama.config(4, 2);
        LlamaConfig mha = TinyLlama.config(4, 4);
        try (MemoryScope weights = MemoryScope.detached("weights"); MemoryScope scope = MemoryScope.open("test")) {
            LlamaWeights w = TinyLlama.randomWeights(weights, gqa, 5);
            // query head h reads kv head h / 2: give the MHA model kv heads [0, 0, 1, 1]
            int hd = gqa.headDim();
            LlamaWeights repeated = TinyLlama.mapMatrices(w, t -> t.size(0) != gqa.kvDim() || t.size(1) != gqa.dim() ? t
                    : Ops.concat(0, t.narrow(0, 0, hd), t.narrow(0, 0, hd), t.narrow(0, hd, hd), t.narrow(0, hd, hd)));
            List<float[]> a = oneAtATime(new LlamaModel(gqa, w), TOKENS);
            List<float[]> b = oneAtATime(new LlamaModel(mha, repeated), TOKENS);
            for (int i = 0; i < TOKENS.length; i++) Close.assertAllClose("position " + i, b.get(i), a.get(i), 1e-5 * range(b.get(i)), 1e-5);
        }
    }

    @Test
    void q8WeightsStayCloseToF32() {
        LlamaConfig c = TinyLlama.config(4, 2);
        try (MemoryScope weights = MemoryScope.detached("weights"); MemoryScope scope = MemoryScope.open("test")) {
            LlamaWeights w = TinyLlama.randomWeights(weights, c, 3);
            LlamaWeights q8 = TinyLlama.quantized(w);
            assertThat(q8.layers().get(0).wq().dtype()).isEqualTo(DType.Q8_0);
            List<float[]> f32 = inChunks(new LlamaModel(c, w), TOKENS, 5, 1, 1, 5);
            List<float[]> q = inChunks(new LlamaModel(c, q8), TOKENS, 5, 1, 1, 5);
            for (int i = 0; i < f32.size(); i++) {
                double r = range(f32.get(i));
                // Q8_0 keeps ~8 bits per weight: logits move by a small fraction of their range
                Close.assertAllClose("chunk " + i, f32.get(i), q.get(i), 0.03 * r, 0);
                assertThat(Sampler.argmax(q.get(i))).as("greedy token, chunk " + i).isEqualTo(Sampler.argmax(f32.get(i)));
            }
        }
    }

    @Test
    void activationsAreFreedAndOnlyTheLogitsRemain() {
        LlamaConfig c = TinyLlama.config(4, 2);
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(weights, c, 1));
            try (LlamaModel.KvCache cache = model.newCache(); MemoryScope scope = MemoryScope.open("caller")) {
                assertThat(cache.byteSize()).isEqualTo(2L * c.layers() * c.kvDim() * c.seqLen() * 4);
                long before = MemoryStats.liveBytes();
                Tensor logits = model.forward(new int[] {1, 2, 3, 4}, 0, cache);
                assertThat(logits.shape()).containsExactly(c.vocabSize());
                assertThat(logits.scope()).isSameAs(scope);
                assertThat(MemoryStats.liveBytes() - before).isEqualTo(4L * c.vocabSize());
                assertThat(scope.liveBytes()).isEqualTo(4L * c.vocabSize());
            }
        }
    }

    /** The eager prefill frees each layer's activations when the layer is done: its peak does not grow with the depth. */
    @Test
    void prefillPeakDoesNotGrowWithTheLayerCount() {
        // enough rows x hidden for the pass to free per layer (LlamaModel.FREE_PER_LAYER_BYTES)
        int[] tokens = new int[(int) (LlamaModel.FREE_PER_LAYER_BYTES / (4 * HIDDEN)) + 3];
        for (int i = 0; i < tokens.length; i++) tokens[i] = (i * 7) % 50;
        // two layers, not one: the last layer runs its MLP on the last row only, so a one-layer pass
        // would never hold a full layer's activations
        long shallow = prefillPeak(2, tokens), deep = prefillPeak(6, tokens);
        // the deeper pass holds at most the output of one more layer ([T, dim] F32) at once
        assertThat(deep).isLessThanOrEqualTo(shallow + 4L * tokens.length * 64).isGreaterThan(0);
    }

    private static final int HIDDEN = 2048;

    private static long prefillPeak(int layers, int[] tokens) {
        LlamaConfig c = new LlamaConfig(64, HIDDEN, layers, 4, 2, 50, tokens.length, 10000f, 1e-5f, dev.corvus.tensor.RopeStyle.INTERLEAVED, true);
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(weights, c, 3));
            try (LlamaModel.KvCache cache = model.newCache(); MemoryScope scope = MemoryScope.open("caller")) {
                long before = MemoryStats.liveBytes();
                MemoryStats.resetPeak();
                model.forward(tokens, 0, cache);
                return MemoryStats.peakBytes() - before;
            }
        }
    }

    @Test
    void rejectsCallsTheCacheCannotServe() {
        LlamaConfig c = TinyLlama.config(4, 4);
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(weights, c, 1));
            try (LlamaModel.KvCache cache = model.newCache(8); MemoryScope scope = MemoryScope.open("caller")) {
                assertThatThrownBy(() -> model.forward(new int[] {1}, 1, cache)).hasMessageContaining("start position 1");
                assertThatThrownBy(() -> model.forward(new int[9], 0, cache)).hasMessageContaining("capacity 8");
                assertThatThrownBy(() -> model.forward(new int[] {50}, 0, cache)).hasMessageContaining("token id 50");
                assertThatThrownBy(() -> model.forward(new int[0], 0, cache)).hasMessageContaining("no tokens");
                model.forward(new int[] {1, 2, 3}, 0, cache);
                cache.truncate(1); // rewind: position 1 onwards is recomputed
                model.forward(new int[] {5}, 1, cache);
                assertThat(cache.length()).isEqualTo(2);
            }
            LlamaWeights w = TinyLlama.randomWeights(weights, c, 1);
            LlamaConfig wrong = TinyLlama.config(4, 2);
            assertThatThrownBy(() -> new LlamaModel(wrong, w)).hasMessageContaining("layer 0 wk has shape [64, 64], expected [32, 64]");
        }
    }
}
