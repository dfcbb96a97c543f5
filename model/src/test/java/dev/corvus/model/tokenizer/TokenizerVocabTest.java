package dev.corvus.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.LlamaCpp;
import dev.corvus.model.Tokenizer;
import dev.corvus.model.gguf.GgufReader;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** llama.cpp's tokenizer test vectors (tests/test-tokenizer-0.cpp): every case of every vocabulary Corvus reads. */
class TokenizerVocabTest {
    record Case(String text, int[] ids) {}

    private static final Map<String, Tokenizer> LOADED = new ConcurrentHashMap<>();

    /** llama.cpp's models/ggml-vocab-NAME.gguf, loaded once per JVM (tokenizers are immutable). */
    static Tokenizer load(String name) throws IOException {
        Tokenizer t = LOADED.get(name);
        if (t != null) return t;
        Path file = LlamaCpp.vocab(name);
        t = Tokenizers.fromGguf(GgufReader.read(file, MemorySegment.ofArray(Files.readAllBytes(file))));
        LOADED.put(name, t);
        return t;
    }

    /** The .inp cases split at "\n__ggml_vocab_test__\n" and the .out lines of space-separated ids, as test-tokenizer-0 reads them. */
    static List<Case> cases(String name) throws IOException {
        Path vocab = LlamaCpp.vocab(name);
        String inp = Files.readString(vocab.resolveSibling(vocab.getFileName() + ".inp"), StandardCharsets.UTF_8);
        List<String> out = Files.readAllLines(vocab.resolveSibling(vocab.getFileName() + ".out"), StandardCharsets.UTF_8);
        String sep = "\n__ggml_vocab_test__\n";
        List<String> texts = new ArrayList<>();
        for (int pos = 0; pos < inp.length(); ) {
            int next = inp.indexOf(sep, pos);
            if (next < 0) {
                texts.add(inp.substring(pos));
                break;
            }
            texts.add(inp.substring(pos, next));
            pos = next + sep.length();
        }
        assertThat(out).as("%s: one .out line per .inp case", name).hasSize(texts.size());
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            String line = out.get(i).strip();
            int[] ids = line.isEmpty() ? new int[0] : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
            cases.add(new Case(texts.get(i), ids));
        }
        return cases;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-bpe", "qwen2", "qwen35", "gpt-2", "llama-spm", "phi-3", "deepseek-llm", "deepseek-coder", "falcon", "starcoder",
            "refact", "command-r", "mpt", "gemma-4"})
    void encodesEveryCaseAsLlamaCpp(String name) throws IOException {
        Tokenizer tok = load(name);
        List<Case> cases = cases(name);
        assertThat(cases).as(name).hasSizeGreaterThan(40);
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            int[] got = tok.encode(c.text(), false, false, false);
            if (!Arrays.equals(got, c.ids())) failures.add(quote(c.text()) + "\n    expected " + Arrays.toString(c.ids()) + "\n    got      " + Arrays.toString(got));
            String back = tok.decode(got);
            if (!back.equals(c.text())) failures.add("decode " + quote(c.text()) + " -> " + quote(back));
        }
        assertThat(failures).as(name).isEmpty();
    }

    static String quote(String s) {
        return "\"" + s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + "\"";
    }
}
