package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.RealModel;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.Backends;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The tape's decoder gradients drive the real trainer on stories15M: a few AdamW steps on Debian's
 * fortunes (text unlike TinyStories, so there is something to learn) lower the loss on held-out
 * sequences.
 */
class Stories15MTrainingTest {
    @Test
    void theLossFallsOverAFewSteps() throws IOException {
        Assumptions.assumeTrue(!Backends.cpu().name().equals("scalar"), "stories15M steps take minutes on the scalar backend; the tiny-model gradient checks cover it");
        var files = RealModel.files();
        Tokenizer tokenizer = Tokenizer.loadLlama2c(files.tokenizer());
        TokenDataset data = TokenDataset.fromFiles(List.of(TokenDataset.fortunesFile()), tokenizer, 128, 0.01, 7);
        DecoderGradients gradients = new DecoderGradients(32);
        int steps = 16, heldOut = 4;
        try (Checkpoint original = Checkpoints.load(files.checkpoint()); Parameters p = Parameters.of(original.config(), original.weights())) {
            double before = validation(gradients, data, p, heldOut);
            Trainer.Options options = new Trainer.Options(1, 1.0, LearningRateSchedule.warmupCosine(1e-4f, 1e-5f, 2, steps),
                    new AdamW.Options(0.9f, 0.95f, 1e-8f, 0.01f), 0, null, 0);
            List<Double> losses = new ArrayList<>();
            try (Trainer<int[]> t = new Trainer<>(p, data, gradients, null, options)) {
                long start = System.nanoTime();
                for (Trainer.StepRecord r : t.runUntil(steps)) losses.add(Math.round(r.trainLoss() * 1000) / 1000.0);
                System.out.printf("stories15M on fortunes, %d AdamW steps of one 128-token sequence in %.1f s (%s backend): train loss %s%n", steps,
                        (System.nanoTime() - start) / 1e9, Backends.cpu().name(), losses);
            }
            double after = validation(gradients, data, p, heldOut);
            System.out.printf("stories15M held-out loss over %d sequences: %.4f before, %.4f after%n", heldOut, before, after);
            assertThat(after).isLessThan(before - 0.2);
        }
    }

    private static double validation(DecoderGradients gradients, TokenDataset data, Parameters p, int sequences) {
        double sum = 0;
        long tokens = 0;
        for (int i = 0; i < sequences; i++) {
            CrossEntropy.Loss l = gradients.loss(data.validation(i), p);
            sum += l.sum();
            tokens += l.tokens();
        }
        return sum / tokens;
    }
}
