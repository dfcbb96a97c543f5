package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corvus} as a process, the way a shell runs it: what reaches stderr, the exit code, and
 * how it behaves when stdout is a full disk or a pipe closed early (defects 6 and 8, one-line logs).
 */
class MainProcessTest {
    @TempDir
    static Path dir;

    static Path model;

    @BeforeAll
    static void tinyModel() throws IOException {
        model = TinyModel.write(dir, "tiny.bin", 7, false);
    }

    private static ProcessBuilder corvus(List<String> jvm, String... args) {
        ProcessBuilder pb = new ProcessBuilder(Corvus.processCommand(jvm, args)).redirectError(dir.resolve("stderr.txt").toFile());
        pb.environment().remove("CORVUS_DEBUG");
        return pb;
    }

    private record Exit(int code, String err) {}

    private static Exit waitFor(Process p) throws Exception {
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("corvus did not finish in 60 s");
        }
        return new Exit(p.exitValue(), Files.readString(dir.resolve("stderr.txt"), StandardCharsets.UTF_8));
    }

    private static Exit run(List<String> jvm, Map<String, String> env, String... args) throws Exception {
        ProcessBuilder pb = corvus(jvm, args).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putAll(env);
        return waitFor(pb.start());
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void generateIntoAFullDiskFailsWithTheReason() throws Exception {
        Exit e = waitFor(corvus(List.of(), "generate", "--model", model.toString(), "--steps", "50")
                .redirectOutput(ProcessBuilder.Redirect.to(new File("/dev/full"))).start());
        assertThat(e.code()).as(e.err()).isEqualTo(Main.FAILED);
        assertThat(e.err()).contains("corvus: could not write to standard output; stopped (No space left on device)");
    }

    @Test
    void generateIntoAPipeClosedEarlyStopsAtOnce() throws Exception {
        Process p = corvus(List.of(), "generate", "hello", "--model", model.toString(), "--steps", "400").start();
        try (InputStream out = p.getInputStream()) {
            assertThat(out.readNBytes(10)).hasSize(10); // | head -c 10
        }
        Exit e = waitFor(p);
        assertThat(e.code()).as(e.err()).isEqualTo(Main.FAILED);
        assertThat(e.err()).contains("corvus: could not write to standard output; stopped").doesNotContain("decode:");
    }

    @Test
    void anUnknownBackendPropertyIsOneLineNotAnExceptionInInitializerError() throws Exception {
        Exit e = run(List.of("-Dcorvus.backend=gpu"), Map.of(), "generate", "--model", model.toString(), "--steps", "2");
        assertThat(e.code()).isEqualTo(Main.FAILED);
        assertThat(e.err()).contains("corvus: -Dcorvus.backend=gpu: no such CPU backend; known: [")
                .doesNotContain("ExceptionInInitializerError").doesNotContain("\tat ");
        Exit debug = run(List.of("-Dcorvus.backend=gpu"), Map.of("CORVUS_DEBUG", "1"), "generate", "--model", model.toString(), "--steps", "2");
        assertThat(debug.code()).isEqualTo(Main.FAILED);
        assertThat(debug.err()).contains("no such CPU backend").contains("java.lang.ExceptionInInitializerError").contains("\tat ");
    }

    @Test
    void logRecordsAreOneLineEach() throws Exception {
        Exit e = run(List.of(), Map.of(), "generate", "--model", model.toString(), "--steps", "3");
        assertThat(e.code()).as(e.err()).isZero();
        assertThat(e.err()).contains("corvus: Corvus backend: ");
        // every line is ours ("corvus: ...") or the JVM's own note about the incubator module
        assertThat(e.err().lines().filter(l -> !l.startsWith("corvus: ") && !l.startsWith("WARNING: Using incubator modules")))
                .as("stderr lines of another shape").isEmpty();
    }
}
