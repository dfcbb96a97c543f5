package dev.corvus.cli;

import dev.corvus.tensor.Parallel;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code corvus}: the command-line entry point. */
@Command(name = "corvus", mixinStandardHelpOptions = true, version = "corvus 0.1.0",
        description = "Pure-JVM compute for long-sequence transformer workloads.",
        subcommands = {InfoCommand.class, BenchCommand.class, GenerateCommand.class, PlanCommand.class, ChunkCommand.class, ConvertCommand.class, SpDemoCommand.class,
            LogitsCommand.class, PerplexityCommand.class})
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
        // UTF-8 whatever the platform encoding: generated text is Unicode
        PrintWriter out = new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8));
        int code = new CommandLine(new Main()).setOut(out).setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("corvus: " + e.getMessage());
            return 1;
        }).execute(args);
        out.flush();
        System.exit(code);
    }
}
