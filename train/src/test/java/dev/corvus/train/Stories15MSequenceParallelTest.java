package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.RealModel;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.MemoryScope;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Sequence-parallel gradients of stories15M on 2048 positions of Debian's fortunes equal the
 * one-device step: ring and StarTrail (C = 2) on 4 in-JVM ranks, Ulysses on 2 (the model's 6
 * heads do not split over 4). {@code -Dcorvus.slow=true} runs every scheme and valid team size on
 * 2, 4 and 8 ranks (Ulysses where 6 heads split). A missing model fails the test (as every
 * stories15M test) unless CORVUS_OFFLINE=1.
 */
class Stories15MSequenceParallelTest {
    static final int POSITIONS = 2048, CHUNK_ROWS = 64;

    @Test
    void gradientsAt2048PositionsEqualOneDevice() throws IOException {
        Assumptions.assumeTrue(!Backends.cpu().name().equals("scalar"), "stories15M steps at 2048 positions take minutes on the scalar backend; the tiny-model checks cover it");
        var files = RealModel.files();
        Tokenizer tokenizer = Tokenizer.loadLlama2c(files.tokenizer());
        int[] sequence = TokenDataset.fromFiles(List.of(TokenDataset.fortunesFile()), tokenizer, POSITIONS, 0.01, 11).validation(0);
        assertThat(sequence).hasSize(POSITIONS + 1);
        try (Checkpoint original = Checkpoints.load(files.checkpoint())) {
            var config = original.config();
            record Case(SequenceParallelScheme scheme, int teamSize, int ranks) {}
            List<Case> cases = new ArrayList<>();
            if (Boolean.getBoolean("corvus.slow")) {
                for (int ranks : new int[] {2, 4, 8}) {
                    for (SequenceParallelScheme s : SequenceParallelScheme.values()) {
                        if (s == SequenceParallelScheme.ULYSSES && config.heads() % ranks != 0) continue;
                        for (int c : s.teamSizes(ranks)) cases.add(new Case(s, c, ranks));
                    }
                }
            } else {
                cases.add(new Case(SequenceParallelScheme.RING, 1, 4));
                cases.add(new Case(SequenceParallelScheme.STARTRAIL, 2, 4));
                cases.add(new Case(SequenceParallelScheme.ULYSSES, 1, 2));
            }
            long t0 = System.nanoTime();
            SequenceParallelHarness.Step ref = SequenceParallelHarness.reference(config, scope -> original.weights(), sequence, CHUNK_ROWS);
            System.out.printf("stories15M, %d positions, one device: loss %.5f in %.1f s%n", POSITIONS, ref.lossSum() / ref.tokens(), (System.nanoTime() - t0) / 1e9);
            List<Parameter> names;
            try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(config, original.weights())) {
                names = p.list();
            }
            for (Case c : cases) {
                String what = "stories15M " + c.scheme().label(c.teamSize()) + " on " + c.ranks() + " ranks";
                long t1 = System.nanoTime();
                List<SequenceParallelHarness.Step> steps = SequenceParallelHarness.parallel(config, scope -> original.weights(), sequence, c.scheme(), c.teamSize(),
                        c.ranks(), CHUNK_ROWS);
                double seconds = (System.nanoTime() - t1) / 1e9, worst = 0;
                System.out.printf("%s: largest relative L2 gradient error %s%n", what, SequenceParallelHarness.worstRelativeL2(names, ref.grads(), steps.getFirst().grads()));
                for (int r = 0; r < c.ranks(); r++) {
                    SequenceParallelHarness.Step s = steps.get(r);
                    assertThat(s.tokens()).isEqualTo(POSITIONS);
                    assertThat(s.lossSum() / s.tokens()).as(what + " loss").isCloseTo(ref.lossSum() / ref.tokens(), Offset.offset(1e-5));
                    worst = Math.max(worst, SequenceParallelHarness.assertClose(what + ", rank " + r, names, ref.grads(), s.grads(), POSITIONS, 1e-6));
                    assertThat(s.bytes()).as(what + ": bytes rank " + r + " sent")
                            .isEqualTo(SequenceParallelGradients.expectedBytes(config, names, c.scheme(), c.teamSize(), c.ranks(), r, sequence.length, 1, GradientBuckets.DEFAULT_BUCKET_ELEMENTS));
                }
                System.out.printf("%s: loss %.5f, largest gradient error %.2e relative to |one device| + rms, rank 0 sent %.1f MiB, %.1f s%n", what,
                        steps.getFirst().lossSum() / POSITIONS, worst, steps.getFirst().bytes() / 1048576.0, seconds);
            }
        }
    }
}
