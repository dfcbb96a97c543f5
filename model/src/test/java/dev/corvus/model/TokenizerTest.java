package dev.corvus.model;

import static dev.corvus.model.TestModels.id;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {
    final Tokenizer tok = TestModels.tokenizer();

    @TempDir
    Path dir;

    private static int b(int value) {
        return value + 3; // byte fallback id
    }

    @Test
    void mergesTheBestScoringPairFirst() {
        // " " a b c: "ab" (-1) beats " a" (-2), then " ab" (-0.5)
        assertThat(tok.encode("abc", false, false)).containsExactly(id(" ab"), id("c"));
        assertThat(tok.encode("abc", true, true)).containsExactly(1, id(" ab"), id("c"), 2);
        // "hello": he(-2), ll(-2) tie -> leftmost first; then "hell" (-1.5) needs "he"+"ll"; then " hello"
        assertThat(tok.encode("hello", false, false)).containsExactly(id(" hello"));
        assertThat(tok.encode("xxx", false, false)).containsExactly(id(" "), id("xx"), id("x"));
    }

    @Test
    void byteTokenTextsAreSentencePiecesSpelling() {
        for (int b = 0; b < 256; b++) {
            assertThat(Tokenizer.byteTokenText(b)).isEqualTo(String.format("<0x%02X>", b));
            assertThat(Tokenizer.parseByteToken(Tokenizer.byteTokenText(b))).isEqualTo(b);
        }
    }

    @Test
    void emptyTextGetsNoDummySpace() {
        assertThat(tok.encode("", false, false)).isEmpty();
        assertThat(tok.encode("", true, false)).containsExactly(1);
        assertThat(tok.encode("", true, true)).containsExactly(1, 2);
    }

    @Test
    void unknownCharactersFallBackToTheirUtf8Bytes() {
        // "é" is a piece; "日" (E6 97 A5) is not; neither is "ñ" (C3 B1), and its byte tokens must
        // not merge into the normal piece "Ã±" that their old-style stored strings would spell
        assertThat(tok.encode("é日", false, false)).containsExactly(id(" "), id("é"), b(0xE6), b(0x97), b(0xA5));
        assertThat(tok.encode("ñ", false, false)).containsExactly(id(" "), b(0xC3), b(0xB1));
        assertThat(tok.encode("\n", false, false)).containsExactly(id(" "), b('\n'));
        // a normal single-byte piece wins over the byte token stored with the same text
        assertThat(tok.encode("a", false, false)).containsExactly(id(" a"));
    }

    @Test
    void decodesAsLlama2c() {
        assertThat(tok.decode(1, id(" ab"))).isEqualTo("ab"); // leading space dropped after BOS
        assertThat(tok.decode(id("c"), id(" ab"))).isEqualTo(" ab");
        assertThat(tok.decodeBytes(id("c"), b(0xE6))).containsExactly((byte) 0xE6);
        assertThat(tok.decode(id("c"), b('\n'))).isEqualTo("\n");
        assertThat(tok.decode(1, b(' '))).isEqualTo(" "); // a byte token is its byte, even after BOS
        assertThat(tok.byteValue(b(0x41))).isEqualTo(0x41);
        assertThat(tok.byteValue(id("a"))).isEqualTo(-1);
    }

    @Test
    void roundTripsText() {
        for (String s : new String[] {"abc", "hello hello", "é日ñ\nxx", " leading space", "tab\tand 😀 emoji", "a"}) {
            int[] ids = tok.encode(s, true, false);
            assertThat(tok.decode(ids)).as(s).isEqualTo(s);
            assertThat(tok.decode(tok.encode(s, true, true))).as(s).isEqualTo(s);
        }
    }

    @Test
    void streamDecoderHoldsBackIncompleteCharacters() {
        Tokenizer.StreamDecoder d = tok.streamDecoder();
        assertThat(d.next(1)).isEmpty(); // BOS prints nothing
        assertThat(d.next(id(" hello"))).isEqualTo("hello");
        assertThat(d.next(b(0xE6))).isEmpty();
        assertThat(d.next(b(0x97))).isEmpty();
        assertThat(d.next(b(0xA5))).isEqualTo("日");
        assertThat(d.next(b(0xF0))).isEmpty();
        assertThat(d.next(id("a"))).isEqualTo("\uFFFDa"); // a broken sequence becomes U+FFFD, not a hang
        assertThat(d.next(b(0x07))).isEmpty();             // a bell byte is dropped, as safe_printf does
        assertThat(d.next(b(0xC3))).isEmpty();
        assertThat(d.flush()).isEqualTo("\uFFFD");
        assertThat(d.next(2)).isEmpty();
    }

    @Test
    void readsTokenizerBin() throws IOException {
        Path file = Files.write(dir.resolve("tokenizer.bin"), TestModels.tokenizerBin());
        Tokenizer t = Tokenizer.loadLlama2c(file, TestModels.vocabSize());
        assertThat(t.vocabSize()).isEqualTo(TestModels.vocabSize());
        assertThat(t.bosId()).isEqualTo(1);
        assertThat(t.eosId()).isEqualTo(2);
        assertThat(t.type(0)).isEqualTo(Tokenizer.TokenType.UNKNOWN);
        assertThat(t.type(1)).isEqualTo(Tokenizer.TokenType.CONTROL);
        assertThat(t.type(3)).isEqualTo(Tokenizer.TokenType.BYTE);
        assertThat(t.type(id("ab"))).isEqualTo(Tokenizer.TokenType.NORMAL);
        assertThat(t.score(id("ab"))).isEqualTo(-1f);
        assertThat(new String(t.piece(1), StandardCharsets.UTF_8)).isEqualTo("\n<s>\n");
        assertThat(Tokenizer.loadLlama2c(file).vocabSize()).isEqualTo(TestModels.vocabSize());
        assertThat(t.encode("hello abc", true, false)).containsExactly(tok.encode("hello abc", true, false));
    }

    @Test
    void tokenizerBinMustHoldTheModelsVocabulary() throws IOException {
        Path file = Files.write(dir.resolve("tokenizer.bin"), TestModels.tokenizerBin());
        assertThatThrownBy(() -> Tokenizer.loadLlama2c(file, TestModels.vocabSize() + 1)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(file.toString()).hasMessageContaining("truncated")
                .hasMessageContaining("score of token " + TestModels.vocabSize());
        assertThatThrownBy(() -> Tokenizer.loadLlama2c(file, TestModels.vocabSize() - 1)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("trailing bytes");
        byte[] bytes = TestModels.tokenizerBin();
        Path cut = Files.write(dir.resolve("cut.bin"), Arrays.copyOf(bytes, bytes.length - 2));
        assertThatThrownBy(() -> Tokenizer.loadLlama2c(cut)).isInstanceOf(CheckpointException.class).hasMessageContaining("truncated")
                .hasMessageContaining("token " + (TestModels.vocabSize() - 1) + " needs");
        assertThatThrownBy(() -> Tokenizer.loadLlama2c(dir.resolve("none.bin"))).isInstanceOf(CheckpointException.class).hasMessageContaining("no such file");
    }

    @Test
    void longTextEncodesQuickly() {
        String text = "hello abc é ".repeat(2000);
        long t0 = System.nanoTime();
        int[] ids = tok.encode(text, true, false);
        assertThat(tok.decode(ids)).isEqualTo(text);
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(5.0);
    }
}
