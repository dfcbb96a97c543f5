package dev.corvus.chat;

import dev.corvus.model.CheckpointException;
import dev.corvus.model.gguf.GgufReader;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * What a model file says about chatting, read from its GGUF metadata alone (no weights, so the
 * vocabulary-only GGUFs work too).
 *
 * @param template     the chat template, {@value ChatTemplate#GGUF_KEY}
 * @param bosToken     the text of the BOS token ({@code tokenizer.ggml.tokens[tokenizer.ggml.bos_token_id]}), "" if none
 * @param eosToken     the text of the EOS token, "" if none
 * @param vocabAddsBos {@code tokenizer.ggml.add_bos_token}; when the key is absent, true for
 *                     SentencePiece vocabularies ({@code tokenizer.ggml.model} "llama", which
 *                     always start with BOS) and false for the others, llama.cpp's default for
 *                     BPE vocabularies, whose templates write BOS themselves when they want it
 */
public record GgufChat(Optional<String> template, String bosToken, String eosToken, boolean vocabAddsBos) {
    public static final String ADD_BOS_KEY = "tokenizer.ggml.add_bos_token";

    /**
     * Reads the metadata of the model {@code file}; a file that is not a GGUF (a llama2.c
     * checkpoint: SentencePiece, BOS first, its tokens in a separate file) has no template and
     * no token texts.
     */
    public static GgufChat forModel(Path file) throws IOException {
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (!GgufReader.isGguf(bytes)) return new GgufChat(Optional.empty(), "", "", true);
            GgufReader gguf = GgufReader.read(file, bytes); // metadata-only GGUFs (llama.cpp's vocabularies) read too
            Optional<String> template = gguf.has(ChatTemplate.GGUF_KEY) ? Optional.of(gguf.getString(ChatTemplate.GGUF_KEY)) : Optional.empty();
            boolean spm = gguf.has("tokenizer.ggml.model") && "llama".equals(gguf.metadata().get("tokenizer.ggml.model"));
            boolean addBos = spm;
            if (gguf.has(ADD_BOS_KEY)) {
                if (!(gguf.metadata().get(ADD_BOS_KEY) instanceof Boolean b)) {
                    throw new CheckpointException(file, "metadata \"" + ADD_BOS_KEY + "\" is " + gguf.type(ADD_BOS_KEY) + ", expected a bool");
                }
                addBos = b;
            }
            String[] tokens = gguf.has("tokenizer.ggml.tokens") ? gguf.getStringArray("tokenizer.ggml.tokens") : new String[0];
            return new GgufChat(template, token(gguf, tokens, "tokenizer.ggml.bos_token_id"), token(gguf, tokens, "tokenizer.ggml.eos_token_id"), addBos);
        }
    }

    private static String token(GgufReader gguf, String[] tokens, String key) throws CheckpointException {
        if (!gguf.has(key)) return "";
        int id = gguf.getInt(key, 0, Integer.MAX_VALUE);
        if (id >= tokens.length) {
            throw new CheckpointException(gguf.file(), "metadata \"" + key + "\" is " + id + " but tokenizer.ggml.tokens has " + tokens.length + " entries");
        }
        return tokens[id];
    }
}
