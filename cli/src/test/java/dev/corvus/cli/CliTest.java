package dev.corvus.cli;

import static dev.corvus.cli.CliRunner.run;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CliTest {
    @Test
    void infoNamesTheBackendAndWhy() {
        String out = run("info");
        assertThat(out).contains("Java").contains("25").contains("Backend").contains("Threads");
        assertThat(out).containsPattern("Backend +(vector|scalar): .+");
        assertThat(out).contains("scalar (priority 0): available");
    }

    @Test
    void benchPrintsOneRowPerCaseWithSpeedups() {
        String out = run("bench", "--kernels", "--seconds", "0.05");
        assertThat(out).contains("matmul").contains("softmax").contains("rmsnorm").contains("GFLOP/s").contains("GB/s");
        assertThat(out.lines().filter(l -> l.endsWith("x")).count()).isEqualTo(3);
    }
}
