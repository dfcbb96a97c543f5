package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.chat.ChatFormatter;
import dev.corvus.chat.ChatMessage;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.Generator;
import dev.corvus.model.LlamaCpp;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.RealModel;
import dev.corvus.model.Sampler;
import dev.corvus.model.Tokenizer;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corvus chat} driven through piped standard input, on stories15M (no chat template:
 * ChatML, as llama.cpp does) and the conformance set's Qwen2 GGUF (its own ChatML template): each
 * reply is the library's greedy generation of the conversation so far as the template renders it.
 */
class ChatCommandTest {
    private static Corvus.Run chat(String stdin, String... args) {
        List<String> all = new ArrayList<>(List.of("chat"));
        all.addAll(List.of(args));
        return Corvus.run(cl -> ((ChatCommand) cl.getSubcommands().get("chat").getCommand()).input =
                new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), all.toArray(String[]::new));
    }

    /** The library's own greedy loop (not the engine) on the conversation's tokens, as ChatFormatter builds them. */
    private static String greedy(Path model, Path template, List<ChatMessage> messages, int maxTokens) throws Exception {
        try (Checkpoint ckpt = Checkpoints.load(model)) {
            Tokenizer tok = ckpt.tokenizer().orElseThrow();
            int[] prompt = ChatFormatter.forModel(model, template, tok).tokens(messages);
            int[] tokens = new Generator(new LlamaModel(ckpt.config(), ckpt.weights()), Sampler.greedy(), tok.endOfGenerationIds())
                    .generate(prompt, maxTokens, t -> {}).tokens();
            Tokenizer.StreamDecoder d = tok.streamDecoder();
            StringBuilder text = new StringBuilder();
            for (int t : tokens) text.append(d.next(t));
            return text.append(d.flush()).toString();
        }
    }

    private static int promptLength(Path model, List<ChatMessage> messages) throws Exception {
        try (Checkpoint ckpt = Checkpoints.load(model)) {
            return ChatFormatter.forModel(model, null, ckpt.tokenizer().orElseThrow()).tokens(messages).length;
        }
    }

    @Test
    void eachReplyIsTheGreedyGenerationOfTheConversationSoFar() throws Exception {
        Path m = RealModel.files().checkpoint();
        Corvus.Run r = chat("Once upon a time\nWhat happened next?\n", "--model", m.toString(), "--max-tokens", "12");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("has no chat template; using ChatML");
        String first = greedy(m, null, List.of(ChatMessage.user("Once upon a time")), 12);
        String second = greedy(m, null, List.of(ChatMessage.user("Once upon a time"), ChatMessage.assistant(first),
                ChatMessage.user("What happened next?")), 12);
        assertThat(first).isNotEqualTo(second);
        assertThat(r.out()).isEqualTo(first + "\n" + second + "\n");
    }

    @Test
    void resetForgetsAndSystemChangesTheConversation() throws Exception {
        Path m = RealModel.files().checkpoint();
        Corvus.Run r = chat("Once upon a time\n/reset\nOnce upon a time\n/system Tell a story.\nThe end\n",
                "--model", m.toString(), "--max-tokens", "8", "--system", "Be kind.");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("corvus: conversation reset (the system message stays)").contains("corvus: system message set");
        String fresh = greedy(m, null, List.of(ChatMessage.system("Be kind."), ChatMessage.user("Once upon a time")), 8);
        String changed = greedy(m, null, List.of(ChatMessage.system("Tell a story."), ChatMessage.user("Once upon a time"),
                ChatMessage.assistant(fresh), ChatMessage.user("The end")), 8);
        assertThat(r.out()).isEqualTo(fresh + "\n" + fresh + "\n" + changed + "\n");
    }

    @Test
    void theOldestExchangesGoWhenTheNextTurnDoesNotFit() throws Exception {
        Path m = RealModel.files().checkpoint();
        String first = greedy(m, null, List.of(ChatMessage.user("Once upon a time")), 8);
        List<ChatMessage> whole = List.of(ChatMessage.user("Once upon a time"), ChatMessage.assistant(first), ChatMessage.user("The end"));
        List<ChatMessage> last = List.of(ChatMessage.user("The end"));
        // a context that holds one exchange's prompt and its reply, but not two
        int ctx = Math.max(promptLength(m, List.of(ChatMessage.user("Once upon a time"))), promptLength(m, last)) + 8;
        assertThat(promptLength(m, whole)).isGreaterThan(ctx - 8);
        Corvus.Run r = chat("Once upon a time\nThe end\n", "--model", m.toString(), "--max-tokens", "8", "--ctx", String.valueOf(ctx));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("corvus: dropped the oldest 1 exchange of the conversation to fit the context of " + ctx + " tokens");
        assertThat(r.out()).isEqualTo(first + "\n" + greedy(m, null, last, 8) + "\n");
    }

    @Test
    void aMessageLongerThanTheContextIsRefusedAndTheChatGoesOn() throws Exception {
        Path m = RealModel.files().checkpoint();
        Corvus.Run r = chat("Once upon a time there was a little girl who lived in a house by the sea\nHi\n/exit\nnever read\n",
                "--model", m.toString(), "--max-tokens", "4", "--ctx", "40");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("more than the 36 the context leaves for a prompt").contains("nothing was sent");
        assertThat(r.out()).isEqualTo(greedy(m, null, List.of(ChatMessage.user("Hi")), 4) + "\n");
    }

    @Test
    void aReplyThatFillsTheContextIsSaidSo() throws Exception {
        Path m = RealModel.files().checkpoint();
        List<ChatMessage> hi = List.of(ChatMessage.user("Hi"));
        // half the context for the prompt (--max-tokens is more than that), the rest for the reply
        int ctx = 2 * promptLength(m, hi) + 10, room = ctx - promptLength(m, hi);
        String expected = greedy(m, null, hi, room);
        Corvus.Run r = chat("Hi\n", "--model", m.toString(), "--max-tokens", "1000", "--ctx", String.valueOf(ctx));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo(expected + "\n");
        // unless the story ended by itself first
        assertThat(r.err().contains("the reply filled the context of " + ctx + " tokens")).isEqualTo(greedyTokens(m, hi, room) == room);
    }

    private static int greedyTokens(Path model, List<ChatMessage> messages, int maxTokens) throws Exception {
        try (Checkpoint ckpt = Checkpoints.load(model)) {
            Tokenizer tok = ckpt.tokenizer().orElseThrow();
            int[] prompt = ChatFormatter.forModel(model, null, tok).tokens(messages);
            return new Generator(new LlamaModel(ckpt.config(), ckpt.weights()), Sampler.greedy(), tok.endOfGenerationIds())
                    .generate(prompt, maxTokens, t -> {}).tokens().length;
        }
    }

    @Test
    void theGgufsOwnTemplateFormatsAMultiTurnChat() throws Exception {
        Path m = LlamaCpp.require().conformanceSet().entry("qwen2", "F16").file();
        Corvus.Run r = chat("Hello\n/help\nWho are you?\n", "--model", m.toString(), "--max-tokens", "10", "--system", "You are terse.");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("ChatML");
        String first = greedy(m, null, List.of(ChatMessage.system("You are terse."), ChatMessage.user("Hello")), 10);
        String second = greedy(m, null, List.of(ChatMessage.system("You are terse."), ChatMessage.user("Hello"), ChatMessage.assistant(first),
                ChatMessage.user("Who are you?")), 10);
        assertThat(r.out()).startsWith(first + "\n/reset").endsWith("\n" + second + "\n").contains("/system TEXT");
    }

    @Test
    void aChatTemplateFileReplacesTheModels(@TempDir Path dir) throws Exception {
        Path m = RealModel.files().checkpoint(), template = dir.resolve("join.jinja");
        Files.writeString(template, "{{ bos_token }}{{ messages | map(attribute='content') | join(' ') }}");
        Corvus.Run r = chat("Once upon a time\n", "--model", m.toString(), "--max-tokens", "12", "--chat-template", template.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("ChatML");
        // the joining template makes the prompt the plain text: the reply is generate's continuation
        Corvus.Run plain = Corvus.run("generate", "Once upon a time", "--model", m.toString(), "--steps", "12", "--quiet");
        assertThat(r.out()).isEqualTo(plain.out().substring("Once upon a time".length()));
    }

    @Test
    void badOptionsGiveClearErrors(@TempDir Path dir) throws Exception {
        Path m = RealModel.files().checkpoint();
        chat("", "--model", m.toString(), "--temperature", "-1").failsPlainly(Main.USAGE).err().contains("--temperature");
        chat("", "--model", m.toString(), "--top-p", "0").failsPlainly(Main.USAGE).err().contains("--top-p");
        chat("", "--model", m.toString(), "--max-tokens", "0").failsPlainly(Main.USAGE).err().contains("--max-tokens");
        chat("", "--model", m.toString(), "--ctx", "1").failsPlainly(Main.USAGE).err().contains("--ctx");
        chat("", "--model", m.toString(), "--ctx", "100000").failsPlainly(Main.USAGE).err().contains("--ctx 100000 is more than the model's context");
        assertThat(chat("", "--model", dir.resolve("none.gguf").toString()).failsPlainly(Main.FAILED).err()).contains("none.gguf").contains("does not exist");
        chat("", "--model", m.toString(), "--chat-template", dir.resolve("t.jinja").toString()).failsPlainly(Main.USAGE).err().contains("t.jinja");
        chat("").failsPlainly(Main.USAGE).err().contains("--model");
    }
}
