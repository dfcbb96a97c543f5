package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.corvus.hetero.DeviceProfile;
import dev.corvus.hetero.DeviceSide;
import dev.corvus.model.ModelStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code corvus plan} and {@code corvus generate --hetero} on TinyStories-15M and the OpenCL device (skipped without either). */
class HeteroCommandTest {
    private record Run(int code, String out, String err) {}

    @TempDir
    static Path dir;

    @BeforeAll
    static void profileInATemporaryFile() {
        // the measured profile goes to a temporary file, not the user's cache
        System.setProperty(DeviceProfile.PROPERTY, dir.resolve("profile.properties").toString());
    }

    @AfterAll
    static void clear() {
        System.clearProperty(DeviceProfile.PROPERTY);
    }

    private static Run corvus(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("corvus: " + e.getMessage());
            return 1;
        });
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static String model() throws Exception {
        ModelStore store = ModelStore.defaults();
        assumeTrue(store.hasStories15M(), "TinyStories-15M is not in " + store.cacheDir() + " (the model tests fetch it)");
        assumeTrue(DeviceSide.unavailableReason().isEmpty(), () -> "no OpenCL: " + DeviceSide.unavailableReason().orElse(""));
        return store.stories15MPaths().checkpoint().toString();
    }

    @Test
    void planPrintsEveryLayerWithPlacementAlphaAndTime() throws Exception {
        Run r = corvus("plan", "--model", model(), "--device-memory", "2M");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("Device opencl:").contains("layer").contains("alpha").contains("decode us");
        assertThat(r.out()).contains("layers.0.wq").contains("layers.5.w2").contains("classifier");
        assertThat(r.out()).containsPattern("of a 2\\.00 MiB budget");
    }

    @Test
    void heteroGenerationGivesTheCpuStory() throws Exception {
        String m = model();
        Run cpu = corvus("generate", "Once upon a time", "--model", m, "--steps", "24", "--quiet");
        Run hetero = corvus("generate", "Once upon a time", "--model", m, "--steps", "24", "--hetero", "--device-memory", "1M");
        assertThat(hetero.code()).as(hetero.err()).isZero();
        assertThat(hetero.out()).isEqualTo(cpu.out()).startsWith("Once upon a time, there was a little girl named Lily.");
        assertThat(hetero.err()).contains("hetero on opencl:");
        // half of every layer's rows on the device, whatever the profile says
        Run half = corvus("generate", "Once upon a time", "--model", m, "--steps", "24", "--hetero", "--split-ratio", "0.5");
        assertThat(half.code()).as(half.err()).isZero();
        assertThat(half.out()).isEqualTo(cpu.out());
        assertThat(half.err()).containsPattern("0 resident, 43 split with the device, 0 on the CPU alone");
    }

    @Test
    void badOptionsSpeakPlainly() throws Exception {
        String m = model();
        assertThat(corvus("generate", "--model", m, "--device-memory", "lots").err()).contains("--device-memory lots: expected bytes");
        assertThat(corvus("generate", "--model", m, "--device-memory", "1M").err()).contains("apply only with --hetero");
        assertThat(corvus("generate", "--model", m, "--hetero", "--split-ratio", "1.5").err()).contains("--split-ratio 1.5: expected the CPU's share");
        assertThat(corvus("generate", "--model", m, "--hetero", "--device", "cpu").err()).contains("'cpu' is the CPU");
    }

    @Test
    void byteSizes() {
        assertThat(HeteroSetup.parseBytes("0")).isZero();
        assertThat(HeteroSetup.parseBytes("4096")).isEqualTo(4096);
        assertThat(HeteroSetup.parseBytes("64M")).isEqualTo(64L << 20);
        assertThat(HeteroSetup.parseBytes("1.5g")).isEqualTo(3L << 29);
        assertThat(HeteroSetup.parseBytes("2GiB")).isEqualTo(2L << 30);
        assertThat(HeteroSetup.parseBytes("512KB")).isEqualTo(512L << 10);
    }
}
