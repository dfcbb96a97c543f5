package dev.corvus.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * The commands the {@code ./corvus} launcher runs itself (they need the source checkout and
 * Maven, not the jar): listed here so that {@code corvus --help} and {@code corvus help test}
 * show them; run from the jar they say where they work.
 */
final class LauncherCommands {
    private LauncherCommands() {}

    /** What both share: they take any arguments (passed on by the launcher) and, run from the jar, say where they work. */
    abstract static class LauncherOnly implements Callable<Integer> {
        @Parameters(paramLabel = "ARGS", arity = "0..*", description = "Passed on (to ./mvnw verify or to JMH).")
        List<String> args;

        @Unmatched
        List<String> unmatched;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            String name = spec.name();
            throw Cli.usage(spec, "'corvus " + name + "' is run by the ./corvus launcher in the source checkout: ./corvus " + name + " ...");
        }
    }

    @Command(name = "test", description = {"(./corvus launcher) Run the whole test suite: ./mvnw verify, then the MPI tests.",
        "Uses the Java 25 the launcher found; the multi-process MPI tests run when mpirun is installed.",
        "Extra arguments go to Maven, e.g. ./corvus test -pl model."})
    static final class Test extends LauncherOnly {}

    @Command(name = "jmh", description = {"(./corvus launcher) Run the JMH benchmark suites.",
        "jmh/target/benchmarks.jar, built when missing. Arguments go to JMH,",
        "e.g. ./corvus jmh -l (list), ./corvus jmh GemvBenchmark -f 1 -wi 2 -i 3."})
    static final class Jmh extends LauncherOnly {}
}
