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

    /** About 1000 tokens: four times stories15M's context, which --ctx extends (RoPE extrapolation; the text is what is compared). */
    private static String longPrompt() {
        return "Once upon a time, there was a little girl named Lily. She loved to play outside. ".repeat(55);
    }

    @Test
    void memoryBudgetChunksALongPrefillAndGeneratesWhatTheUnchunkedRunDoes() throws Exception {
        String m = model().toString();
        Run plain = corvus("generate", longPrompt(), "--model", m, "--steps", "6", "--ctx", "2048");
        Run chunked = corvus("generate", longPrompt(), "--model", m, "--steps", "6", "--ctx", "2048", "--memory-budget", "8M");
        assertThat(plain.code()).as(plain.err()).isZero();
        assertThat(chunked.code()).as(chunked.err()).isZero();
        assertThat(chunked.out()).isEqualTo(plain.out()).startsWith("Once upon a time");
        assertThat(chunked.err()).containsOnlyOnce("chunked to fit --memory-budget 8M")
                .containsPattern("prefill of [0-9]+ tokens chunked to fit --memory-budget 8M: measured peak [0-9.]+ MiB; AutoChunk plan: "
                        + "[0-9]+ node\\(s\\), [1-9][0-9]* region\\(s\\); estimated peak [0-9.]+ MiB");
        assertThat(plain.err()).doesNotContain("chunked");
    }

    @Test
    void memoryBudgetNoPlanFitsIsRefusedByName() throws Exception {
        Corvus.Run r = Corvus.run("generate", longPrompt(), "--model", model().toString(), "--steps", "2", "--ctx", "2048", "--memory-budget", "256K");
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        r.assertNoStackTrace();
        assertThat(r.err()).contains("--memory-budget 256K: a prefill of").contains("needs a memory budget of at least");
        Corvus.Run hetero = Corvus.run("generate", "Hi", "--model", model().toString(), "--memory-budget", "64M", "--hetero");
        assertThat(hetero.code()).as(hetero.err()).isEqualTo(2);
        assertThat(hetero.err()).contains("--memory-budget runs the prefill through AutoChunk on the CPU");
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
