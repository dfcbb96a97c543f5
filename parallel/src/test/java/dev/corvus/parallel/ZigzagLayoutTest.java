package dev.corvus.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ZigzagLayoutTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8, 16})
    void zigzagCoversEveryTokenOnceAndBalancesCausalWorkAtEveryRingStep(int p) {
        int n = 2 * p * 5;
        Set<Integer> seen = new HashSet<>();
        for (int r = 0; r < p; r++) {
            for (SequenceLayout.Chunk c : SequenceLayout.zigzag(n, r, p).chunks()) {
                for (int t = c.globalStart(); t < c.globalEnd(); t++) assertThat(seen.add(t)).as("token %d twice", t).isTrue();
            }
        }
        assertThat(seen).hasSize(n);
        for (int step = 0; step < p; step++) {
            long expected = -1;
            for (int r = 0; r < p; r++) {
                SequenceLayout mine = SequenceLayout.zigzag(n, r, p), source = SequenceLayout.zigzag(n, (r - step + p) % p, p);
                long work = 0;
                for (SequenceLayout.Chunk qc : mine.chunks()) {
                    for (SequenceLayout.Chunk kc : source.chunks()) work += SequenceLayout.visiblePairs(qc, kc, true);
                }
                if (expected < 0) expected = work;
                assertThat(work).as("rank %d at step %d of %d", r, step, p).isEqualTo(expected);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void contiguousLayoutIsNotBalancedUnderCausalMask(int p) {
        int n = 8 * p;
        long first = SequenceLayout.visiblePairs(SequenceLayout.contiguous(n, 0, p).chunks().getFirst(),
                SequenceLayout.contiguous(n, 0, p).chunks().getFirst(), true);
        long last = SequenceLayout.visiblePairs(SequenceLayout.contiguous(n, p - 1, p).chunks().getFirst(),
                SequenceLayout.contiguous(n, 0, p).chunks().getFirst(), true);
        assertThat(last).isGreaterThan(first);
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 5})
    void lengthsThatDoNotSplitAreRefused(int p) {
        assertThatThrownBy(() -> SequenceLayout.zigzag(2 * p * 3 + 1, 0, p)).hasMessageContaining("does not split");
    }
}
