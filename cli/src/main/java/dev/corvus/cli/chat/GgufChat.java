package dev.corvus.cli.chat;

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
 * What a GGUF file says about chatting: its chat template ({@value ChatTemplate#GGUF_KEY}) and
 * whether its vocabulary puts BOS in front of a prompt.
 *
 * @param vocabAddsBos {@code tokenizer.ggml.add_bos_token}; when the key is absent, true for
 *               SentencePiece vocabularies ({@code tokenizer.ggml.model} "llama", which always
 *               start with BOS) and false for the others, llama.cpp's default for BPE vocabularies
 *               whose templates write BOS themselves when they want it
 */
public record GgufChat(Optional<String> template, boolean vocabAddsBos) {
    public static final String ADD_BOS_KEY = "tokenizer.ggml.add_bos_token";

    /**
     * Reads the metadata of the model {@code file}; a file that is not a GGUF (a llama2.c
     * checkpoint, SentencePiece with BOS) has no template.
     */
    public static GgufChat forModel(Path file) throws IOException {
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (!GgufReader.isGguf(bytes)) return new GgufChat(Optional.empty(), true);
            GgufReader gguf = GgufReader.read(file, bytes);
            Optional<String> template = gguf.has(ChatTemplate.GGUF_KEY) ? Optional.of(gguf.getString(ChatTemplate.GGUF_KEY)) : Optional.empty();
            boolean addBos;
            if (gguf.has(ADD_BOS_KEY)) {
                if (!(gguf.metadata().get(ADD_BOS_KEY) instanceof Boolean b)) {
                    throw new CheckpointException(file, "metadata \"" + ADD_BOS_KEY + "\" is " + gguf.type(ADD_BOS_KEY) + ", expected a bool");
                }
                addBos = b;
            } else {
                addBos = gguf.has("tokenizer.ggml.model") && "llama".equals(gguf.metadata().get("tokenizer.ggml.model"));
            }
            return new GgufChat(template, addBos);
        }
    }
}
