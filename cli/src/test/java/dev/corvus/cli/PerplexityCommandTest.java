package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.cli.LogitsCommandTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corvus perplexity} on TinyStories-15M (skipped when it is not cached) and the committed
 * story text; its agreement with llama-perplexity is model/'s Stories15MPerplexityTest.
 */
class PerplexityCommandTest {
    static final Path TEXT = Path.of("../model/src/test/resources/perplexity/stories.txt");

    @Test
    void printsTheRunningEstimateAndTheFinalOneAsLlamaPerplexityDoes() throws Exception {
        Run r = LogitsCommandTest.corvus("perplexity", "--model", LogitsCommandTest.model().toString(), "--file", TEXT.toString(), "--ctx", "128");
        assertThat(r.code()).as(r.err()).isZero();
        Matcher tokens = Pattern.compile("tokenizes to (\\d+) tokens; (\\d+) chunks of 128").matcher(r.err());
        assertThat(tokens.find()).as(r.err()).isTrue();
        int chunks = Integer.parseInt(tokens.group(2));
        assertThat(chunks).isEqualTo(Integer.parseInt(tokens.group(1)) / 128).isGreaterThanOrEqualTo(2);

        String[] lines = r.out().strip().split("\n");
        assertThat(lines).hasSize(2);
        Matcher running = Pattern.compile("\\[(\\d+)\\]([0-9.]+),").matcher(lines[0]);
        int seen = 0;
        double last = 0;
        while (running.find()) {
            assertThat(Integer.parseInt(running.group(1))).isEqualTo(++seen);
            last = Double.parseDouble(running.group(2));
        }
        assertThat(seen).isEqualTo(chunks);
        Matcher fin = Pattern.compile("Final estimate: PPL = ([0-9.]+) \\+/- ([0-9.]+)").matcher(lines[1]);
        assertThat(fin.matches()).as(lines[1]).isTrue();
        double ppl = Double.parseDouble(fin.group(1)), err = Double.parseDouble(fin.group(2));
        assertThat(ppl).isCloseTo(last, org.assertj.core.data.Offset.offset(1e-4));
        // a children's-story model finds a children's story predictable (a uniform guess would be 32000)
        assertThat(ppl).isBetween(1.5, 20.0);
        assertThat(err).isPositive().isLessThan(ppl);
    }

    @Test
    void theSameWordsShuffledAreLessPredictable(@TempDir Path dir) throws Exception {
        java.util.List<String> words = new java.util.ArrayList<>(java.util.List.of(Files.readString(TEXT).split("\\s+")));
        java.util.Collections.shuffle(words, new java.util.Random(7));
        Path shuffled = dir.resolve("shuffled.txt");
        Files.writeString(shuffled, String.join(" ", words));
        String m = LogitsCommandTest.model().toString();
        double story = finalPpl(LogitsCommandTest.corvus("perplexity", "--model", m, "--file", TEXT.toString(), "--ctx", "128"));
        double noise = finalPpl(LogitsCommandTest.corvus("perplexity", "--model", m, "--file", shuffled.toString(), "--ctx", "128"));
        assertThat(noise).isGreaterThan(3 * story);
    }

    @Test
    void tooShortATextSpeaksPlainly(@TempDir Path dir) throws Exception {
        Path shortText = Files.writeString(dir.resolve("short.txt"), "Once upon a time.\n");
        Run r = LogitsCommandTest.corvus("perplexity", "--model", LogitsCommandTest.model().toString(), "--file", shortText.toString(), "--ctx", "64");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("needs at least 128");
    }

    private static double finalPpl(Run r) {
        assertThat(r.code()).as(r.err()).isZero();
        Matcher fin = Pattern.compile("Final estimate: PPL = ([0-9.]+)").matcher(r.out());
        assertThat(fin.find()).as(r.out()).isTrue();
        return Double.parseDouble(fin.group(1));
    }
}
