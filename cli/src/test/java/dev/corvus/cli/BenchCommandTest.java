package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.ModelStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** {@code corvus bench --model}: llama-bench's tests and table on TinyStories-15M (skipped when it is not cached). */
class BenchCommandTest {
    private record Run(int code, String out, String err) {}

    private static Run corvus(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = new picocli.CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static Path model() throws java.io.IOException {
        ModelStore store = ModelStore.defaults();
        Assumptions.assumeTrue(store.hasStories15M(), "TinyStories-15M is not in " + store.cacheDir() + " (the model tests fetch it)");
        return store.stories15MPaths().checkpoint();
    }

    @Test
    void printsLlamaBenchsTableWithOneRowPerTestInItsOrder() throws Exception {
        Run r = corvus("bench", "--model", model().toString(), "-p", "7,13", "-n", "3", "-d", "0,5", "-t", "1", "-r", "2", "--warmup", "0");
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        // llama-bench's header and alignment row, character for character
        assertThat(lines.get(0)).isEqualTo("| model                          |       size |     params | backend    | threads |            test |                  t/s |");
        assertThat(lines.get(1)).isEqualTo("| ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |");
        List<String> tests = lines.stream().skip(2).map(l -> l.split("\\|")[6].trim()).toList();
        assertThat(tests).containsExactly("pp7", "pp13", "tg3", "pp7 @ d5", "pp13 @ d5", "tg3 @ d5");
        for (String row : lines.subList(2, lines.size())) {
            String[] cells = row.split("\\|");
            assertThat(row).hasSameSizeAs(lines.get(0));
            assertThat(cells[1].trim()).isEqualTo("llama 15M F32");
            assertThat(cells[2].trim()).endsWith(" MiB");
            assertThat(cells[5].trim()).isEqualTo("1");
            assertThat(cells[7].trim()).matches("[0-9]+\\.[0-9]{2} ± [0-9]+\\.[0-9]{2}");
            assertThat(Double.parseDouble(cells[7].trim().split(" ")[0])).isPositive();
        }
    }

    @Test
    void sizeAndParamsCountASharedClassifierOnce() throws Exception {
        try (var ckpt = Cli.load(model(), null)) {
            var w = ckpt.weights();
            assertThat(w.classifier()).isSameAs(w.tokenEmbedding());
            var c = ckpt.config();
            long perLayer = 2L * c.dim() + (long) c.dim() * c.qDim() * 2 + 2L * c.dim() * c.kvDim() + 3L * c.dim() * c.hiddenDim();
            long expected = (long) c.vocabSize() * c.dim() + c.dim() + c.layers() * perLayer;
            assertThat(ModelBench.params(w)).isEqualTo(expected);
            assertThat(ModelBench.sizeBytes(w)).isEqualTo(4 * expected);
        }
    }

    @Test
    void meanAndSampleStandardDeviationAsLlamaBench() {
        var row = new ModelBench.Row("m", 0, 0, "b", 1, "pp1", new double[] {2, 4, 9});
        assertThat(row.mean()).isEqualTo(5.0);
        assertThat(row.sd()).isCloseTo(Math.sqrt((9 + 1 + 16) / 2.0), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(new ModelBench.Row("m", 0, 0, "b", 1, "pp1", new double[] {3}).sd()).isZero();
    }

    @Test
    void refusesATestLongerThanTheContextAndBadCounts() throws Exception {
        Run r = corvus("bench", "--model", model().toString(), "-p", "0", "-n", "300", "-d", "1000", "-r", "1", "--warmup", "0");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("tg300 @ d1000").contains("1300 positions").contains("context of 256");
        assertThat(corvus("bench", "--model", model().toString(), "-r", "0").err()).contains("-r must be at least 1");
        assertThat(corvus("bench", "--model", model().toString(), "-p", "0", "-n", "0").err()).contains("nothing to run");
    }
}
