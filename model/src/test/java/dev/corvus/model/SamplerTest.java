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
