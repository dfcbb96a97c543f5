package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.gguf.LlamaGguf;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against the real stories15M.bin and tokenizer.bin (see {@link RealModel} for when they are skipped). */
class RealModelTest {
    static final String[] TEXTS = {
        "Once upon a time, there was a little girl named Lily. She loved to play outside.",
        "Hello, world!\n\nA new paragraph with \"quotes\" and numbers 1234567890.",
        "naïve café — 日本語のテキスト 😀 龘 Ünïcödé ñ",
        "  two leading spaces, trailing space ",
        "tabs\tand\r\nnewlines\u0007bell",
    };

    @TempDir
    Path dir;

    @Test
    void configOfStories15M() throws IOException {
        try (Checkpoint c = Checkpoints.load(RealModel.files().checkpoint())) {
            assertThat(c.config()).isEqualTo(new LlamaConfig(288, 768, 6, 6, 6, 32000, 256, 10000f, 1e-5f, RopeStyle.INTERLEAVED, true));
            assertThat(c.weights().layers()).hasSize(6);
            assertThat(c.weights().classifier()).isSameAs(c.weights().tokenEmbedding());
            assertThat(c.tokenizer()).as("tokenizer.bin lies beside stories15M.bin").isPresent();
        }
    }

    @Test
    void encodesOnceUponATimeAsLlama2c() throws IOException {
        Tokenizer t = Tokenizer.loadLlama2c(RealModel.files().tokenizer(), 32000);
        assertThat(t.encode("Once upon a time", true, false)).containsExactly(1, 9038, 2501, 263, 931);
        assertThat(t.encode("Once upon a time", true, true)).containsExactly(1, 9038, 2501, 263, 931, 2);
        assertThat(t.decode(1, 9038)).isEqualTo("Once");
        assertThat(t.decode(9038, 2501)).isEqualTo(" upon");
    }

    @Test
    void roundTripsTextIncludingByteFallback() throws IOException {
        Tokenizer t = Tokenizer.loadLlama2c(RealModel.files().tokenizer(), 32000);
        for (String s : TEXTS) {
            int[] ids = t.encode(s, true, false);
            assertThat(t.decode(ids)).as(s).isEqualTo(s);
            Tokenizer.StreamDecoder stream = t.streamDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) sb.append(stream.next(id));
            sb.append(stream.flush());
            assertThat(sb.toString()).as(s).isEqualTo(s.replace("\u0007", "")); // the bell is not printed
        }
        // "龘" (E9 BE 98) is not in the vocabulary: its UTF-8 bytes come out as byte tokens 3 + byte
        assertThat(t.encode("龘", false, false)).containsExactly(29871, 0xE9 + 3, 0xBE + 3, 0x98 + 3);
        assertThat(t.encode("日", false, false)).containsExactly(29871, 30325); // a whole-character piece
        assertThat(t.type(0xE9 + 3)).isEqualTo(Tokenizer.TokenType.BYTE);
    }

    private static List<Tensor> all(LlamaWeights w) {
        List<Tensor> out = new ArrayList<>(List.of(w.tokenEmbedding()));
        for (LlamaWeights.Layer l : w.layers()) out.addAll(List.of(l.attentionNorm(), l.wq(), l.wk(), l.wv(), l.wo(), l.ffnNorm(), l.w1(), l.w2(), l.w3()));
        out.add(w.finalNorm());
        return out;
    }

    private static MemorySegment bytes(Tensor t) {
        return t.segment().asSlice(t.byteOffset(), t.dtype().byteSize(t.numel()));
    }

    @Test
    void ggufConversionKeepsEveryWeightAndTheVocabulary() throws IOException {
        Path f32 = dir.resolve("stories15M-f32.gguf");
        try (Checkpoint src = Checkpoints.load(RealModel.files().checkpoint())) {
            Tokenizer tok = src.tokenizer().orElseThrow();
            LlamaGguf.write(f32, src.config(), src.weights(), tok, DType.F32);
            try (Checkpoint back = Checkpoints.load(f32)) {
                assertThat(back.config()).isEqualTo(src.config());
                List<Tensor> a = all(src.weights()), b = all(back.weights());
                for (int i = 0; i < a.size(); i++) {
                    assertThat(b.get(i).shape()).containsExactly(a.get(i).shape());
                    assertThat(bytes(b.get(i)).mismatch(bytes(a.get(i)))).as("tensor %d", i).isEqualTo(-1L);
                }
                Tokenizer gt = back.tokenizer().orElseThrow();
                for (String s : TEXTS) assertThat(gt.encode(s, true, false)).as(s).isEqualTo(tok.encode(s, true, false));
                assertThat(gt.encode("Once upon a time", true, false)).containsExactly(1, 9038, 2501, 263, 931);
            }
        }
    }
}
