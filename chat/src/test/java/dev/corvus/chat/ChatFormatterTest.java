package dev.corvus.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.ModelStore;
import dev.corvus.model.RealModel;
import dev.corvus.model.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Messages to tokens on the real stories15M vocabulary (SentencePiece, BOS first, no chat template of its own). */
class ChatFormatterTest {
    static ModelStore.Stories15M files;
    static Tokenizer tok;

    @BeforeAll
    static void load() throws Exception {
        files = RealModel.files();
        tok = Tokenizer.loadLlama2c(files.tokenizer());
    }

    @Test
    void aModelWithoutTemplateGetsLlamaCppsChatMl() throws Exception {
        ChatFormatter f = ChatFormatter.forModel(files.checkpoint(), null, tok);
        assertThat(f.usesFallback()).isTrue();
        assertThat(f.template().origin()).contains("ChatML").contains(files.checkpoint().toString());
        List<ChatMessage> turns = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi"), ChatMessage.assistant("Hello"), ChatMessage.user("Bye"));
        String expected = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"
                + "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n";
        assertThat(f.render(turns)).isEqualTo(expected);
        // the SentencePiece vocabulary asks for BOS, which ChatML does not print: the tokenizer adds it
        assertThat(f.tokens(turns)).containsExactly(tok.encode(expected, true, false));
    }

    @Test
    void aTemplateFilePrintingBosGetsItOnceAsAnId(@TempDir Path dir) throws Exception {
        Path template = dir.resolve("join.jinja");
        Files.writeString(template, "{{ bos_token }}{{ messages | map(attribute='content') | join(' ') }}");
        ChatFormatter f = ChatFormatter.forModel(files.checkpoint(), template, tok);
        assertThat(f.usesFallback()).isFalse();
        List<ChatMessage> turns = List.of(ChatMessage.user("Once upon"), ChatMessage.assistant("a"), ChatMessage.user("time"));
        assertThat(f.prompt(turns)).isEqualTo(new ChatPrompt("Once upon a time", true));
        int[] tokens = f.tokens(turns);
        assertThat(tokens).containsExactly(tok.encode("Once upon a time", true, false));
        assertThat(java.util.Arrays.stream(tokens).filter(t -> t == tok.bosId()).count()).isEqualTo(1);
    }

    @Test
    void aMissingTemplateFileIsNamed(@TempDir Path dir) {
        Path missing = dir.resolve("nope.jinja");
        assertThatThrownBy(() -> ChatFormatter.forModel(files.checkpoint(), missing, tok))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(missing.toString()).hasMessageContaining("does not exist");
    }
}
