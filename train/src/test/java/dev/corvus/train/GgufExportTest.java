package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaCpp;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.RealModel;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

class GgufExportTest {
    @TempDir Path dir;

    static LlamaWeights randomWeights(MemoryScope scope, LlamaConfig c, long seed) {
        List<LlamaWeights.Layer> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            long s = seed + 100L * (l + 1);
            layers.add(new LlamaWeights.Layer(norm(scope, s, c.dim()), matrix(scope, s + 1, c.qDim(), c.dim()), matrix(scope, s + 2, c.kvDim(), c.dim()),
                    matrix(scope, s + 3, c.kvDim(), c.dim()), matrix(scope, s + 4, c.dim(), c.qDim()), norm(scope, s + 5, c.dim()),
                    matrix(scope, s + 6, c.hiddenDim(), c.dim()), matrix(scope, s + 7, c.dim(), c.hiddenDim()), matrix(scope, s + 8, c.hiddenDim(), c.dim())));
        }
        Tensor embedding = Tensor.randn(scope, seed, 1f, c.vocabSize(), c.dim());
        Tensor classifier = c.sharedClassifier() ? embedding : matrix(scope, seed + 9, c.vocabSize(), c.dim());
        return new LlamaWeights(embedding, layers, norm(scope, seed + 10, c.dim()), classifier);
    }

    static Tensor matrix(MemoryScope scope, long seed, int out, int in) {
        return Tensor.randn(scope, seed, (float) (1 / Math.sqrt(in)), out, in);
    }

    static Tensor norm(MemoryScope scope, long seed, int n) {
        float[] v = Tensor.randn(scope, seed, 0.1f, n).toFloatArray();
        for (int i = 0; i < n; i++) v[i] += 1;
        return Tensor.of(scope, v, n);
    }

    /** One AdamW update with random gradients, so the exported weights are not the ones the model started from. */
    static void perturb(Parameters p) {
        try (MemoryScope scope = MemoryScope.open(); AdamW adam = new AdamW(p, AdamW.Options.defaults())) {
            long seed = 1;
            for (Parameter q : p.list()) Ops.copyInto(Tensor.randn(scope, seed++, 1f, q.shape()), q.grad());
            adam.update(1e-3f);
        }
    }

    static float[] logits(LlamaConfig c, LlamaWeights w, int[] tokens) {
        LlamaModel model = new LlamaModel(c, w);
        try (MemoryScope scope = MemoryScope.open(); var cache = model.newCache()) {
            return model.forwardAll(tokens, 0, cache).toFloatArray();
        }
    }

    static void assertSameLogits(float[] exported, float[] inMemory) {
        assertThat(exported).hasSameSizeAs(inMemory);
        // the same F32 weights through the same forward pass; reduceLanes' order may change with the JIT tier, so allow rounding
        for (int i = 0; i < exported.length; i++) assertThat(exported[i]).as("logit %d", i).isCloseTo(inMemory[i], org.assertj.core.data.Offset.offset(1e-4f * (1 + Math.abs(inMemory[i]))));
    }

    @Test
    void parametersOfAQuantisedModelAreDecodedF32MastersNamedAsGguf() {
        LlamaConfig c = new LlamaConfig(64, 96, 2, 4, 2, 50, 32, 10000f, 1e-5f, RopeStyle.INTERLEAVED, false);
        try (MemoryScope scope = MemoryScope.open()) {
            LlamaWeights w = randomWeights(scope, c, 3).mapMatrices(t -> Ops.convert(t, DType.Q8_0));
            try (Parameters p = Parameters.of(c, w)) {
                assertThat(p.size()).isEqualTo(1 + 2 * 9 + 2);
                assertThat(p.list().get(0).name()).isEqualTo("token_embd.weight");
                assertThat(p.get("blk.1.attn_k.weight").shape()).containsExactly(c.kvDim(), c.dim());
                assertThat(p.get("blk.0.attn_norm.weight").decay()).isFalse();
                assertThat(p.get("blk.0.ffn_down.weight").decay()).isTrue();
                assertThat(p.classifier().name()).isEqualTo("output.weight");
                for (Parameter q : p.list()) assertThat(q.value().dtype()).isEqualTo(DType.F32);
                assertThat(p.get("blk.0.attn_q.weight").value().toFloatArray()).containsExactly(Ops.dequantize(w.layers().get(0).wq()).toFloatArray());
                assertThat(p.weights().layers().get(1).w3()).isSameAs(p.get("blk.1.ffn_up.weight").value());
            }
        }
    }

    @Test
    void anExportedTinyModelLoadsAndGivesTheInMemoryLogits() throws IOException {
        LlamaConfig c = new LlamaConfig(64, 96, 2, 4, 2, 50, 32, 10000f, 1e-5f, RopeStyle.INTERLEAVED, true);
        int[] tokens = {1, 7, 49, 3, 3, 22, 0, 15};
        Path file = dir.resolve("tiny.gguf");
        try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(c, randomWeights(scope, c, 5))) {
            assertThat(p.size()).as("a shared classifier is one parameter").isEqualTo(1 + 2 * 9 + 1);
            perturb(p);
            float[] inMemory = logits(c, p.weights(), tokens);
            p.exportGguf(file, null, DType.F32);
            try (Checkpoint loaded = Checkpoints.load(file)) {
                assertThat(loaded.config().sharedClassifier()).isTrue();
                assertSameLogits(logits(loaded.config(), loaded.weights(), tokens), inMemory);
            }
        }
    }

    /**
     * Every family of the GGUF conformance set (real vocabularies, random weights; biases, q/k
     * norms, post norms, fused projections, soft-capping, quantised blocks): its weights become F32
     * masters, are updated once, exported, and the file gives the masters' logits.
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama2, F32", "llama2, Q4_K_M", "llama3, F16", "qwen2, Q4_K_M-mixed", "qwen3, F16", "phi3, F32", "gemma2, F32", "gemma3, Q4_K_M-mixed"})
    void everyFamilyRoundTripsThroughParametersAndGguf(String model, String variant) throws IOException {
        LlamaCpp.ConformanceSet.Entry entry = LlamaCpp.require().conformanceSet().entry(model, variant);
        Path file = dir.resolve(model + "-tuned.gguf");
        try (Checkpoint original = Checkpoints.load(entry.file()); Parameters p = Parameters.of(original.config(), original.weights())) {
            perturb(p);
            float[] inMemory = logits(original.config(), p.weights(), entry.tokens());
            p.exportGguf(file, original.tokenizer().orElse(null), DType.F32);
            try (Checkpoint loaded = Checkpoints.load(file)) {
                assertThat(loaded.config().architecture()).isEqualTo(original.config().architecture());
                try (Parameters reread = Parameters.of(loaded.config(), loaded.weights())) {
                    assertThat(reread.list().stream().map(Parameter::name)).containsExactlyElementsOf(p.list().stream().map(Parameter::name).toList());
                }
                assertSameLogits(logits(loaded.config(), loaded.weights(), entry.tokens()), inMemory);
            }
        }
    }

    /** stories15M, updated once, exported with its tokenizer: what {@code corvus generate --model tuned.gguf} loads. */
    @Test
    void anExportedStories15MLoadsWithItsTokenizerAndGivesTheInMemoryLogits() throws IOException {
        var files = RealModel.files();
        Path file = dir.resolve("tuned.gguf");
        try (Checkpoint original = Checkpoints.load(files.checkpoint()); Parameters p = Parameters.of(original.config(), original.weights())) {
            Tokenizer tokenizer = original.tokenizer().orElseThrow();
            int[] tokens = tokenizer.encode("Once upon a time, there was a little fox", true, false);
            perturb(p);
            float[] inMemory = logits(original.config(), p.weights(), tokens);
            p.exportGguf(file, tokenizer, DType.F32);
            try (Checkpoint loaded = Checkpoints.load(file)) {
                assertThat(loaded.format()).isEqualTo(Checkpoint.Format.GGUF);
                assertThat(loaded.tokenizer()).isPresent();
                assertThat(loaded.tokenizer().get().encode("Once upon a time, there was a little fox", true, false)).containsExactly(tokens);
                assertSameLogits(logits(loaded.config(), loaded.weights(), tokens), inMemory);
            }
        }
    }
}
