package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.ModelStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code corvus generate} and {@code corvus convert} end to end on TinyStories-15M (skipped when it is not cached). */
class GenerateCommandTest {
    private record Run(int code, String out, String err) {}

    private static Run corvus(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static Path model() throws Exception {
        ModelStore store = ModelStore.defaults();
        Assumptions.assumeTrue(store.hasStories15M(), "TinyStories-15M is not in " + store.cacheDir() + " (the model tests fetch it)");
        return store.stories15MPaths().checkpoint();
    }

    @Test
    void greedyGenerationStreamsTheKnownStoryAndReportsSpeed() throws Exception {
        Run r = corvus("generate", "Once upon a time", "--model", model().toString(), "--steps", "12");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("Once upon a time, there was a little girl named Lily.");
        assertThat(r.err()).contains("greedy").containsPattern("prefill: 5 tokens, [0-9.]+ tok/s; decode: 11 tokens, [0-9.]+ tok/s");
    }

    @Test
    void sampledGenerationIsReproducibleWithASeed() throws Exception {
        String m = model().toString();
        Run a = corvus("generate", "--model", m, "--steps", "20", "--temperature", "1", "--seed", "5", "--quiet");
        Run b = corvus("generate", "--model", m, "--steps", "20", "--temperature", "1", "--seed", "5", "--quiet");
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(a.out()).isEqualTo(b.out()).isNotBlank();
    }

    @Test
    void convertedQ8GgufGeneratesTheSameStart(@TempDir Path dir) throws Exception {
        Path gguf = dir.resolve("stories15M-q8.gguf");
        Run c = corvus("convert", model().toString(), gguf.toString(), "--dtype", "q8_0");
        assertThat(c.code()).as(c.err()).isZero();
        Run r = corvus("generate", "Once upon a time", "--model", gguf.toString(), "--steps", "12");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("Once upon a time, there was a little girl named Lily.");
        assertThat(r.err()).contains("Q8_0 weights");
    }

    @Test
    void unboundedStepsStopAtTheContextLimitAndSaySo() throws Exception {
        Run r = corvus("generate", "Once upon a time", "--model", model().toString(), "--steps", "2147483647", "--ctx", "12");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("Once upon a time, there was");
        assertThat(r.err()).contains("decode: 7 tokens").contains("stop: context_full")
                .contains("the context of 12 tokens is full (raise --ctx, up to the model's 256)");
        Run bad = corvus("generate", "--model", model().toString(), "--ctx", "0");
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("--ctx must be positive");
    }

    @Test
    void badOptionsSpeakPlainly() throws Exception {
        Run r = corvus("generate", "--model", model().toString(), "--dtype", "int4");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("dtype int4: expected f32 or q8_0");
    }
}
