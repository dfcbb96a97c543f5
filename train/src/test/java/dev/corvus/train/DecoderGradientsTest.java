package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Gradients of the real decoder ({@code LlamaModel.trainingForward} under the tape, chunked
 * cross-entropy on top) against central finite differences of the same loss, on tiny random
 * models: grouped KV heads, both RoPE styles, shared and separate classifiers, sliding-window
 * layers beside full ones and soft-capped attention logits.
 */
class DecoderGradientsTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    @Test
    void everyParameterOfATinyDecoderMatchesFiniteDifferences() {
        check(new LlamaConfig(16, 24, 2, 4, 2, 23, 16, 10000f, 1e-5f, RopeStyle.INTERLEAVED, true), 11);
        check(new LlamaConfig(12, 20, 1, 3, 1, 13, 16, 500f, 1e-5f, RopeStyle.HALF_SPLIT, false), 7);
    }

    /**
     * A tiny Mistral/Gemma-2-like decoder: sliding-window layers (window 3) alternating with full
     * ones, attention logits soft-capped at 2 (tanh well into its bend for these scores), GQA,
     * head size 6 != dim / heads (Gemma's key_length), the plain classifier the loss applies.
     */
    static LlamaConfig slidingSoftcapConfig(int seqLen) {
        int dim = 16, heads = 4, headDim = 6;
        return new LlamaConfig(dim, 24, 3, heads, 2, 23, seqLen, 10000f, 1e-5f, RopeStyle.HALF_SPLIT, true,
                dev.corvus.model.Architecture.LLAMA, headDim, LlamaConfig.Activation.SILU, 1f, 10000f, 1f, 1f, seqLen,
                3, java.util.List.of(true, false, true), (float) (1 / Math.sqrt(headDim)), 2f, 0f, 1f);
    }

    @Test
    void slidingWindowLayersAndSoftCappedAttentionMatchFiniteDifferences() {
        check(slidingSoftcapConfig(16), 11);
    }

    /**
     * {@link #slidingSoftcapConfig} with a final-logit soft-cap of 3 (Gemma's, here tight for these
     * logits), for weights with a classifier bias (Qwen2's; {@link #withClassifierBias}).
     */
    static LlamaConfig allFeaturesConfig(int seqLen) {
        LlamaConfig c = slidingSoftcapConfig(seqLen);
        return new LlamaConfig(c.dim(), c.hiddenDim(), c.layers(), c.heads(), c.kvHeads(), c.vocabSize(), c.seqLen(), c.ropeTheta(), c.normEps(),
                c.ropeStyle(), c.sharedClassifier(), c.architecture(), c.headDim(), c.activation(), c.ropeScale(), c.ropeThetaSliding(),
                c.ropeScaleSliding(), c.ropeMagnitude(), c.ropeOriginalContext(), c.slidingWindow(), c.slidingLayers(), c.attentionScale(),
                c.attentionSoftcap(), 3f, c.embeddingScale());
    }

    /** w with a classifier bias ~ N(0, 0.5²) added. */
    static LlamaWeights withClassifierBias(MemoryScope scope, LlamaWeights w, LlamaConfig c) {
        return new LlamaWeights(w.tokenEmbedding(), w.layers(), w.finalNorm(), w.classifier(), Tensor.randn(scope, 77, 0.5f, c.vocabSize()),
                w.ropeFactors(), w.ropeFactorsLong());
    }

    @Test
    void aClassifierBiasAndFinalSoftcapMatchFiniteDifferences() {
        check(allFeaturesConfig(16), 11, true);
    }

    private static void check(LlamaConfig config, int tokens) {
        check(config, tokens, false);
    }

    private static void check(LlamaConfig config, int tokens, boolean bias) {
        try (MemoryScope scope = MemoryScope.open("test")) {
            LlamaWeights weights = GgufExportTest.randomWeights(scope, config, 42);
            if (bias) weights = withClassifierBias(scope, weights, config);
            try (Parameters p = Parameters.of(config, weights)) {
                SplittableRandom r = new SplittableRandom(tokens);
                int[] sequence = new int[tokens];
                for (int i = 0; i < tokens; i++) sequence[i] = r.nextInt(config.vocabSize());
                DecoderGradients loss = new DecoderGradients(4); // several chunks, the last one short
                p.zeroGrads();
                CrossEntropy.Loss l = loss.accumulate(sequence, p);
                assertThat(l.tokens()).isEqualTo(tokens - 1);
                assertThat(l.sum()).isCloseTo(loss.loss(sequence, p).sum(), org.assertj.core.data.Offset.offset(1e-4));
                double h = 1e-2;
                for (Parameter param : p.list()) {
                    Tensor v = param.value();
                    float[] analytic = param.grad().toFloatArray();
                    // every element of the small tensors, an evenly spread sample of the large ones
                    int stride = Math.max(1, (int) (v.numel() / 40));
                    for (int e = (int) (r.nextInt(stride)); e < v.numel(); e += stride) {
                        long at = v.byteOffset() + 4L * e;
                        float saved = v.segment().get(F32, at);
                        v.segment().set(F32, at, (float) (saved + h));
                        double plus = loss.loss(sequence, p).sum();
                        v.segment().set(F32, at, (float) (saved - h));
                        double minus = loss.loss(sequence, p).sum();
                        v.segment().set(F32, at, saved);
                        double numeric = (plus - minus) / ((double) (float) (saved + h) - (float) (saved - h));
                        double allowed = 2e-3 + 1e-2 * Math.abs(numeric);
                        if (!(Math.abs(analytic[e] - numeric) <= allowed)) {
                            fail(config + ": " + param.name() + " element " + e + ": tape gradient " + analytic[e] + ", finite difference " + numeric);
                        }
                    }
                }
            }
        }
    }
}
