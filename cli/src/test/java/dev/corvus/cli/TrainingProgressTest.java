package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What corvus train shows per step: the bar a terminal gets and the lines a log gets, with and without the bytes each rank sent. */
class TrainingProgressTest {
    private static Trainer.StepRecord step(long n, double loss) {
        return new Trainer.StepRecord(n, loss, 512, 0.75, 1e-4f, Double.NaN);
    }

    @Test
    void logLinesCarryStepLossSpeedAndTheBytesPerRankWhenRanksCommunicate() {
        StringWriter out = new StringWriter();
        try (TrainingProgress p = TrainingProgress.lines(new PrintWriter(out), 100, true)) {
            p.validation(0, 3.5);
            p.step(step(7, 2.5), 1234.4, 3L << 20);
            p.step(step(8, 2.25), 99.6, -1);
        }
        assertThat(out.toString().lines()).containsExactly("corvus: step   0/100: validation loss 3.5000",
                "corvus: step   7/100: loss 2.5000, 1234 tok/s, lr 1.00e-04, |g| 0.750, 3.00 MiB/rank",
                "corvus: step   8/100: loss 2.2500, 100 tok/s, lr 1.00e-04, |g| 0.750");
        StringWriter predicted = new StringWriter();
        try (TrainingProgress p = TrainingProgress.lines(new PrintWriter(predicted), 9, true)) {
            p.predictedBytesPerRank(3L << 19);
            p.step(step(1, 2.5), 10, 3L << 20);
        }
        assertThat(predicted.toString()).as("the scheme's count beside the measured bytes")
                .isEqualTo("corvus: step 1/9: loss 2.5000, 10 tok/s, lr 1.00e-04, |g| 0.750, 3.00 MiB/rank (predicted 1.50)" + System.lineSeparator());
        StringWriter single = new StringWriter();
        try (TrainingProgress p = TrainingProgress.lines(new PrintWriter(single), 9, false)) {
            p.step(step(1, 2.5), 10, 5);
        }
        assertThat(single.toString()).as("one device: no bytes column").isEqualTo("corvus: step 1/9: loss 2.5000, 10 tok/s, lr 1.00e-04, |g| 0.750" + System.lineSeparator());
    }

    @Test
    void theBarStartsAtAResumedStepAndShowsTheLastLossAndValidationWithinEightyColumns() {
        ByteArrayOutputStream terminal = new ByteArrayOutputStream();
        try (TrainingProgress p = TrainingProgress.bar(new PrintStream(terminal, true, StandardCharsets.UTF_8), 80, 4, 10, false)) {
            p.validation(4, 3.25);
            p.step(step(5, 2.5), 1000, -1);
        }
        assertThat(terminal.toString(StandardCharsets.UTF_8)).contains("train").contains("5/10").contains("loss 2.500 val 3.250 1000 tok/s");

        ByteArrayOutputStream wide = new ByteArrayOutputStream();
        try (TrainingProgress p = TrainingProgress.bar(new PrintStream(wide, true, StandardCharsets.UTF_8), 120, 0, 10, true)) {
            p.step(step(1, 2.5), 1000, 3L << 19);
        }
        assertThat(wide.toString(StandardCharsets.UTF_8)).contains("1/10").contains("loss 2.500 1000 tok/s 1.50 MiB/rank");
    }
}
