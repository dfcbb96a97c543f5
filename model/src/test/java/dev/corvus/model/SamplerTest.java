package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static final float[] LOGITS = {1.0f, 3.0f, 2.5f, -1.0f, 3.0f, 0.0f};

    @Test
    void greedyIsTheFirstArgmax() {
        assertThat(Sampler.greedy().sample(LOGITS)).isEqualTo(1);
        assertThat(Sampler.of(0, 0.9f, 1).sample(LOGITS)).isEqualTo(1);
        try (MemoryScope scope = MemoryScope.open("test")) {
            assertThat(Sampler.greedy().sample(Tensor.of(LOGITS, LOGITS.length))).isEqualTo(1);
        }
    }

    @Test
    void aSeedReproducesARun() {
        for (float topP : new float[] {1f, 0.9f}) {
            int[] a = draw(Sampler.of(1f, topP, 42), 200), b = draw(Sampler.of(1f, topP, 42), 200), c = draw(Sampler.of(1f, topP, 43), 200);
            assertThat(a).isEqualTo(b);
            assertThat(a).isNotEqualTo(c);
        }
    }

    @Test
    void temperatureSamplingFollowsTheSoftmax() {
        int n = 20000;
        int[] counts = new int[LOGITS.length];
        for (int t : draw(Sampler.of(0.7f, 1f, 7), n)) counts[t]++;
        double[] p = Sampler.softmax(LOGITS, 0.7f);
        for (int i = 0; i < p.length; i++) {
            double sd = Math.sqrt(n * p[i] * (1 - p[i]));
            assertThat((double) counts[i]).as("token " + i).isCloseTo(n * p[i], org.assertj.core.data.Offset.offset(5 * sd + 1));
        }
    }

    @Test
    void topPKeepsOnlyTheNucleus() {
        // probabilities at temperature 1: tokens 1 and 4 (0.356 each), 2 (0.216), then 0, 5, 3 (0.07 together)
        double[] p = Sampler.softmax(LOGITS, 1f);
        assertThat(p[1] + p[4]).isBetween(0.6, 0.75);
        assertThat(p[1] + p[4] + p[2]).isGreaterThan(0.75);
        int[] drawn = draw(Sampler.of(1f, 0.6f, 3), 2000);
        assertThat(IntStream.of(drawn).distinct().sorted().toArray()).containsExactly(1, 4);
        drawn = draw(Sampler.of(1f, 0.75f, 3), 4000);
        assertThat(IntStream.of(drawn).distinct().sorted().toArray()).containsExactly(1, 2, 4);
        // a tiny top-p keeps only the most likely token (first by id on ties)
        assertThat(IntStream.of(draw(Sampler.of(1f, 1e-6f, 3), 100)).distinct().toArray()).containsExactly(1);
    }

    // llama.cpp's chain (top-k, top-p, min-p, then the temperature draw) on LOGITS, whose probabilities at temperature 1
    // are: tokens 1 and 4 0.356 each, 2 0.216, 0 0.048, 5 0.018, 3 0.007; relative to the most likely, 2 is e^-0.5 = 0.61,
    // 0 e^-2 = 0.135, 5 e^-3 = 0.050, 3 e^-4 = 0.018.

    @Test
    void topKKeepsTheKMostLikelyAndTiesGoToTheLowerId() {
        assertThat(support(Sampler.of(1f, 1f, 2, 0f, 5), 2000)).containsExactly(1, 4);
        assertThat(support(Sampler.of(1f, 1f, 3, 0f, 5), 4000)).containsExactly(1, 2, 4);
        assertThat(support(Sampler.of(1f, 1f, 1, 0f, 5), 100)).containsExactly(1);
        assertThat(support(Sampler.of(1f, 1f, 6, 0f, 5), 20000)).containsExactly(0, 1, 2, 3, 4, 5);
        assertThat(support(Sampler.of(1f, 1f, 1000, 0f, 5), 20000)).containsExactly(0, 1, 2, 3, 4, 5);
    }

    @Test
    void topPKeepsTheShortestRunReachingPAtTemperatureOne() {
        assertThat(support(Sampler.of(1f, 0.7f, 0, 0f, 5), 2000)).containsExactly(1, 4); // 0.712 >= 0.7
        assertThat(support(Sampler.of(1f, 0.9f, 0, 0f, 5), 4000)).containsExactly(1, 2, 4); // 0.928
        assertThat(support(Sampler.of(1f, 0.95f, 0, 0f, 5), 8000)).containsExactly(0, 1, 2, 4); // 0.976
        // the nucleus is chosen before the temperature: at 5 the tempered distribution is nearly flat, the nucleus is not
        assertThat(support(Sampler.of(5f, 0.9f, 0, 0f, 5), 4000)).containsExactly(1, 2, 4);
        assertThat(support(Sampler.of(1f, 0f, 0, 0f, 5), 100)).containsExactly(1);
    }

    @Test
    void minPDropsTokensLessLikelyThanMinPTimesTheMostLikely() {
        assertThat(support(Sampler.of(1f, 1f, 0, 0.7f, 5), 2000)).containsExactly(1, 4);
        assertThat(support(Sampler.of(1f, 1f, 0, 0.5f, 5), 4000)).containsExactly(1, 2, 4);
        assertThat(support(Sampler.of(1f, 1f, 0, 0.1f, 5), 8000)).containsExactly(0, 1, 2, 4);
        assertThat(support(Sampler.of(1f, 1f, 0, 1f, 5), 2000)).containsExactly(1, 4);
    }

    @Test
    void topPSeesTheProbabilitiesRenormalisedOverTheTopK() {
        // among the top 3, tokens 1 and 4 hold 0.767 >= 0.75; over all six only 0.712, so top-p alone keeps token 2 too
        assertThat(support(Sampler.of(1f, 0.75f, 3, 0f, 5), 4000)).containsExactly(1, 4);
        assertThat(support(Sampler.of(1f, 0.75f, 0, 0f, 5), 4000)).containsExactly(1, 2, 4);
        // min-p comes last: after top-k 2 it has nothing left to drop; after top-p 0.95 it drops token 0 at 0.2
        assertThat(support(Sampler.of(1f, 0.95f, 0, 0.2f, 5), 8000)).containsExactly(1, 2, 4);
    }

    @Test
    void theDrawAmongTheKeptTokensFollowsTheirTemperedSoftmax() {
        int n = 20000;
        int[] counts = new int[LOGITS.length];
        for (int t : draw(Sampler.of(0.7f, 1f, 3, 0f, 11), n)) counts[t]++;
        double[] tempered = Sampler.softmax(new float[] {LOGITS[1], LOGITS[2], LOGITS[4]}, 0.7f);
        double[] p = new double[LOGITS.length];
        p[1] = tempered[0];
        p[2] = tempered[1];
        p[4] = tempered[2];
        for (int i = 0; i < p.length; i++) {
            double sd = Math.sqrt(n * p[i] * (1 - p[i]));
            assertThat((double) counts[i]).as("token " + i).isCloseTo(n * p[i], org.assertj.core.data.Offset.offset(5 * sd + 1));
        }
    }

    @Test
    void theChainWithNoFilterDrawsExactlyAsLlama2cSampling() {
        assertThat(draw(Sampler.of(0.8f, 1f, 0, 0f, 99), 500)).isEqualTo(draw(Sampler.of(0.8f, 1f, 99), 500));
        assertThat(Sampler.of(0f, 0.5f, 2, 0.3f, 99).sample(LOGITS)).isEqualTo(1);
    }

    @Test
    void aSeedReproducesTheChain() {
        int[] a = draw(Sampler.of(1.2f, 0.95f, 5, 0.01f, 42), 300), b = draw(Sampler.of(1.2f, 0.95f, 5, 0.01f, 42), 300);
        assertThat(a).isEqualTo(b);
        assertThat(a).isNotEqualTo(draw(Sampler.of(1.2f, 0.95f, 5, 0.01f, 43), 300));
    }

    @Test
    void theChainRejectsBadSettings() {
        assertThatThrownBy(() -> Sampler.of(1, 1, -1, 0, 0)).hasMessageContaining("top-k");
        assertThatThrownBy(() -> Sampler.of(1, 1, 0, 1.5f, 0)).hasMessageContaining("min-p");
        assertThatThrownBy(() -> Sampler.of(1, Float.NaN, 0, 0, 0)).hasMessageContaining("top-p");
    }

    @Test
    void theChainMatchesAFullSortReferenceOnAwkwardVocabularies() {
        java.util.Random random = new java.util.Random(17);
        float[] topPs = {1f, 0.95f, 0.5f, 0.1f, 0f};
        int[] topKs = {0, 1, 2, 5, 40, 5000};
        float[] minPs = {0f, 0.01f, 0.2f, 0.9f, 1f};
        int cases = 0;
        for (int n : new int[] {1, 2, 7, 13, 97, 1000, 4099}) {
            for (int trial = 0; trial < 60; trial++) {
                float[] logits = new float[n];
                boolean ties = trial % 3 == 0;
                for (int i = 0; i < n; i++) {
                    float v = (float) (random.nextGaussian() * (1 + trial % 5));
                    logits[i] = ties ? Math.round(v * 2) / 2f : v;
                }
                if (n > 2 && trial % 4 == 1) logits[random.nextInt(n)] = Float.NEGATIVE_INFINITY; // a masked token
                float temperature = 0.3f + random.nextFloat() * 1.5f, topP = topPs[trial % topPs.length];
                int topK = topKs[(trial / 5) % topKs.length];
                float minP = minPs[(trial / 2) % minPs.length];
                double coin = random.nextDouble();
                assertThat(Sampler.chain(logits, temperature, topP, topK, minP, coin))
                        .as("n %d, temperature %s, top-p %s, top-k %d, min-p %s, coin %s", n, temperature, topP, topK, minP, coin)
                        .isEqualTo(referenceChain(logits, temperature, topP, topK, minP, coin));
                cases++;
            }
        }
        assertThat(cases).isEqualTo(7 * 60);
    }

    /** llama.cpp's chain written plainly: sort every token by logit (ties by id), cut the prefix per filter, draw. */
    private static int referenceChain(float[] logits, float temperature, float topP, int topK, float minP, double coin) {
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        double max = logits[order[0]];
        int kept = topK > 0 ? Math.min(topK, order.length) : order.length;
        double sum = 0;
        for (int i = 0; i < kept; i++) sum += Math.exp(logits[order[i]] - max);
        if (topP < 1) {
            double mass = 0;
            for (int i = 0; i < kept; i++) {
                mass += Math.exp(logits[order[i]] - max) / sum;
                if (mass >= topP) {
                    kept = i + 1;
                    break;
                }
            }
        }
        int survivors = 1;
        while (survivors < kept && Math.exp(logits[order[survivors]] - max) >= minP) survivors++;
        double[] w = new double[survivors];
        double total = 0;
        for (int i = 0; i < survivors; i++) total += w[i] = Math.exp((logits[order[i]] - max) / temperature);
        double cdf = 0;
        for (int i = 0; i < survivors; i++) {
            cdf += w[i];
            if (coin * total < cdf) return order[i];
        }
        return order[survivors - 1];
    }

    /** The distinct tokens of {@code n} draws, ascending. */
    private static int[] support(Sampler s, int n) {
        return IntStream.of(draw(s, n)).distinct().sorted().toArray();
    }

    @Test
    void rejectsBadSettings() {
        assertThatThrownBy(() -> Sampler.of(-1, 0.9f, 0)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> Sampler.of(1, 1.5f, 0)).hasMessageContaining("top-p");
    }

    private static int[] draw(Sampler s, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = s.sample(LOGITS);
        return out;
    }
}
