package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class CliTest {
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
    void infoNamesTheBackendAndWhy() {
        String out = run("info");
        assertThat(out).contains("Java").contains("25").contains("Backend").contains("Threads");
        assertThat(out).containsPattern("Backend +(vector|scalar): .+");
        assertThat(out).contains("scalar (priority 0): available");
    }

    @Test
    void benchPrintsOneRowPerCaseWithSpeedups() {
        String out = run("bench", "--seconds", "0.05");
        assertThat(out).contains("matmul").contains("softmax").contains("rmsnorm").contains("GFLOP/s").contains("GB/s");
        assertThat(out.lines().filter(l -> l.endsWith("x")).count()).isEqualTo(3);
    }
}
