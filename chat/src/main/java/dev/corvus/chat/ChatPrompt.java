package dev.corvus.chat;

/**
 * A rendered chat prompt ready for the tokenizer: its text and whether the tokenizer must put the
 * BOS token in front.
 *
 * <p>BOS appears exactly once, as a token id, whoever asks for it. Many templates print
 * {@code {{ bos_token }}} themselves (Llama 3, Mistral, Phi-3); a tokenizer that also adds BOS
 * would then start the prompt with two, which llama.cpp avoids the same way: when the rendered
 * text starts with the BOS token's text, that text is cut off and the tokenizer adds the id
 * instead (so the result does not depend on the tokenizer recognising special-token text).
 * Otherwise BOS is added when the vocabulary asks for it ({@code vocabAddsBos}: the GGUF's
 * {@code tokenizer.ggml.add_bos_token}), and not for templates and vocabularies that never use
 * one (Qwen's ChatML).
 */
public record ChatPrompt(String text, boolean addBos) {
    public static ChatPrompt of(String rendered, String bosToken, boolean vocabAddsBos) {
        if (!bosToken.isEmpty() && rendered.startsWith(bosToken)) return new ChatPrompt(rendered.substring(bosToken.length()), true);
        return new ChatPrompt(rendered, vocabAddsBos);
    }
}
