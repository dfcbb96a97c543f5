package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.Command;

/** Every throwable ends as one line naming the cause and an exit code; the stack trace only with --debug (defects 8 and 10). */
class CliFailuresTest {
    @TempDir
    Path dir;

    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        private final Supplier<Throwable> failure;

        Boom(Supplier<Throwable> failure) {
            this.failure = failure;
        }

        @Override
        public Integer call() throws Exception {
            Throwable t = failure.get();
            if (t instanceof Exception e) throw e;
            throw (Error) t;
        }
    }

    private static Corvus.Run boom(Supplier<Throwable> failure, String... more) {
        String[] args = new String[more.length + 1];
        args[0] = "boom";
        System.arraycopy(more, 0, args, 1, more.length);
        return Corvus.run(cl -> cl.addSubcommand(new Boom(failure)), args);
    }

    @Test
    void errorsAreReportedByTheirCauseWithoutAStackTrace() {
        // what --backend gpu used to show: the IllegalStateException hidden in an ExceptionInInitializerError
        Corvus.Run r = boom(() -> new ExceptionInInitializerError(new IllegalStateException("-Dcorvus.backend=gpu: no such CPU backend")))
                .failsPlainly(Main.FAILED);
        assertThat(r.err()).isEqualToIgnoringNewLines("corvus: -Dcorvus.backend=gpu: no such CPU backend");

        assertThat(boom(() -> new OutOfMemoryError("Java heap space")).failsPlainly(Main.FAILED).err())
                .startsWith("corvus: out of memory (Java heap space); give Java more with CORVUS_JAVA_OPTS=-Xmx");
        assertThat(boom(StackOverflowError::new).failsPlainly(Main.FAILED).err()).contains("stack overflow").contains("-Xss");
        assertThat(boom(() -> new UncheckedIOException(new IOException("Input/output error"))).failsPlainly(Main.FAILED).err())
                .isEqualToIgnoringNewLines("corvus: Input/output error");
        assertThat(boom(() -> new RuntimeException(new IOException("disk gone"))).failsPlainly(Main.FAILED).err())
                .isEqualToIgnoringNewLines("corvus: disk gone");
        assertThat(boom(() -> new NoSuchFileException("/models/x.gguf")).failsPlainly(Main.FAILED).err())
                .isEqualToIgnoringNewLines("corvus: /models/x.gguf: no such file or directory");
        assertThat(boom(() -> new InterruptedException()).failsPlainly(Main.INTERRUPTED).err()).contains("interrupted");
        assertThat(boom(() -> new IllegalArgumentException("--n must be positive")).failsPlainly(Main.USAGE).err())
                .contains("Try 'corvus boom --help'");
    }

    @Test
    void bugsSaySoAndTheStackTraceComesWithDebug() {
        Corvus.Run bug = boom(() -> new NullPointerException("Cannot read field \"x\""));
        assertThat(bug.code()).isEqualTo(Main.FAILED);
        assertThat(bug.err()).startsWith("corvus: NullPointerException: Cannot read field \"x\"").contains("--debug").doesNotContain("\tat ");
        for (String flag : new String[] {"--debug"}) {
            Corvus.Run debug = boom(() -> new ExceptionInInitializerError(new IllegalStateException("no such CPU backend")), flag);
            assertThat(debug.code()).isEqualTo(Main.FAILED);
            assertThat(debug.err()).startsWith("corvus: no such CPU backend").contains("java.lang.ExceptionInInitializerError").contains("\tat ");
        }
        Corvus.Run usage = Corvus.run("--debug", "generate", "--steps", "x");
        assertThat(usage.code()).isEqualTo(Main.USAGE);
        assertThat(usage.err()).contains("\tat ");
    }

    @Test
    void backendGpuNamesTheBackendsThereAre() {
        Corvus.Run r = Corvus.run("generate", "--backend", "gpu", "--model", dir.resolve("absent.bin").toString()).failsPlainly(Main.USAGE);
        assertThat(r.err()).contains("--backend gpu: no such CPU backend; expected one of").contains("scalar").contains("--device opencl");
    }

    @Test
    void fileProblemsNameTheFileAndWhatIsWrong() throws IOException {
        Path model = TinyModel.write(dir, "tiny.bin", 1, false);
        Path missing = dir.resolve("missing.bin");
        assertThat(Corvus.run("generate", "--model", missing.toString()).failsPlainly(Main.FAILED).err())
                .contains("model file " + missing + " does not exist");
        assertThat(Corvus.run("generate", "--model", dir.resolve("no/such/dir/m.bin").toString()).failsPlainly(Main.FAILED).err())
                .contains("does not exist (nor does the folder " + dir.resolve("no/such/dir") + ")");
        assertThat(Corvus.run("generate", "--model", dir.toString()).failsPlainly(Main.FAILED).err())
                .contains("model file " + dir + " is a directory, not a file");
        assertThat(Corvus.run("generate", "--model", model.toString(), "--tokenizer", dir.toString()).failsPlainly(Main.FAILED).err())
                .contains("tokenizer file " + dir + " is a directory, not a file");
        assertThat(Corvus.run("convert", dir.toString(), dir.resolve("o.gguf").toString()).failsPlainly(Main.FAILED).err())
                .contains("INPUT " + dir + " is a directory, not a file");
        assertThat(Corvus.run("convert", model.toString(), dir.toString(), "--force").failsPlainly(Main.USAGE).err())
                .contains("OUTPUT " + dir + " is a directory");
        Path inMissing = dir.resolve("nowhere/o.gguf");
        assertThat(Corvus.run("convert", model.toString(), inMissing.toString()).failsPlainly(Main.USAGE).err())
                .contains("OUTPUT " + inMissing + ": the folder " + dir.resolve("nowhere") + " does not exist");
        Path out = Files.writeString(dir.resolve("taken.gguf"), "keep me");
        assertThat(Corvus.run("convert", model.toString(), out.toString()).failsPlainly(Main.USAGE).err()).contains("exists; pass --force");
        assertThat(Files.readString(out)).isEqualTo("keep me");
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void aFolderThatTakesNoFilesIsNamed() throws IOException {
        Path model = TinyModel.write(dir, "tiny.bin", 1, false);
        // /proc exists but no file can be created in it: the message used to be the bare path
        assertThat(Corvus.run("convert", model.toString(), "/proc/x.gguf").failsPlainly(Main.FAILED).err())
                .contains("cannot write GGUF /proc/x.gguf: creating a file in /proc failed");
    }

    @Test
    void convertReplacesWithForceAndLeavesNothingElse() throws IOException {
        Path model = TinyModel.write(dir, "tiny.bin", 1, false);
        Path out = Files.writeString(dir.resolve("t.gguf"), "old");
        Corvus.Run r = Corvus.run("convert", model.toString(), out.toString(), "--force", "--dtype", "f32");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.size(out)).isGreaterThan(4L * TinyModel.DIM * TinyModel.vocab());
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted()).containsExactly("t.gguf", "tiny.bin", "tokenizer.bin");
        }
    }

    @Test
    void numbersOutOfRangeNameTheOptionAndTheRange() {
        assertThat(Corvus.run("--threads", "40000", "info").failsPlainly(Main.USAGE).err()).contains("--threads 40000: expected 1 to 32767");
        assertThat(Corvus.run("info", "--threads", "0").failsPlainly(Main.USAGE).err()).contains("--threads 0: expected 1 to");
        String chunk = Corvus.run("chunk", "--budget", "-1").failsPlainly(Main.USAGE).err();
        assertThat(chunk).contains("--budget -1: expected a fraction").doesNotContain("--device-memory");
        assertThat(Corvus.run("chunk", "--budget", "0").failsPlainly(Main.USAGE).err()).contains("--budget 0");
        assertThat(Corvus.run("chunk", "--n", "0").failsPlainly(Main.USAGE).err()).contains("--n 0");
        for (String s : new String[] {"-1", "0", "NaN", "1e9"}) {
            assertThat(Corvus.run("bench", "--seconds", s).failsPlainly(Main.USAGE).err()).contains("--seconds");
        }
        for (String option : new String[] {"--ranks", "--heads", "--dim", "--n", "--team-size", "--iterations", "--timeout"}) {
            assertThat(Corvus.run("sp-demo", option, "0").failsPlainly(Main.USAGE).err()).contains(option + " 0: expected at least 1");
        }
        assertThat(Corvus.run("sp-demo", "--warmup", "-1").failsPlainly(Main.USAGE).err()).contains("--warmup -1");
        assertThat(Corvus.run("sp-demo", "--ranks", "100000").failsPlainly(Main.USAGE).err()).contains("--ranks 100000: at most");
    }
}
