package dev.corvus.cli;

import dev.corvus.train.Trainer;
import java.io.Console;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * What {@code corvus train} shows while it runs: on a terminal a progress bar over the steps
 * (me.tongfei:progressbar) whose message carries the last loss, tokens/s, the last validation
 * loss and, with several ranks, the bytes each rank sent; elsewhere (a file, a CI log, where a
 * redrawn bar is noise) one plain line per step and per validation.
 */
abstract class TrainingProgress implements AutoCloseable {
    static final double MIB = 1024.0 * 1024.0;
    final boolean showBytes;
    double lastValidation = Double.NaN;
    /** What the scheme's count says a step sends, shown beside the measured bytes on the log lines; -1: not known. */
    long predictedBytes = -1;

    private TrainingProgress(boolean showBytes) {
        this.showBytes = showBytes;
    }

    /** A bar on stderr when it is an interactive terminal (and CORVUS_NO_PROGRESS is unset), else lines on {@code err}. */
    static TrainingProgress forStderr(PrintWriter err, long firstStep, long steps, boolean showBytes) {
        Console c = System.console();
        boolean interactive = c != null && c.isTerminal() && System.getenv("CORVUS_NO_PROGRESS") == null;
        return interactive ? bar(System.err, -1, firstStep, steps, showBytes) : lines(err, steps, showBytes);
    }

    /**
     * A bar drawn on {@code terminal} {@code width} columns wide (-1: the terminal's width), from
     * {@code firstStep} (a resumed run) to {@code steps}.
     */
    static TrainingProgress bar(PrintStream terminal, int width, long firstStep, long steps, boolean showBytes) {
        return new Bar(terminal, width, firstStep, steps, showBytes);
    }

    /** One line per step and per validation on {@code err}. */
    static TrainingProgress lines(PrintWriter err, long steps, boolean showBytes) {
        return new Lines(err, steps, showBytes);
    }

    /** Step {@code r} is done at {@code tokensPerSecond}; {@code bytesPerRank} is -1 when nothing was communicated. */
    abstract void step(Trainer.StepRecord r, double tokensPerSecond, long bytesPerRank);

    /** The bytes per rank a step should send (-1: none given), shown beside the measured ones on the log lines. */
    void predictedBytesPerRank(long bytes) {
        predictedBytes = bytes;
    }

    /** The held-out loss after {@code step} steps. */
    void validation(long step, double loss) {
        lastValidation = loss;
    }

    @Override
    public abstract void close();

    String bytes(long bytesPerRank, String separator) {
        return showBytes && bytesPerRank >= 0 ? String.format(Locale.ROOT, "%s%.2f MiB/rank", separator, bytesPerRank / MIB) : "";
    }

    private static final class Bar extends TrainingProgress {
        private final ProgressBar bar;

        Bar(PrintStream terminal, int width, long firstStep, long steps, boolean showBytes) {
            super(showBytes);
            bar = new ProgressBarBuilder().setTaskName("train").setInitialMax(steps).startsFrom(firstStep, Duration.ZERO).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(200).setConsumer(new ConsoleProgressBarConsumer(terminal, width)).build();
        }

        @Override
        void step(Trainer.StepRecord r, double tokensPerSecond, long bytesPerRank) {
            // terse: the bar, its counts and times take half of an 80-column terminal
            String validation = Double.isFinite(lastValidation) ? String.format(Locale.ROOT, " val %.3f", lastValidation) : "";
            bar.setExtraMessage(String.format(Locale.ROOT, "loss %.3f%s %.0f tok/s", r.trainLoss(), validation, tokensPerSecond) + bytes(bytesPerRank, " "));
            bar.stepTo(r.step());
        }

        @Override
        public void close() {
            bar.close();
        }
    }

    private static final class Lines extends TrainingProgress {
        private final PrintWriter err;
        private final long steps;
        /** Step numbers padded to the digits of the last, so the lines align. */
        private final String width;

        Lines(PrintWriter err, long steps, boolean showBytes) {
            super(showBytes);
            this.err = err;
            this.steps = steps;
            this.width = "%" + Long.toString(steps).length() + "d";
        }

        @Override
        void step(Trainer.StepRecord r, double tokensPerSecond, long bytesPerRank) {
            err.println(String.format(Locale.ROOT, "corvus: step " + width + "/%d: loss %.4f, %.0f tok/s, lr %.2e, |g| %.3f", r.step(), steps, r.trainLoss(),
                    tokensPerSecond, r.learningRate(), r.gradNorm()) + bytes(bytesPerRank, ", ")
                    + (showBytes && bytesPerRank >= 0 && predictedBytes >= 0 ? String.format(Locale.ROOT, " (predicted %.2f)", predictedBytes / MIB) : ""));
            err.flush();
        }

        @Override
        void validation(long step, double loss) {
            super.validation(step, loss);
            err.println(String.format(Locale.ROOT, "corvus: step " + width + "/%d: validation loss %.4f", step, steps, loss));
            err.flush();
        }

        @Override
        public void close() {
            err.flush();
        }
    }
}
