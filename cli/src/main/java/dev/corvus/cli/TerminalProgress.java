package dev.corvus.cli;

import dev.corvus.model.Progress;
import java.io.Console;
import java.io.PrintStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Draws {@link Progress} phases as progress bars (me.tongfei:progressbar) on stderr, on a
 * terminal only: redirected to a file or a CI log, a redrawn bar is noise, and the phases'
 * one-line messages already say what happens.
 */
final class TerminalProgress implements Progress {
    private final PrintStream out;
    private ProgressBar bar;

    private TerminalProgress(PrintStream out) {
        this.out = out;
    }

    /** Bars on stderr when this is an interactive terminal (and CORVUS_NO_PROGRESS is unset), else {@link Progress#NONE}. */
    static Progress forStderr() {
        Console c = System.console();
        boolean interactive = c != null && c.isTerminal() && System.getenv("CORVUS_NO_PROGRESS") == null;
        return interactive ? new TerminalProgress(System.err) : Progress.NONE;
    }

    @Override
    public synchronized void start(String phase, long total) {
        end();
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(phase).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(200).setConsumer(new ConsoleProgressBarConsumer(out));
        if (total > 0) b.setUnit(" MB", 1_000_000).showSpeed();
        bar = b.build();
    }

    @Override
    public synchronized void advance(long done) {
        if (bar != null) bar.stepTo(done);
    }

    @Override
    public synchronized void end() {
        if (bar == null) return;
        bar.close();
        bar = null;
    }
}
