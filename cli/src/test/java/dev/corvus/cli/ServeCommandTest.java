package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** corvus serve as a process: it prints its URL, answers, and Ctrl-C (SIGINT) stops it cleanly. */
class ServeCommandTest {
    @TempDir
    static Path dir;

    static Path model;

    @BeforeAll
    static void tinyModel() throws Exception {
        model = TinyModel.write(dir, "tiny.bin", 7, false);
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void servesUntilCtrlC() throws Exception {
        List<String> cmd = Corvus.processCommand(List.of(), "serve", "--model", model.toString(), "--port", "0", "--api-key", "k1", "--max-queue", "2",
                "--kv-budget", "8M");
        Path stderr = dir.resolve("serve-stderr.txt");
        // A shell that starts a job in the background (nohup ... &, as some CI runners do) makes it ignore SIGINT, and the JVM
        // then installs no handler for it: env --default-signal gives the server Ctrl-C's default meaning back.
        List<String> withDefaultInt = new java.util.ArrayList<>(List.of("env", "--default-signal=INT"));
        withDefaultInt.addAll(cmd);
        Process p = new ProcessBuilder(withDefaultInt).redirectError(stderr.toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertThat(line).as("stderr: %s", Files.readString(stderr)).isNotNull();
            Matcher m = Pattern.compile("corvus: serving tiny \\(.*API key required\\) at (http://127\\.0\\.0\\.1:\\d+)/v1; Ctrl-C stops").matcher(line);
            assertThat(m.matches()).as(line).isTrue();
            URI base = URI.create(m.group(1));
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(base.resolve("/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            HttpRequest completion = HttpRequest.newBuilder(base.resolve("/v1/completions")).timeout(Duration.ofSeconds(60))
                    .header("Authorization", "Bearer k1")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"tiny\", \"prompt\": \"hello\", \"max_tokens\": 3}")).build();
            HttpResponse<String> r = http.send(completion, HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.body()).contains("\"completion_tokens\":");

            new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor(10, TimeUnit.SECONDS);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                // what it was doing, for the report: its stderr and its threads
                Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(p.pid()),
                        "Thread.print").redirectErrorStream(true).start();
                String threads = new String(jcmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                jcmd.waitFor(30, TimeUnit.SECONDS);
                throw new AssertionError("corvus serve did not stop within 60 s of SIGINT; stderr:\n" + Files.readString(stderr) + "\nthreads:\n" + threads);
            }
            assertThat(p.exitValue()).isEqualTo(Main.INTERRUPTED);
            String err = Files.readString(stderr);
            assertThat(err).contains("corvus: stopping").doesNotContain("\tat ").doesNotContain("Exception");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void badOptionsAreUsageErrors() {
        assertThat(Corvus.run("serve", "--model", model.toString(), "--port", "70000").failsPlainly(Main.USAGE).err()).contains("--port 70000");
        Corvus.run("serve", "--model", model.toString(), "--max-body", "0").failsPlainly(Main.USAGE);
        Corvus.run("serve", "--model", model.toString(), "--timeout", "-1").failsPlainly(Main.USAGE);
        assertThat(Corvus.run("serve", "--model", model.toString(), "--warmup", "-1").failsPlainly(Main.USAGE).err()).contains("--warmup must be");
        assertThat(Corvus.run("serve", "--model", model.toString(), "--kv-budget", "lots").failsPlainly(Main.USAGE).err()).contains("--kv-budget lots");
        assertThat(Corvus.run("serve", "--model", dir.resolve("missing.bin").toString(), "--port", "0").failsPlainly(Main.FAILED).err())
                .contains("does not exist");
    }
}
