package dev.corvus.chat;

import dev.corvus.model.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A conversation to the prompt tokens a model continues with the assistant's reply: the chat
 * template rendered with the generation prompt ({@link ChatTemplate#apply}), then tokenized with
 * BOS exactly once ({@link ChatPrompt}: cut from the text when the template printed it, added as
 * an id when the vocabulary asks for it). What {@code corvus generate --chat}, the server and the
 * LangChain4j models share, so all three send a model the same tokens for the same messages.
 *
 * <p>Immutable; may encode from several threads (the template and tokenizer are).
 */
public final class ChatEncoder {
    private final ChatTemplate template;
    private final Tokenizer tokenizer;

    private ChatEncoder(ChatTemplate template, Tokenizer tokenizer) {
        this.template = Objects.requireNonNull(template, "template");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    }

    /**
     * The encoder for {@code templateSource}, with {@code bos_token} and {@code eos_token} from the
     * model's metadata, or, where it names none (a llama2.c tokenizer.bin), the text of the
     * tokenizer's own BOS and EOS pieces.
     *
     * @param origin where the template came from, for errors (see {@link ChatTemplate#of})
     */
    public static ChatEncoder of(String templateSource, String origin, GgufChat meta, Tokenizer tokenizer) {
        String bos = !meta.bosToken().isEmpty() ? meta.bosToken() : pieceText(tokenizer, tokenizer.bosId());
        String eos = !meta.eosToken().isEmpty() ? meta.eosToken() : pieceText(tokenizer, tokenizer.eosId());
        return new ChatEncoder(ChatTemplate.of(templateSource, origin, bos, eos), tokenizer);
    }

    /** The encoder for the chat template of the GGUF {@code modelFile}, or empty when it has none (llama2.c checkpoints never do). */
    public static Optional<ChatEncoder> forModel(Path modelFile, Tokenizer tokenizer) throws IOException {
        GgufChat meta = GgufChat.forModel(modelFile);
        return meta.template().map(source -> of(source, modelFile + ", key " + ChatTemplate.GGUF_KEY, meta, tokenizer));
    }

    public ChatTemplate template() {
        return template;
    }

    /**
     * The prompt tokens for {@code messages}, ending where the assistant's reply starts.
     *
     * @throws ChatTemplateException when the template fails on them (it may refuse a role order, say)
     */
    public int[] encode(List<ChatMessage> messages) {
        // whether BOS is added comes from the tokenizer, whose rule (the key, else llama.cpp's default) is checked against libllama
        ChatPrompt p = ChatPrompt.of(template.apply(messages, true), template.bosToken(), tokenizer.addBos());
        return tokenizer.encode(p.text(), p.addBos(), false);
    }

    private static String pieceText(Tokenizer tok, int id) {
        // a llama2.c tokenizer.bin has its special tokens as pieces ("\n<s>\n")
        return id >= 0 && id < tok.vocabSize() ? tok.pieceText(id).strip() : "";
    }
}
