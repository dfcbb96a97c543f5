package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Per-block activation checkpointing ({@code DecoderGradients(chunk, true)}) against the plain
 * tape on tiny random decoders: the loss and every parameter's gradient equal, with grouped KV
 * heads, both RoPE styles, shared and separate classifiers, and a block with every optional
 * tensor (q/k/v/o and MLP biases, q/k norms, post norms), so a weight the checkpointed block
 * failed to declare would show as a gradient missing.
 */
class CheckpointedDecoderGradientsTest {
    @Test
    void checkpointedBlocksGiveTheGradientsOfThePlainTape() {
        LlamaConfig grouped = new LlamaConfig(16, 24, 3, 4, 2, 23, 16, 10000f, 1e-5f, RopeStyle.INTERLEAVED, true);
        LlamaConfig halfSplit = new LlamaConfig(12, 20, 2, 3, 1, 13, 16, 500f, 1e-5f, RopeStyle.HALF_SPLIT, false);
        try (MemoryScope scope = MemoryScope.open("test")) {
            compare(grouped, GgufExportTest.randomWeights(scope, grouped, 42), 11);
            compare(halfSplit, GgufExportTest.randomWeights(scope, halfSplit, 7), 9);
            compare(grouped, withEveryOptionalTensor(scope, grouped, GgufExportTest.randomWeights(scope, grouped, 5)), 13);
        }
    }

    private static void compare(LlamaConfig config, LlamaWeights weights, int tokens) {
        SplittableRandom r = new SplittableRandom(tokens);
        int[] sequence = new int[tokens];
        for (int i = 0; i < tokens; i++) sequence[i] = r.nextInt(config.vocabSize());
        try (Parameters plain = Parameters.of(config, weights); Parameters checkpointed = Parameters.of(config, weights)) {
            plain.zeroGrads();
            checkpointed.zeroGrads();
            CrossEntropy.Loss a = new DecoderGradients(4).accumulate(sequence, plain);
            CrossEntropy.Loss b = new DecoderGradients(4, true).accumulate(sequence, checkpointed);
            assertThat(b.sum()).isEqualTo(a.sum());
            List<Parameter> pa = plain.list(), pb = checkpointed.list();
            assertThat(pb).hasSameSizeAs(pa);
            for (int i = 0; i < pa.size(); i++) {
                float[] expected = pa.get(i).grad().toFloatArray();
                assertThat(norm(expected)).as("%s has a gradient at all", pa.get(i).name()).isPositive();
                // each block is recomputed by the same kernels on the same values: the same floats
                assertThat(pb.get(i).grad().toFloatArray()).as("%s: %s", config, pa.get(i).name()).containsExactly(expected);
            }
        }
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float f : v) s += (double) f * f;
        return Math.sqrt(s);
    }

    /** The weights with every optional per-layer tensor present: biases, q/k norms, post norms. */
    private static LlamaWeights withEveryOptionalTensor(MemoryScope scope, LlamaConfig c, LlamaWeights w) {
        List<LlamaWeights.Layer> layers = new ArrayList<>();
        long seed = 500;
        for (LlamaWeights.Layer l : w.layers()) {
            layers.add(new LlamaWeights.Layer(l.attentionNorm(), l.wq(), l.wk(), l.wv(), l.wo(), l.ffnNorm(), l.w1(), l.w2(), l.w3(),
                    small(scope, seed++, c.qDim()), small(scope, seed++, c.kvDim()), small(scope, seed++, c.kvDim()),
                    GgufExportTest.norm(scope, seed++, c.headDim()), GgufExportTest.norm(scope, seed++, c.headDim()), small(scope, seed++, c.dim()),
                    GgufExportTest.norm(scope, seed++, c.dim()), small(scope, seed++, c.hiddenDim()), small(scope, seed++, c.dim()),
                    small(scope, seed++, c.hiddenDim()), GgufExportTest.norm(scope, seed++, c.dim())));
        }
        return new LlamaWeights(w.tokenEmbedding(), layers, w.finalNorm(), w.classifier());
    }

    private static Tensor small(MemoryScope scope, long seed, int n) {
        return Tensor.randn(scope, seed, 0.1f, n);
    }
}
