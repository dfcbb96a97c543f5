package dev.corvus.cli;

import dev.corvus.tensor.BackendProvider;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Parallel;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** What this JVM offers Corvus and what Corvus chose. */
@Command(name = "info", description = "Java version, vector width, the chosen backend and why, thread count.")
final class InfoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        Backends.Selection cpu = Backends.cpuSelection();
        System.out.println("Java        " + System.getProperty("java.runtime.version") + " (" + System.getProperty("java.vm.name")
                + ", " + System.getProperty("java.vendor") + ")");
        System.out.println("OS          " + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                + ", " + Runtime.getRuntime().availableProcessors() + " cores visible");
        System.out.println("Threads     " + Parallel.parallelism() + " (set with --threads or -Dcorvus.threads)");
        System.out.println("Backend     " + cpu.backend().name() + ": " + cpu.reason());
        System.out.println("Candidates  (in order; force one with -D" + Backends.PROPERTY + "=NAME)");
        for (BackendProvider p : Backends.providers()) {
            if (p.priority() < 0) continue;
            System.out.println("  " + p.name() + " (priority " + p.priority() + "): "
                    + p.unavailableReason().map(r -> "unavailable, " + r).orElse("available"));
        }
        for (BackendProvider p : Backends.providers()) {
            for (String line : p.describeDevices()) System.out.println("Device      " + line);
        }
        return 0;
    }
}
