package dev.corvus.tensor.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.Backends;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the backend choice in a fresh JVM with chosen flags, because what it depends on (the boot
 * layer's modules, the class path) is fixed when a JVM starts. The child prints the chosen
 * backend's name on stdout; its log records come one per line on stderr.
 */
public final class BackendChoice {
    private BackendChoice() {}

    /** What the child JVM chose and logged. */
    public record Result(String backend, List<String> logLines) {}

    /** Prints the CPU backend's name (the child's entry point). */
    public static void main(String[] args) {
        System.out.println(Backends.cpu().name());
    }

    /** Starts this class's main on the current class path with {@code jvmFlags}. */
    public static Result run(List<String> jvmFlags) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmFlags);
        // One line per record (the default format spends two), so tests can count them.
        cmd.add("-Djava.util.logging.SimpleFormatter.format=%4$s: %5$s%n");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(BackendChoice.class.getName());
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("child JVM finished").isTrue();
        String stderr = new String(err, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("child JVM exit code; stderr:%n%s", stderr).isZero();
        List<String> log = stderr.lines().filter(l -> !l.isBlank() && !l.startsWith("WARNING: Using incubator modules")).toList();
        return new Result(new String(out, StandardCharsets.UTF_8).strip(), log);
    }
}
