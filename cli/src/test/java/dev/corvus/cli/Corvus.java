package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import picocli.CommandLine;

/** Runs corvus in-process through {@link Main#execute}, the path {@code main} takes, and keeps what it printed. */
final class Corvus {
    private Corvus() {}

    record Run(int code, String out, String err) {
        /** Failed with a one-line "corvus..." message and no stack trace. */
        Run failsPlainly(int expectedCode) {
            assertThat(code).as("exit code; stderr:%n%s", err).isEqualTo(expectedCode);
            assertNoStackTrace();
            assertThat(err).as("stderr").startsWith("corvus");
            return this;
        }

        Run assertNoStackTrace() {
            assertThat(err).as("stderr").doesNotContain("\tat ").doesNotContain("Exception in thread").doesNotContain("looks like a bug");
            return this;
        }
    }

    static Run run(String... args) {
        return run(cl -> {}, args);
    }

    /** Also captures System.out, which some commands (info, chunk, sp-demo) print to; its text follows the writer's in out. */
    static Run run(Consumer<CommandLine> customize, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        PrintStream old = System.out;
        ByteArrayOutputStream system = new ByteArrayOutputStream();
        int code;
        synchronized (Corvus.class) {
            System.setOut(new PrintStream(system, true, StandardCharsets.UTF_8));
            try {
                code = Main.execute(args, new PrintWriter(out), new PrintWriter(err), null, customize);
            } finally {
                System.setOut(old);
            }
        }
        return new Run(code, out + system.toString(StandardCharsets.UTF_8), err.toString());
    }

    /** The command line that runs corvus as a process of its own, on this test's Java and class path: JVM options {@code jvm}, then {@code args}. */
    static List<String> processCommand(List<String> jvm, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path")));
        cmd.addAll(jvm);
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Runs with stdout going to {@code stdout} (a stream that fails, say); the result's out is empty. */
    static Run runTo(OutputStream stdout, String... args) {
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(stdout, false, StandardCharsets.UTF_8), new PrintWriter(err), null, cl -> {});
        return new Run(code, "", err.toString());
    }
}
