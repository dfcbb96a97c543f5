package dev.corvus.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.LlamaCpp;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The real chat templates llama.cpp ships (models/templates/, and the vocabulary GGUFs' own
 * tokenizer.chat_template), rendered for a system + user conversation and a multi-turn one with
 * the generation prompt. Each expected prompt is written out from the family's documented
 * format (model cards: Llama 3.1/3.2 headers and the date preamble, ChatML for Qwen, Phi-3's
 * {@code <|user|>} tags, Gemma's turns without a system role, Mistral's [INST], DeepSeek-R1's
 * full-width markers and the opening {@code <think>}).
 */
class ChatTemplateRealTest {
    private static final Clock MARCH_7_2025 = Clock.fixed(Instant.parse("2025-03-07T10:00:00Z"), ZoneOffset.UTC);
    private static final List<ChatMessage> SYSTEM_USER = List.of(ChatMessage.system("Answer in French."), ChatMessage.user("Hello"));
    private static final List<ChatMessage> MULTI_TURN = List.of(ChatMessage.user("Hello"), ChatMessage.assistant("Hi there"), ChatMessage.user("Who are you"));

    record Family(String file, String bos, String eos, String systemUser, String multiTurn) {
        @Override
        public String toString() {
            return file;
        }
    }

    private static final String LLAMA3_HEADER = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: ";

    static Stream<Family> families() {
        return Stream.of(
                new Family("meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>",
                        // 3.1 pins its date unless the caller passes date_string
                        LLAMA3_HEADER + "26 Jul 2024\n\nAnswer in French.<|eot_id|>"
                                + "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                        LLAMA3_HEADER + "26 Jul 2024\n\n<|eot_id|>"
                                + "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                                + "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
                new Family("meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>",
                        // 3.2 asks strftime_now for today's date
                        LLAMA3_HEADER + "07 Mar 2025\n\nAnswer in French.<|eot_id|>"
                                + "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                        LLAMA3_HEADER + "07 Mar 2025\n\n<|eot_id|>"
                                + "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                                + "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
                new Family("Qwen-Qwen2.5-7B-Instruct.jinja", "<|endoftext|>", "<|im_end|>",
                        "<|im_start|>system\nAnswer in French.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
                        // without a system message Qwen2.5 introduces itself
                        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                                + "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
                                + "<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n"),
                new Family("Qwen-Qwen3-0.6B.jinja", "<|endoftext|>", "<|im_end|>",
                        "<|im_start|>system\nAnswer in French.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
                        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
                                + "<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n"),
                new Family("microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>",
                        "<|system|>\nAnswer in French.<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n",
                        "<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n"),
                new Family("google-gemma-2-2b-it.jinja", "<bos>", "<eos>",
                        // no system role: the system text opens the first user turn
                        "<bos><start_of_turn>user\nAnswer in French.\nHello<end_of_turn>\n<start_of_turn>model\n",
                        "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n"
                                + "<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\n"),
                new Family("mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>",
                        // the system message goes in front of the last user turn
                        "<s>[INST]Answer in French.\n\nHello[/INST]",
                        "<s>[INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]"),
                new Family("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
                        "<｜begin▁of▁sentence｜>Answer in French.<｜User｜>Hello<｜Assistant｜><think>\n",
                        "<｜begin▁of▁sentence｜><｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you<｜Assistant｜><think>\n"));
    }

    private static ChatTemplate template(String file, String bos, String eos) throws IOException {
        return ChatTemplate.of(Files.readString(LlamaCpp.template(file)), file, bos, eos).withClock(MARCH_7_2025);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void systemAndUserWithTheGenerationPrompt(Family f) throws IOException {
        assertThat(template(f.file(), f.bos(), f.eos()).apply(SYSTEM_USER, true)).isEqualTo(f.systemUser());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void multiTurnWithTheGenerationPrompt(Family f) throws IOException {
        assertThat(template(f.file(), f.bos(), f.eos()).apply(MULTI_TURN, true)).isEqualTo(f.multiTurn());
    }

    @Test
    void gemmaRefusesASystemMessageWhenRenderedAsIs() throws IOException {
        ChatTemplate gemma = template("google-gemma-2-2b-it.jinja", "<bos>", "<eos>");
        assertThat(gemma.supportsSystemRole()).isFalse();
        assertThatThrownBy(() -> gemma.render(SYSTEM_USER, true))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("google-gemma-2-2b-it.jinja: the chat template failed to render at line 1: raise_exception(): System role not supported");
    }

    @Test
    void qwen3DropsEarlierReasoningAndCanBeToldNotToThink() throws IOException {
        ChatTemplate qwen3 = template("Qwen-Qwen3-0.6B.jinja", "<|endoftext|>", "<|im_end|>");
        List<ChatMessage> chat = List.of(ChatMessage.user("Hello"), ChatMessage.assistant("<think>\nThe user greets me.\n</think>\n\nHi there"),
                ChatMessage.user("Who are you"));
        // reasoning before the last user turn is not part of the history
        assertThat(qwen3.apply(chat, true)).isEqualTo("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
                + "<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n");
        assertThat(qwen3.render(List.of(ChatMessage.user("Hello")), true, Map.of("enable_thinking", false)))
                .isEqualTo("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
    }

    @Test
    void aLlama3PromptStartsWithOneBosAddedByTheTokenizer() throws IOException {
        ChatTemplate llama = template("meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>");
        ChatPrompt p = ChatPrompt.of(llama.apply(SYSTEM_USER, true), llama.bosToken(), true);
        assertThat(p.addBos()).isTrue();
        assertThat(p.text()).startsWith("<|start_header_id|>system<|end_header_id|>").doesNotContain("<|begin_of_text|>");
    }

    record Vocab(String name, String bos, String eos, boolean addBos, String systemUser) {
        @Override
        public String toString() {
            return "ggml-vocab-" + name;
        }
    }

    static Stream<Vocab> vocabularies() {
        String chatMl = "<|im_start|>system\nAnswer in French.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n";
        return Stream.of(
                // BPE vocabularies without add_bos_token and a template that writes no BOS: none at all
                new Vocab("qwen2", "<|endoftext|>", "<|endoftext|>", false, chatMl),
                new Vocab("qwen35", "<|endoftext|>", "<|endoftext|>", false, chatMl),
                // Phi-3's template skips system messages (so the text joins the user turn) and writes BOS itself
                new Vocab("phi-3", "<s>", "<|endoftext|>", true, "<s><|user|>\nAnswer in French.\nHello<|end|>\n<|assistant|>\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vocabularies")
    void theVocabularyGgufsOwnTemplate(Vocab v) throws IOException {
        GgufChat meta = GgufChat.forModel(LlamaCpp.vocab(v.name()));
        assertThat(meta.bosToken()).isEqualTo(v.bos());
        assertThat(meta.eosToken()).isEqualTo(v.eos());
        assertThat(meta.vocabAddsBos()).isEqualTo(v.addBos());
        ChatTemplate t = ChatTemplate.of(meta.template().orElseThrow(), v + ".gguf, key " + ChatTemplate.GGUF_KEY, meta.bosToken(), meta.eosToken());
        String rendered = t.apply(SYSTEM_USER, true);
        assertThat(rendered).isEqualTo(v.systemUser());
        ChatPrompt p = ChatPrompt.of(rendered, meta.bosToken(), meta.vocabAddsBos());
        assertThat(p.addBos()).isEqualTo(v.addBos());
        assertThat(p.text()).doesNotStartWith(v.bos());
    }

    @Test
    void aModelWithoutATemplateSaysSo() throws IOException {
        // llama.cpp's Llama 3 BPE vocabulary carries no chat template
        assertThat(GgufChat.forModel(LlamaCpp.vocab("llama-bpe")).template()).isEmpty();
    }
}
