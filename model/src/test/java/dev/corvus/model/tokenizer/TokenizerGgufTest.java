package dev.corvus.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.CheckpointException;
import dev.corvus.model.Tokenizer;
import dev.corvus.model.gguf.GgufReader;
import dev.corvus.model.gguf.GgufValueType;
import dev.corvus.model.gguf.GgufWriter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Special tokens, byte fallback, end of generation and bad metadata, on llama.cpp's vocabularies and small synthetic ones. */
class TokenizerGgufTest {
    @TempDir
    Path dir;

    static int id(Tokenizer t, String text) {
        for (int i = 0; i < t.vocabSize(); i++) if (t.tokenText(i).equals(text)) return i;
        throw new AssertionError("no token " + text);
    }

    static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    static GgufReader read(Path file) throws IOException {
        return GgufReader.read(file, MemorySegment.ofArray(Files.readAllBytes(file)));
    }

    // ---------------------------------------------------------------- special tokens

    @Test
    void llama3ChatTokensInTextAreSingleTokens() throws IOException {
        Tokenizer t = TokenizerVocabTest.load("llama-bpe");
        int begin = id(t, "<|begin_of_text|>"), header = id(t, "<|start_header_id|>"), eot = id(t, "<|eot_id|>");
        String prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>";
        assertThat(t.encode(prompt, false, false, true)).containsExactly(concat(new int[] {begin, header}, t.encode("user", false, false, false),
                new int[] {id(t, "<|end_header_id|>")}, t.encode("\n\nHi there", false, false, false), new int[] {eot}));
        // without parsing, the same text is ordinary characters, and decodes back to itself
        int[] plain = t.encode(prompt, false, false, false);
        assertThat(plain).doesNotContain(begin, header, eot);
        assertThat(t.decode(plain)).isEqualTo(prompt);
        assertThat(t.bosId()).isEqualTo(begin);
        assertThat(t.addBos()).isTrue();
        assertThat(t.encode("Hi")).startsWith(begin).hasSize(2);
        // control tokens print nothing unless asked for
        assertThat(t.decode(t.encode(prompt))).isEqualTo("user\n\nHi there");
        assertThat(t.decode(t.encode(prompt, false, false, true), true)).isEqualTo(prompt);
    }

    @Test
    void qwenChatTokensAndNoBos() throws IOException {
        Tokenizer t = TokenizerVocabTest.load("qwen2");
        int start = id(t, "<|im_start|>"), end = id(t, "<|im_end|>");
        String text = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n";
        assertThat(t.encode(text)).containsExactly(concat(new int[] {start}, t.encode("user\nhello", false, false, false), new int[] {end},
                t.encode("\n", false, false, false), new int[] {start}, t.encode("assistant\n", false, false, false)));
        assertThat(t.addBos()).as("Qwen asks for no BOS").isFalse();
        assertThat(t.encode("hello")).isEqualTo(t.encode("hello", false, false, false));
    }

    @Test
    void phi3SpecialTokensSwallowTheWhitespaceAfterThem() throws IOException {
        Tokenizer t = TokenizerVocabTest.load("phi-3");
        int user = id(t, "<|user|>"), end = id(t, "<|end|>");
        // SentencePiece puts its space prefix after every special token, as at the start
        assertThat(t.encode("<|user|>\n  Hi<|end|>", false, false, true)).containsExactly(concat(new int[] {user}, t.encode("Hi", false, false, false), new int[] {end}));
        assertThat(t.encode("Hi", false, false, false)).containsExactly(id(t, "\u2581Hi"));
        assertThat(t.decode(t.encode("<|user|>Hi", false, false, true), true)).isEqualTo("<|user|>Hi");
    }

    @Test
    void spmByteFallbackSpellsUnknownCharactersInBytes() throws IOException {
        Tokenizer t = TokenizerVocabTest.load("llama-spm");
        // 龘 is E9 BE 98 in UTF-8 and no token of Llama 2's vocabulary
        int[] ids = t.encode("龘", false, false, false);
        assertThat(ids).containsExactly(id(t, "\u2581"), id(t, "<0xE9>"), id(t, "<0xBE>"), id(t, "<0x98>"));
        assertThat(IntStream.of(ids).skip(1).mapToObj(t::type)).containsOnly(Tokenizer.TokenType.BYTE);
        assertThat(t.byteValue(id(t, "<0xE9>"))).isEqualTo(0xE9);
        assertThat(t.decode(ids)).isEqualTo("龘");
        Tokenizer.StreamDecoder d = t.streamDecoder();
        StringBuilder sb = new StringBuilder();
        for (int i : ids) sb.append(d.next(i));
        assertThat(sb.toString()).isEqualTo("龘");
        assertThat(t.encode("龘")).startsWith(t.bosId()); // add_bos_token
    }

    // ---------------------------------------------------------------- end of generation

    @ParameterizedTest
    @ValueSource(strings = {"llama-bpe", "qwen2", "phi-3", "llama-spm", "gemma-4"})
    void endOfGenerationCoversEosAndEndOfTurnTokens(String name) throws IOException {
        Tokenizer t = TokenizerVocabTest.load(name);
        List<String> stops = switch (name) {
            case "llama-bpe" -> List.of("<|eot_id|>", "<|end_of_text|>");
            case "qwen2" -> List.of("<|im_end|>", "<|endoftext|>");
            case "phi-3" -> List.of("<|end|>", "<|endoftext|>", "</s>");
            case "llama-spm" -> List.of("</s>");
            default -> List.of("<turn|>", "<eos>");
        };
        for (String s : stops) assertThat(t.isEndOfGeneration(id(t, s))).as(s).isTrue();
        assertThat(t.isEndOfGeneration(t.eosId())).isTrue();
        if (t.eotId() >= 0) assertThat(t.isEndOfGeneration(t.eotId())).isTrue();
        assertThat(t.isEndOfGeneration(t.encode("Hello", false, false, false)[0])).isFalse();
        if (t.bosId() != t.eosId()) assertThat(t.isEndOfGeneration(t.bosId())).isFalse();
        assertThat(IntStream.of(t.endOfGenerationIds()).allMatch(t::isEndOfGeneration)).isTrue();
        assertThat(t.endOfGenerationIds()).contains(t.eosId());
        for (int i : t.endOfGenerationIds()) assertThat(t.type(i)).as(t.tokenText(i)).isEqualTo(Tokenizer.TokenType.CONTROL);
    }

    @Test
    void endOfTurnIsFoundByTextWhenMetadataHasNone() throws IOException {
        Tokenizer llama3 = TokenizerVocabTest.load("llama-bpe"), qwen = TokenizerVocabTest.load("qwen2");
        assertThat(llama3.eotId()).isEqualTo(id(llama3, "<|eot_id|>"));
        assertThat(qwen.eotId()).isEqualTo(id(qwen, "<|im_end|>"));
    }

    // ---------------------------------------------------------------- writing

    @ParameterizedTest
    @ValueSource(strings = {"llama-bpe", "phi-3", "gemma-4"})
    void toGgufReadsBackAsTheSameTokenizer(String name) throws IOException {
        Tokenizer t = TokenizerVocabTest.load(name);
        Path file = dir.resolve(name + ".gguf");
        GgufWriter g = new GgufWriter();
        Tokenizers.toGguf(g, t);
        g.write(file);
        Tokenizer back = Tokenizers.fromGguf(read(file));
        assertThat(back.getClass()).isEqualTo(t.getClass());
        assertThat(back.endOfGenerationIds()).containsExactly(t.endOfGenerationIds());
        assertThat(List.of(back.bosId(), back.eosId(), back.eotId(), back.unknownId(), back.padId())).isEqualTo(List.of(t.bosId(), t.eosId(), t.eotId(), t.unknownId(), t.padId()));
        for (TokenizerVocabTest.Case c : TokenizerVocabTest.cases(name)) {
            assertThat(back.encode(c.text(), true, false, true)).as(c.text()).containsExactly(t.encode(c.text(), true, false, true));
        }
    }

    // ---------------------------------------------------------------- a small byte-level vocabulary

    /** Every byte's character, then the merged tokens, with the merges in rank order. */
    static void tinyBpe(GgufWriter g, List<String> merges, Consumer<GgufWriter> more) {
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) tokens.add(String.valueOf(ByteLevel.charOf(b)));
        for (String m : merges) tokens.add(m.replace(" ", ""));
        tokens.add("<|end|>");
        int[] types = new int[tokens.size()];
        Arrays.fill(types, 1);
        types[types.length - 1] = 3;
        g.putString("tokenizer.ggml.model", "gpt2").putString("tokenizer.ggml.pre", "gpt-2")
                .putArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens.toArray(String[]::new))
                .putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types)
                .putArray("tokenizer.ggml.merges", GgufValueType.STRING, merges.toArray(String[]::new))
                .putUInt32("tokenizer.ggml.eos_token_id", tokens.size() - 1);
        more.accept(g);
    }

    Tokenizer tiny(List<String> merges, Consumer<GgufWriter> more) throws IOException {
        Path file = dir.resolve("tiny.gguf");
        GgufWriter g = new GgufWriter();
        tinyBpe(g, merges, more);
        g.write(file);
        return Tokenizers.fromGguf(read(file));
    }

    @Test
    void mergesByRankLeftmostFirstWithinWords() throws IOException {
        // "ab" outranks "bc", so "abc" is ab+c, not a+bc; "aaa" merges its left pair first
        Tokenizer t = tiny(List.of("a b", "b c", "ab c", "a a", "Ġ a"), g -> {});
        int ab = 256, bc = 257, abc = 258, aa = 259, spaceA = 260;
        assertThat(t.encode("abc", false, false, false)).containsExactly(abc);
        assertThat(t.encode("bc", false, false, false)).containsExactly(bc);
        assertThat(t.encode("aaa", false, false, false)).containsExactly(aa, 'a');
        assertThat(t.encode("ab", false, false, false)).containsExactly(ab);
        // words do not merge across the pre-tokenizer's split: " a" is one word, "a a" two
        assertThat(t.encode("a a", false, false, false)).containsExactly('a', spaceA);
        assertThat(t.encode("é", false, false, false)).containsExactly(0xC3, 0xA9);
        assertThat(t.decode(t.encode("é a\nabc", false, false, false))).isEqualTo("é a\nabc");
        assertThat(t.encode("x<|end|>", false, false, true)).containsExactly('x', 261);
        assertThat(t.isEndOfGeneration(261)).isTrue();
        assertThat(t.bosId()).as("llama.cpp's default BPE BOS is 11").isEqualTo(11);
    }

    @Test
    void longTextEncodesQuickly() throws IOException {
        Tokenizer t = TokenizerVocabTest.load("llama-bpe");
        String text = "Hello, wörld! 12345 <b>tags</b>\n\tand 日本語 ".repeat(3000);
        long t0 = System.nanoTime();
        int[] ids = t.encode(text, false, false, true);
        assertThat(t.decode(ids)).isEqualTo(text);
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(10.0);
    }

    // ---------------------------------------------------------------- bad metadata

    void assertRefused(Consumer<GgufWriter> metadata, String... messageParts) throws IOException {
        Path file = dir.resolve("bad.gguf");
        GgufWriter g = new GgufWriter();
        metadata.accept(g);
        g.write(file);
        GgufReader gguf = read(file);
        assertThatThrownBy(() -> Tokenizers.fromGguf(gguf)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(file.toString()).hasMessageContainingAll(messageParts);
    }

    @Test
    void refusesUnknownModelsAndPreTokenizersByName() throws IOException {
        assertRefused(g -> tinyBpe(g, List.of(), x -> x.putString("tokenizer.ggml.model", "bert")), "tokenizer.ggml.model", "\"bert\"", "\"llama\"", "\"gpt2\"");
        assertRefused(g -> tinyBpe(g, List.of(), x -> x.putString("tokenizer.ggml.pre", "tekken")), "tokenizer.ggml.pre", "\"tekken\"", "llama-bpe", "qwen2", "gpt-2");
        assertThat(Tokenizers.supportedPreTokenizers()).contains("llama-bpe", "qwen2", "qwen35", "gpt-2", "deepseek-llm", "starcoder");
    }

    @Test
    void refusesMergesOfUnknownTokens() throws IOException {
        assertRefused(g -> tinyBpe(g, List.of("a b"), x -> x.putArray("tokenizer.ggml.merges", GgufValueType.STRING, new String[] {"a b", "a q"})),
                "tokenizer.ggml.merges[1]", "\"a q\"", "\"aq\"", "not in tokenizer.ggml.tokens");
        assertRefused(g -> tinyBpe(g, List.of(), x -> x.putArray("tokenizer.ggml.merges", GgufValueType.STRING, new String[] {"ab"})),
                "tokenizer.ggml.merges[0]", "not two tokens");
        assertRefused(g -> g.putString("tokenizer.ggml.model", "gpt2").putString("tokenizer.ggml.pre", "gpt-2")
                .putArray("tokenizer.ggml.tokens", GgufValueType.STRING, new String[] {"a"}), "tokenizer.ggml.merges is missing");
    }

    @Test
    void refusesTokenListsThatDoNotLineUp() throws IOException {
        assertRefused(g -> tinyBpe(g, List.of(), x -> x.putArray("tokenizer.ggml.token_type", GgufValueType.INT32, new int[] {1, 1})),
                "tokenizer.ggml.token_type has 2 entries", "tokenizer.ggml.tokens has 257");
        assertRefused(g -> g.putString("tokenizer.ggml.model", "llama").putArray("tokenizer.ggml.tokens", GgufValueType.STRING, new String[] {"<unk>", "a", "b"})
                .putArray("tokenizer.ggml.scores", GgufValueType.FLOAT32, new float[] {0, 0}), "tokenizer.ggml.scores has 2 entries", "tokens has 3");
        assertRefused(g -> g.putString("tokenizer.ggml.model", "llama").putArray("tokenizer.ggml.tokens", GgufValueType.STRING, new String[] {"<unk>", "a", "a"}),
                "tokenizer.ggml.tokens holds \"a\" twice", "tokens 1 and 2");
        assertRefused(g -> g.putString("tokenizer.ggml.model", "llama").putArray("tokenizer.ggml.tokens", GgufValueType.STRING, new String[] {"<unk>", "<0xZZ>"})
                .putArray("tokenizer.ggml.token_type", GgufValueType.INT32, new int[] {2, 6}), "byte token 1", "<0xZZ>");
        assertRefused(g -> g.putArray("tokenizer.ggml.tokens", GgufValueType.STRING, new String[] {"a"}), "tokenizer.ggml.model is missing");
    }

    @Test
    void noVocabularyIsNoTokenizer() throws IOException {
        Path file = dir.resolve("empty.gguf");
        new GgufWriter().putString("general.name", "none").write(file);
        assertThat(Tokenizers.fromGguf(read(file))).isNull();
    }
}
