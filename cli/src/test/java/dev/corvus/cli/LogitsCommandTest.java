package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.ModelStore;
import dev.corvus.model.Scoring;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** {@code corvus logits} on TinyStories-15M (skipped when it is not cached). */
class LogitsCommandTest {
    /** BOS "Once upon a time": the model continues with "," (29892), as the greedy generation test shows. */
    private static final int[] ONCE_UPON_A_TIME = {1, 9038, 2501, 263, 931};
    private static final int COMMA = 29892;

    record Run(int code, String out, String err) {}

    static Run corvus(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = new picocli.CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    static Path model() throws Exception {
        ModelStore store = ModelStore.defaults();
        Assumptions.assumeTrue(store.hasStories15M(), "TinyStories-15M is not in " + store.cacheDir() + " (the model tests fetch it)");
        return store.stories15MPaths().checkpoint();
    }

    @Test
    void printsTheTopTokensOfEveryPositionBestFirst() throws Exception {
        Run r = corvus("logits", "--model", model().toString(), "--tokens", "1,9038,2501,263,931", "--top", "4");
        assertThat(r.code()).as(r.err()).isZero();
        String[] lines = r.out().strip().split("\n");
        assertThat(lines).hasSize(ONCE_UPON_A_TIME.length);

        float[][] logits;
        try (Checkpoint ckpt = Checkpoints.load(model())) {
            logits = Scoring.logits(new LlamaModel(ckpt.config(), ckpt.weights()), ONCE_UPON_A_TIME);
        }
        for (int p = 0; p < lines.length; p++) {
            String[] f = lines[p].split(" ");
            assertThat(f).hasSize(1 + 4);
            assertThat(f[0]).isEqualTo(Integer.toString(p));
            float previous = Float.POSITIVE_INFINITY;
            java.util.Set<Integer> printed = new java.util.HashSet<>();
            for (int j = 1; j < f.length; j++) {
                String[] idLogit = f[j].split(":");
                int id = Integer.parseInt(idLogit[0]);
                printed.add(id);
                float value = Float.parseFloat(idLogit[1]);
                assertThat(value).as("position %d entry %d", p, j).isLessThanOrEqualTo(previous).isCloseTo(logits[p][id], org.assertj.core.data.Offset.offset(1e-4f)); // printed to 4 decimals
                previous = value;
            }
            // nothing left out is above the last one printed
            for (int id = 0; id < logits[p].length; id++) {
                if (!printed.contains(id)) assertThat(logits[p][id]).as("position %d id %d", p, id).isLessThanOrEqualTo(previous + 1e-4f);
            }
        }
        assertThat(lines[4]).startsWith("4 " + COMMA + ":");
    }

    @Test
    void badTokensSpeakPlainly() throws Exception {
        Run r = corvus("logits", "--model", model().toString(), "--tokens", "1,32000");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("id 32000 at index 1 is outside the vocabulary [0, 32000)");
        Run t = corvus("logits", "--model", model().toString(), "--tokens", "1,2", "--top", "0");
        assertThat(t.code()).isNotZero();
        assertThat(t.err()).contains("--top 0: expected a positive count");
    }
}
