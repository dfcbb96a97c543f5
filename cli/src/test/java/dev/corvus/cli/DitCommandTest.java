package dev.corvus.cli;

import static dev.corvus.cli.CliRunner.run;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DitCommandTest {
    /** 4 frames of 12×12 in 4×4 patches: S = 9, T' = 4, over 2 or 4 ranks (neither divides 9). */
    private static final String[] TINY = {"--frames", "4", "--size", "12", "--patch", "4", "--hidden", "16", "--heads", "4", "--depth", "1"};

    /** "dit", the tiny sizes, then {@code more}: an option given in both takes more's value (picocli refuses an option twice). */
    private static String[] tiny(String... more) {
        java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("dit"));
        a.addAll(java.util.List.of(TINY));
        for (int i = 0; i < more.length; i++) {
            int at = a.indexOf(more[i]);
            boolean valued = i + 1 < more.length && !more[i + 1].startsWith("--");
            if (at > 0 && valued) a.set(at + 1, more[++i]);
            else {
                a.add(more[i]);
                if (valued) a.add(more[++i]);
            }
        }
        return a.toArray(String[]::new);
    }

    @Test
    void everySchemeSendsTheModelsBytesPerRank() {
        for (String scheme : new String[] {"dsp", "ulysses", "ring"}) {
            String out = run(tiny("--ranks", "4", "--scheme", scheme, "--steps", "2"));
            assertThat(out.lines().filter(l -> l.startsWith("rank ")).toList()).as(out).hasSize(4).allSatisfy(l -> assertThat(l)
                    .matches("rank [0-3]/4: [0-9.]+ ms/step, [0-9.]+ MiB sent/step \\(model [0-9.]+ MiB, matches model\\), activations [0-9.]+ MiB"));
            assertThat(out).contains("peak memory of the JVM");
        }
    }

    @Test
    void trainsAndWritesTheSampledStrip(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("strip.png");
        String out = run(tiny("--ranks", "2", "--train", "--steps", "4", "--log-every", "2", "--clips", "1", "--sample", "--sample-steps", "2",
                "--out", png.toString()));
        assertThat(out).contains("step 2/4: mean loss").contains("step 4/4: mean loss").contains("loss: first step").contains("wrote " + png);
        assertThat(out.lines().filter(l -> l.startsWith("rank ") && l.endsWith("matches model)")).count()).as(out).isEqualTo(2);
        assertThat(Files.size(png)).isPositive();
    }

    @Test
    void badOptionsNameTheOption() {
        assertThat(Corvus.run(tiny("--patch", "5")).failsPlainly(Main.USAGE).err()).contains("--patch 5: does not divide --size 12");
        assertThat(Corvus.run(tiny("--scheme", "ulysses", "--ranks", "3")).failsPlainly(Main.USAGE).err()).contains("--heads 4: ulysses needs");
        assertThat(Corvus.run(tiny("--heads", "3")).failsPlainly(Main.USAGE).err()).contains("--heads 3: does not divide --hidden 16");
        assertThat(Corvus.run(tiny("--lr", "-1")).failsPlainly(Main.USAGE).err()).contains("--lr -1");
        for (String option : new String[] {"--ranks", "--frames", "--depth", "--batch", "--sample-steps", "--steps"}) {
            assertThat(Corvus.run(tiny(option, "0")).failsPlainly(Main.USAGE).err()).contains(option + " 0: expected at least 1");
        }
        assertThat(Corvus.run(tiny("--ranks", "1000")).failsPlainly(Main.USAGE).err()).contains("--ranks 1000: at most");
        assertThat(Corvus.run(tiny("--scheme", "zigzag")).failsPlainly(Main.USAGE).err()).contains("--scheme");
    }
}
