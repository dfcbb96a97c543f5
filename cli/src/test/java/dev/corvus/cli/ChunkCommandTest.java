package dev.corvus.cli;

import static dev.corvus.cli.CliRunner.run;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ChunkCommandTest {
    @Test
    void compilesRunsAndComparesAModel() {
        String out = run("chunk", "--model", "vit", "--n", "256", "--budget", "0.6", "--run");
        assertThat(out).contains("AutoChunk plan:", "region 0", "unchunked:", "within budget");
        String diff = out.substring(out.indexOf("max |diff| ") + "max |diff| ".length()).trim();
        assertThat(Double.parseDouble(diff)).isLessThan(1e-4);
    }

    @Test
    void takesABudgetInBytes() {
        String out = run("chunk", "--model", "transformer-materialised", "--n", "512", "--budget", "8M");
        assertThat(out).contains("compiled transformer-materialised/512 for 8.0 MiB", "budget 8.00 MiB");
    }
}
