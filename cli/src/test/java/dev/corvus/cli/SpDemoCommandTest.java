package dev.corvus.cli;

import static dev.corvus.cli.CliRunner.run;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SpDemoCommandTest {
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
