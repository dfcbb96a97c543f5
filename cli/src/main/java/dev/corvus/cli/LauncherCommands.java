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

    @Command(name = "test", description = {"(./corvus launcher) Run the whole test suite: ./mvnw verify, then the MPI tests.",
        "Uses the Java 25 the launcher found; the multi-process MPI tests run when mpirun is installed.",
        "Extra arguments go to Maven, e.g. ./corvus test -pl model."})
    static final class Test implements Callable<Integer> {
        @Parameters(paramLabel = "MAVEN_ARGS", arity = "0..*", description = "Passed to ./mvnw verify.")
        List<String> args;

        @Unmatched
        List<String> unmatched;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw Cli.usage(spec, "'corvus test' is run by the ./corvus launcher in the source checkout: ./corvus test");
        }
    }

    @Command(name = "jmh", description = {"(./corvus launcher) Run the JMH benchmark suites.",
        "jmh/target/benchmarks.jar, built when missing. Arguments go to JMH,",
        "e.g. ./corvus jmh -l (list), ./corvus jmh GemvBenchmark -f 1 -wi 2 -i 3."})
    static final class Jmh implements Callable<Integer> {
        @Parameters(paramLabel = "JMH_ARGS", arity = "0..*", description = "Passed to JMH.")
        List<String> args;

        @Unmatched
        List<String> unmatched;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw Cli.usage(spec, "'corvus jmh' is run by the ./corvus launcher in the source checkout: ./corvus jmh [JMH options]");
        }
    }
}
