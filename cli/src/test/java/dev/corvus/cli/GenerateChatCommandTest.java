package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.chat.ChatTemplate;
import dev.corvus.model.ModelStore;
import dev.corvus.model.gguf.GgufReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code corvus generate --chat} end to end on TinyStories-15M (skipped when it is not cached): a
 * story model has no chat template, so the tests give it one that joins the turns into plain
 * text, which makes the chat prompt's tokens, BOS included, those of the plain prompt and the
 * reply the plain continuation.
 */
class GenerateChatCommandTest {
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

    /** Prints BOS itself (as Llama templates do) and then the turns' text joined by spaces. */
    private static final String JOINING_TEMPLATE = "{{ bos_token }}{{ messages | map(attribute='content') | join(' ') }}";

    private static String plainContinuation(Path model, String prompt) {
        Run plain = corvus("generate", prompt, "--model", model.toString(), "--steps", "12", "--quiet");
        assertThat(plain.code()).as(plain.err()).isZero();
        assertThat(plain.out()).startsWith(prompt);
        return plain.out().substring(prompt.length());
    }

    @Test
    void aChatTurnIsFormattedByTheTemplateAndOnlyTheReplyPrinted(@TempDir Path dir) throws Exception {
        Path m = model(), template = dir.resolve("join.jinja");
        Files.writeString(template, JOINING_TEMPLATE);
        Run chat = corvus("generate", "--model", m.toString(), "--chat", "Once upon a time", "--chat-template", template.toString(), "--steps", "12", "--quiet");
        assertThat(chat.code()).as(chat.err()).isZero();
        // one BOS (the template's text is cut, the tokenizer adds the id): the same tokens as the plain prompt
        assertThat(chat.out().strip()).isEqualTo(plainContinuation(m, "Once upon a time").strip()).isNotEmpty();
    }

    @Test
    void theSystemMessageComesFirst(@TempDir Path dir) throws Exception {
        Path m = model(), template = dir.resolve("join.jinja");
        Files.writeString(template, JOINING_TEMPLATE);
        Run chat = corvus("generate", "--model", m.toString(), "--system", "Once upon", "--chat", "a time", "--chat-template", template.toString(),
                "--steps", "12", "--quiet");
        assertThat(chat.code()).as(chat.err()).isZero();
        assertThat(chat.out().strip()).isEqualTo(plainContinuation(m, "Once upon a time").strip());
    }

    @Test
    void theGgufsOwnTemplateIsUsed(@TempDir Path dir) throws Exception {
        Path m = model(), gguf = dir.resolve("stories15M.gguf"), chatty = dir.resolve("stories15M-chat.gguf");
        Run c = corvus("convert", m.toString(), gguf.toString());
        assertThat(c.code()).as(c.err()).isZero();
        withChatTemplate(gguf, chatty, JOINING_TEMPLATE);
        Run chat = corvus("generate", "--model", chatty.toString(), "--chat", "Once upon a time", "--steps", "12", "--quiet");
        assertThat(chat.code()).as(chat.err()).isZero();
        assertThat(chat.out().strip()).isEqualTo(plainContinuation(m, "Once upon a time").strip());
    }

    @Test
    void aModelWithoutATemplateSaysWhatToDo(@TempDir Path dir) throws Exception {
        Run r = corvus("generate", "--model", model().toString(), "--chat", "Hi");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("has no chat template", ChatTemplate.GGUF_KEY, "plain PROMPT", "--chat-template FILE");

        Path gguf = dir.resolve("stories15M.gguf");
        assertThat(corvus("convert", model().toString(), gguf.toString()).code()).isZero();
        Run g = corvus("generate", "--model", gguf.toString(), "--chat", "Hi");
        assertThat(g.code()).isNotZero();
        assertThat(g.err()).contains(gguf + " has no chat template");
    }

    @Test
    void aTemplateThatFailsNamesTheFileTheLineAndTheReason(@TempDir Path dir) throws Exception {
        Path template = dir.resolve("strict.jinja");
        Files.writeString(template, "{% for m in messages %}\n{{ raise_exception('No chatting with the ' + m.role) }}{% endfor %}");
        Run r = corvus("generate", "--model", model().toString(), "--system", "Be brief.", "--chat", "Hi", "--chat-template", template.toString());
        assertThat(r.code()).isNotZero();
        // (the system message was folded into the user's turn: the template refused a system role)
        assertThat(r.err()).contains("chat template " + template + ": the chat template failed to render at line 2: raise_exception(): No chatting with the user");

        Path gguf = dir.resolve("stories15M.gguf"), broken = dir.resolve("broken.gguf");
        assertThat(corvus("convert", model().toString(), gguf.toString()).code()).isZero();
        withChatTemplate(gguf, broken, "{{ bos_token }}\n{% for m in messages %}{{ m.content }");
        Run g = corvus("generate", "--model", broken.toString(), "--chat", "Hi");
        assertThat(g.code()).isNotZero();
        assertThat(g.err()).contains(broken + ", key " + ChatTemplate.GGUF_KEY + ": the chat template failed to render at line 2");
    }

    @Test
    void chatOptionsSpeakPlainly() throws Exception {
        String m = model().toString();
        Run both = corvus("generate", "Once", "--model", m, "--chat", "Hi");
        assertThat(both.code()).isNotZero();
        assertThat(both.err()).contains("either a PROMPT or --chat MESSAGE");
        Run orphan = corvus("generate", "Once", "--model", m, "--system", "Be brief.");
        assertThat(orphan.code()).isNotZero();
        assertThat(orphan.err()).contains("--system and --chat-template apply only with --chat");
        Run missing = corvus("generate", "--model", m, "--chat", "Hi", "--chat-template", "/no/such/template.jinja");
        assertThat(missing.code()).isNotZero();
        assertThat(missing.err()).contains("--chat-template /no/such/template.jinja does not exist");
    }

    /**
     * A copy of {@code src} with {@value ChatTemplate#GGUF_KEY} added. The key-value pair goes right
     * after the header's counts and is padded (with a Jinja comment, which renders as nothing) to a
     * whole number of alignment units, so the tensor data keeps its offsets.
     */
    private static void withChatTemplate(Path src, Path dst, String template) throws Exception {
        byte[] in = Files.readAllBytes(src);
        GgufReader gguf = GgufReader.read(src, MemorySegment.ofArray(in));
        assertThat(gguf.has(ChatTemplate.GGUF_KEY)).isFalse();
        byte[] key = ChatTemplate.GGUF_KEY.getBytes(StandardCharsets.UTF_8);
        String value = template;
        int fixed = 8 + key.length + 4 + 8; // key length, key, value type, value length
        int pad = Math.floorMod(-(fixed + value.getBytes(StandardCharsets.UTF_8).length), gguf.alignment());
        if (pad > 0 && pad < 4) pad += gguf.alignment(); // room for "{##}"
        if (pad > 0) value += "{#" + " ".repeat(pad - 4) + "#}";
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        ByteBuffer kv = ByteBuffer.allocate(fixed + v.length).order(ByteOrder.LITTLE_ENDIAN);
        kv.putLong(key.length).put(key).putInt(8 /* GGUF string */).putLong(v.length).put(v);
        assertThat(kv.capacity() % gguf.alignment()).isZero();

        ByteBuffer header = ByteBuffer.wrap(in, 0, 24).order(ByteOrder.LITTLE_ENDIAN);
        long kvCount = header.getLong(16);
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + kv.capacity());
        ByteBuffer counts = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).put(in, 0, 16).putLong(kvCount + 1);
        out.write(counts.array());
        out.write(kv.array());
        out.write(in, 24, in.length - 24);
        Files.write(dst, out.toByteArray());
        assertThat(GgufReader.read(dst, MemorySegment.ofArray(Files.readAllBytes(dst))).getString(ChatTemplate.GGUF_KEY)).isEqualTo(value);
    }
}
