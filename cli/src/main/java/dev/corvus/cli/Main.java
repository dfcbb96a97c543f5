package dev.corvus.cli;

import dev.corvus.tensor.Parallel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code corvus}: the command-line entry point. */
@Command(name = "corvus", mixinStandardHelpOptions = true, version = "corvus 0.1.0",
        description = "Pure-JVM compute for long-sequence transformer workloads.",
        subcommands = {InfoCommand.class, BenchCommand.class})
public final class Main implements Runnable {
    @Option(names = "--threads", description = "Worker threads for kernels (default: all cores).", scope = CommandLine.ScopeType.INHERIT)
    void threads(int n) {
        Parallel.setThreads(n);
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
        int code = new CommandLine(new Main()).setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("corvus: " + e.getMessage());
            return 1;
        }).execute(args);
        System.exit(code);
    }
}
