package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.RopeStyle;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Sequence-parallel training of a tiny random decoder (grouped KV heads, both RoPE styles) on
 * P = 1, 2, 4, 8 in-JVM ranks with every scheme (ring, StarTrail with every valid team size,
 * Ulysses): the loss and every parameter's gradient equal the one-device {@link DecoderGradients}
 * step, every rank holds the same gradients, and every rank's bytes equal CommVolume's attention
 * traffic plus the gradient all-reduce (a sliding window and soft-capping change no byte). The
 * sequence length (37 positions) is a multiple of no layout's chunks, so every P > 1 pads.
 */
class SequenceParallelGradientsTest {
    /** 8 query heads over 2 KV heads (Ulysses on 4 and 8 ranks repeats them), interleaved RoPE, shared classifier. */
    static final LlamaConfig GQA_INTERLEAVED = new LlamaConfig(32, 40, 2, 8, 2, 29, 64, 10000f, 1e-5f, RopeStyle.INTERLEAVED, true);
    /** 8 query heads over 4 KV heads, half-split RoPE, separate classifier. */
    static final LlamaConfig GQA_HALF_SPLIT = new LlamaConfig(32, 48, 2, 8, 4, 31, 64, 500f, 1e-5f, RopeStyle.HALF_SPLIT, false);
    static final int CHUNK_ROWS = 5;

    static Function<MemoryScope, LlamaWeights> weights(LlamaConfig c) {
        return scope -> GgufExportTest.randomWeights(scope, c, 42);
    }

    static int[] sequence(LlamaConfig c, int tokens, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] s = new int[tokens];
        for (int i = 0; i < tokens; i++) s[i] = r.nextInt(c.vocabSize());
        return s;
    }

    /**
     * Mistral / Gemma-2-like: layers 0 and 2 attend within a window of 5 positions (zigzag chunks
     * are 5 positions at P = 4 and 10 at P = 2, so windows cross chunk boundaries and whole chunk
     * pairs fall outside them), layer 1 over everything; attention logits soft-capped at 2, final
     * logits at 3, a classifier bias (its weights: {@link #withBias}); 8 query heads over 2 KV
     * heads (Ulysses on 4 ranks repeats them).
     */
    static final LlamaConfig SLIDING_SOFTCAP = new LlamaConfig(32, 40, 3, 8, 2, 29, 64, 10000f, 1e-5f, RopeStyle.HALF_SPLIT, true,
            dev.corvus.model.Architecture.LLAMA, 4, LlamaConfig.Activation.SILU, 1f, 10000f, 1f, 1f, 64, 5, List.of(true, false, true), 0.5f, 2f, 3f, 1f);

    static Function<MemoryScope, LlamaWeights> withBias(LlamaConfig c) {
        return scope -> DecoderGradientsTest.withClassifierBias(scope, GgufExportTest.randomWeights(scope, c, 42), c);
    }

    @Test
    void everySchemeOnOneTwoFourAndEightRanksEqualsOneDevice() {
        for (LlamaConfig config : List.of(GQA_INTERLEAVED, GQA_HALF_SPLIT)) checkEveryScheme(config, weights(config), new int[] {1, 2, 4, 8});
    }

    @Test
    void slidingWindowLayersSoftCapsAndClassifierBiasOnOneTwoAndFourRanksEqualOneDevice() {
        checkEveryScheme(SLIDING_SOFTCAP, withBias(SLIDING_SOFTCAP), new int[] {1, 2, 4});
    }

    private static void checkEveryScheme(LlamaConfig config, Function<MemoryScope, LlamaWeights> weights, int[] rankCounts) {
        {
            int[] seq = sequence(config, 38, config.vocabSize());
            SequenceParallelHarness.Step ref = SequenceParallelHarness.reference(config, weights, seq, CHUNK_ROWS);
            List<Parameter> names;
            try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(config, weights.apply(scope))) {
                names = p.list();
                for (int ranks : rankCounts) {
                    for (SequenceParallelScheme scheme : SequenceParallelScheme.values()) {
                        for (int c : scheme.teamSizes(ranks)) {
                            String what = config.ropeStyle() + (config.slidingWindow() > 0 ? " sliding+softcap" : "") + " " + scheme.label(c) + " on " + ranks + " ranks";
                            List<SequenceParallelHarness.Step> steps = SequenceParallelHarness.parallel(config, weights, seq, scheme, c, ranks, CHUNK_ROWS);
                            double worst = 0;
                            for (int r = 0; r < ranks; r++) {
                                SequenceParallelHarness.Step s = steps.get(r);
                                assertThat(s.tokens()).as(what + " tokens, rank " + r).isEqualTo(ref.tokens()).isEqualTo(37);
                                assertThat(s.lossSum()).as(what + " loss, rank " + r).isCloseTo(ref.lossSum(), Offset.offset(1e-5 * ref.tokens() * (1 + Math.abs(ref.lossSum() / ref.tokens()))));
                                worst = Math.max(worst, SequenceParallelHarness.assertClose(what + ", rank " + r, names, ref.grads(), s.grads(), 37, 5e-7));
                                // the all-reduce leaves the same bits everywhere: every rank takes the same AdamW step
                                assertThat(s.grads()).as(what + ": rank " + r + " holds rank 0's gradients").isDeepEqualTo(steps.getFirst().grads());
                                assertThat(s.bytes()).as(what + ": bytes rank " + r + " sent")
                                        .isEqualTo(SequenceParallelGradients.expectedBytes(config, names, scheme, c, ranks, r, seq.length, 1, GradientBuckets.DEFAULT_BUCKET_ELEMENTS));
                            }
                            System.out.printf("%s: largest gradient error %.2e relative to |one device| + rms; rank 0 sent %d bytes%n", what, worst, steps.getFirst().bytes());
                        }
                    }
                }
            }
        }
    }
}
