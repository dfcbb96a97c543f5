package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SpDemoCommandTest {
    private static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int code = new CommandLine(new Main()).execute(args);
            assertThat(code).as("exit code of corvus " + String.join(" ", args)).isZero();
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void inJvmRingMeasuresTheModelsBytes() {
        String out = run("sp-demo", "--ranks", "2", "--n", "64", "--heads", "2", "--dim", "8", "--iterations", "1");
        assertThat(out.lines().filter(l -> l.startsWith("rank ")).toList()).hasSize(2).allSatisfy(l ->
                assertThat(l).matches("rank [01]/2 ring n=64: [0-9.]+ ms/layer, [0-9.]+ MiB sent \\(model [0-9.]+ MiB, matches model\\)"));
        assertThat(out).contains("summary ring fwd P=2 n=64").contains("all ranks match the model");
    }

    @Test
    void inJvmStarTrailAndUlyssesWithBackwardMatchTheModel() {
        for (String scheme : new String[] {"startrail", "ulysses"}) {
            String out = run("sp-demo", "--scheme", scheme, "--team-size", "2", "--backward", "--ranks", "4", "--n", "64",
                    "--heads", "4", "--dim", "8", "--iterations", "1");
            assertThat(out.lines().filter(l -> l.startsWith("rank ") && l.endsWith("matches model)")).count()).as(out).isEqualTo(4);
        }
    }
}
