package dev.corvus.parallel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.attention.Mask;
import org.junit.jupiter.api.Test;

/**
 * The chunk-pair masks ring and StarTrail attend with: for every pair of chunks (lengths 1 to 7,
 * every offset) and windows 1 to 12 or none, the mask sees exactly the pairs the global causal
 * sliding-window rule sees, and null (the pair skipped) comes exactly when it sees none.
 */
class BlockMaskTest {
    @Test
    void everyChunkPairSeesWhatTheGlobalRuleSees() {
        long[] windows = {1, 2, 3, 5, 8, 12, Mask.NO_WINDOW};
        int skipped = 0;
        for (long window : windows) {
            Mask global = new Mask(true, 0, 0, window);
            for (int qs = 0; qs < 20; qs++) {
                for (int ql = 1; ql <= 7; ql++) {
                    for (int ks = 0; ks < 20; ks++) {
                        for (int kl = 1; kl <= 7; kl++) {
                            SequenceLayout.Chunk q = new SequenceLayout.Chunk(0, qs, ql), k = new SequenceLayout.Chunk(0, ks, kl);
                            Mask m = RingAttention.blockMask(q, k, true, window);
                            boolean any = false;
                            for (int i = 0; i < ql; i++) {
                                for (int j = 0; j < kl; j++) {
                                    boolean expected = global.visible(qs + i, ks + j);
                                    any |= expected;
                                    if (m != null) {
                                        assertThat(m.visible(m.queryStart() + i, m.keyStart() + j))
                                                .as("window %d, queries %d+%d, keys %d+%d, pair (%d, %d)", window, qs, ql, ks, kl, i, j).isEqualTo(expected);
                                    }
                                }
                            }
                            assertThat(m == null).as("window %d, queries %d+%d, keys %d+%d skipped", window, qs, ql, ks, kl).isEqualTo(!any);
                            if (m == null) skipped++;
                        }
                    }
                }
            }
        }
        assertThat(skipped).isPositive();
    }
}
