package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.RealModel;
import dev.corvus.model.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenDatasetTest {
    static Tokenizer tokenizer;
    @TempDir Path dir;

    static final String TEXT = """
            The fox jumped over the lazy dog, and the dog did not mind at all.

            A penny saved is a penny earned.
            Or so they say, in the old country.


            Once upon a time there was a little robot who wanted to see the sea.
            Every day it rolled to the edge of the town and looked at the hills.
            """;

    @BeforeAll
    static void loadTokenizer() throws IOException {
        tokenizer = Tokenizer.loadLlama2c(RealModel.files().tokenizer());
    }

    static String corpus(int copies) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < copies; i++) b.append(TEXT.replace("fox", "fox number " + i)).append("\n\n");
        return b.toString();
    }

    @Test
    void documentsAreRunsBetweenBlankLines() {
        assertThat(TokenDataset.documents(TEXT)).containsExactly("The fox jumped over the lazy dog, and the dog did not mind at all.",
                "A penny saved is a penny earned.\nOr so they say, in the old country.",
                "Once upon a time there was a little robot who wanted to see the sea.\nEvery day it rolled to the edge of the town and looked at the hills.");
        assertThat(TokenDataset.documents("\n \n")).isEmpty();
    }

    @Test
    void sequencesAreThePackedStreamWithBosBeforeEachDocument() throws IOException {
        Path file = Files.writeString(dir.resolve("corpus.txt"), corpus(20));
        TokenDataset d = TokenDataset.fromFiles(List.of(file), tokenizer, 31, 0.1, 42);
        List<String> docs = TokenDataset.documents(corpus(20));
        List<Integer> stream = new ArrayList<>();
        for (String doc : docs) for (int t : tokenizer.encode(doc, true, false, false)) stream.add(t);
        assertThat(d.totalTokens()).isEqualTo(stream.size());
        int count = stream.size() / 32;
        assertThat(d.trainSequences() + d.validationSequences()).isEqualTo(count);
        assertThat(d.validationSequences()).isEqualTo(Math.round(0.1 * count));
        assertThat(stream.get(0)).isEqualTo(tokenizer.bosId());

        // every training sequence of one pass and every held-out one, together, is each window of the stream exactly once
        List<List<Integer>> windows = new ArrayList<>(), seen = new ArrayList<>();
        for (int s = 0; s < count; s++) windows.add(stream.subList(32 * s, 32 * (s + 1)));
        for (int i = 0; i < d.trainSequences(); i++) seen.add(boxed(d.next()));
        for (int i = 0; i < d.validationSequences(); i++) seen.add(boxed(d.validation(i)));
        assertThat(seen).containsExactlyInAnyOrderElementsOf(windows);
    }

    @Test
    void theSeedFixesSplitAndOrderAndThePositionResumesExactly() {
        List<String> docs = TokenDataset.documents(corpus(30));
        TokenDataset a = TokenDataset.fromDocuments(docs, tokenizer, 15, 0.2, 7), b = TokenDataset.fromDocuments(docs, tokenizer, 15, 0.2, 7);
        TokenDataset other = TokenDataset.fromDocuments(docs, tokenizer, 15, 0.2, 8);
        assertThat(a.validation(0)).containsExactly(b.validation(0));
        List<int[]> firstPass = new ArrayList<>(), secondPass = new ArrayList<>();
        for (int i = 0; i < a.trainSequences(); i++) firstPass.add(a.next());
        assertThat(a.position()).isEqualTo(new DataSource.Position(1, 0));
        for (int i = 0; i < a.trainSequences(); i++) secondPass.add(a.next());
        assertThat(toStrings(secondPass)).as("each pass reshuffles").isNotEqualTo(toStrings(firstPass))
                .containsExactlyInAnyOrderElementsOf(toStrings(firstPass));
        List<int[]> otherPass = new ArrayList<>();
        for (int i = 0; i < other.trainSequences(); i++) otherPass.add(other.next());
        assertThat(toStrings(otherPass)).isNotEqualTo(toStrings(firstPass));

        // stop part way through the second pass, resume in a fresh dataset from the position
        for (int i = 0; i < a.trainSequences() + 5; i++) b.next();
        DataSource.Position at = b.position();
        assertThat(at).isEqualTo(new DataSource.Position(1, 5));
        TokenDataset resumed = TokenDataset.fromDocuments(docs, tokenizer, 15, 0.2, 7);
        resumed.seek(at);
        for (int i = 0; i < 2 * a.trainSequences(); i++) assertThat(resumed.next()).containsExactly(b.next());
    }

    @Test
    void tooLittleTextOrBadFilesAreRefusedByName() throws IOException {
        assertThatThrownBy(() -> TokenDataset.fromDocuments(List.of("a short line"), tokenizer, 64, 0.1, 1))
                .hasMessageContaining("sequence(s) of 65 tokens").hasMessageContaining("give more text");
        Path latin1 = Files.write(dir.resolve("latin1.txt"), new byte[] {'c', 'a', 'f', (byte) 0xE9, '\n'});
        assertThatThrownBy(() -> TokenDataset.fromFiles(List.of(latin1), tokenizer, 4, 0, 1)).hasMessageContaining("latin1.txt").hasMessageContaining("not UTF-8");
        assertThatThrownBy(() -> TokenDataset.fromFiles(List.of(dir.resolve("absent.txt")), tokenizer, 4, 0, 1)).hasMessageContaining("absent.txt");
        TokenDataset d = TokenDataset.fromDocuments(TokenDataset.documents(corpus(3)), tokenizer, 8, 0, 1);
        assertThatThrownBy(() -> d.seek(new DataSource.Position(0, d.trainSequences()))).hasMessageContaining("past the");
    }

    /** The real text scripts/training-data.sh fetches (skipped, with the reason, when it has not been run). */
    @Test
    void theFortunesTextPacksIntoSequences() throws IOException {
        Path fortunes = TokenDataset.fortunesFile();
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(fortunes) || "true".equals(System.getenv("CI")), "run scripts/training-data.sh to fetch " + fortunes);
        long start = System.nanoTime();
        TokenDataset d = TokenDataset.fromFiles(List.of(fortunes), tokenizer, 256, 0.05, 1);
        System.out.printf("fortunes: %d tokens, %d train + %d validation sequences of 257, tokenised in %.1f s%n", d.totalTokens(),
                d.trainSequences(), d.validationSequences(), (System.nanoTime() - start) / 1e9);
        assertThat(d.totalTokens()).isGreaterThan(100_000);
        assertThat(d.validationSequences()).isPositive();
        int[] first = d.next();
        assertThat(first).hasSize(257);
        assertThat(Arrays.stream(first).allMatch(t -> t >= 0 && t < tokenizer.vocabSize())).isTrue();
    }

    static List<Integer> boxed(int[] a) {
        return Arrays.stream(a).boxed().toList();
    }

    static List<String> toStrings(List<int[]> l) {
        return l.stream().map(Arrays::toString).toList();
    }
}
