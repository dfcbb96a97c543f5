package dev.corvus.chat;

import dev.corvus.model.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Messages to prompt tokens for one model: its chat template ({@link ChatTemplate#apply}, with the
 * generation prompt), BOS exactly once ({@link ChatPrompt}: the vocabulary's rule, from the
 * tokenizer), then the tokenizer with special tokens recognised. What {@code corvus chat} and the
 * LangChain4j models share, so that both build the very prompt {@code corvus generate --chat}
 * does.
 *
 * <p>The template comes from, in this order: a file the user names, the model's GGUF key
 * {@value ChatTemplate#GGUF_KEY}, and otherwise {@link #CHATML}, the fallback llama.cpp uses for
 * a model without a template ({@code common_chat_templates_init}; {@code llama_chat_apply_template}
 * also defaults to "chatml"). A model trained without chat turns (a llama2.c story model) then
 * sees ChatML markers as plain text: {@link #usesFallback()} says so, and callers tell the user to
 * pass a template of their own.
 *
 * <p>Immutable; {@link #tokens} may run on several threads.
 */
public final class ChatFormatter {
    /** llama.cpp's default template (common/chat.cpp, {@code CHATML_TEMPLATE_SRC}), used when the model has none. */
    public static final String CHATML = """
            {%- for message in messages -%}
              {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
              {{- '<|im_start|>assistant\n' -}}
            {%- endif -%}""";

    private final ChatTemplate template;
    private final Tokenizer tokenizer;
    private final boolean fallback;

    private ChatFormatter(ChatTemplate template, Tokenizer tokenizer, boolean fallback) {
        this.template = Objects.requireNonNull(template, "template");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.fallback = fallback;
    }

    /**
     * The formatter for the model in {@code modelFile} (a GGUF or a llama2.c checkpoint), whose
     * vocabulary is {@code tokenizer}.
     *
     * @param templateFile a Jinja chat template to use instead of the model's; null for the model's own (or {@link #CHATML})
     * @throws IllegalArgumentException when {@code templateFile} is given but is not a readable file
     * @throws IOException              when a file cannot be read
     */
    public static ChatFormatter forModel(Path modelFile, Path templateFile, Tokenizer tokenizer) throws IOException {
        GgufChat meta = GgufChat.forModel(modelFile);
        // a GGUF names its special tokens; a llama2.c tokenizer.bin has them as pieces ("\n<s>\n")
        String bos = !meta.bosToken().isEmpty() ? meta.bosToken() : tokenText(tokenizer, tokenizer.bosId());
        String eos = !meta.eosToken().isEmpty() ? meta.eosToken() : tokenText(tokenizer, tokenizer.eosId());
        if (templateFile != null) {
            if (!Files.isRegularFile(templateFile) || !Files.isReadable(templateFile)) {
                throw new IllegalArgumentException("chat template file " + templateFile + " does not exist or is not a readable file");
            }
            return new ChatFormatter(ChatTemplate.of(Files.readString(templateFile), "chat template " + templateFile, bos, eos), tokenizer, false);
        }
        if (meta.template().isPresent()) {
            return new ChatFormatter(ChatTemplate.of(meta.template().get(), modelFile + ", key " + ChatTemplate.GGUF_KEY, bos, eos), tokenizer, false);
        }
        return new ChatFormatter(ChatTemplate.of(CHATML, "ChatML, llama.cpp's default (" + modelFile + " has no " + ChatTemplate.GGUF_KEY + ")", bos, eos),
                tokenizer, true);
    }

    /** A formatter with a template already at hand; {@code tokenizer} decides whether BOS is added. */
    public static ChatFormatter of(ChatTemplate template, Tokenizer tokenizer) {
        return new ChatFormatter(template, tokenizer, false);
    }

    public ChatTemplate template() {
        return template;
    }

    /** Whether the model had no template and {@link #CHATML} stands in for it. */
    public boolean usesFallback() {
        return fallback;
    }

    /** The conversation as the template writes it, ending where the assistant's reply starts. */
    public String render(List<ChatMessage> messages) {
        return template.apply(messages, true);
    }

    /** The rendered conversation with the BOS decision made ({@link ChatPrompt#of}). */
    public ChatPrompt prompt(List<ChatMessage> messages) {
        return ChatPrompt.of(render(messages), template.bosToken(), tokenizer.addBos());
    }

    /**
     * The prompt's token ids: {@link #prompt} through the tokenizer, special tokens recognised.
     *
     * @throws ChatTemplateException when the template cannot render {@code messages}
     */
    public int[] tokens(List<ChatMessage> messages) {
        ChatPrompt p = prompt(messages);
        return tokenizer.encode(p.text(), p.addBos(), false);
    }

    private static String tokenText(Tokenizer tok, int id) {
        return id >= 0 && id < tok.vocabSize() ? tok.pieceText(id).strip() : "";
    }
}
