package dev.corvus.model;

import dev.corvus.tensor.MemoryScope;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A loaded model: its config, its weights (zero-copy views of the memory-mapped file where the
 * dtype allows), and its tokenizer when the file carries one (GGUF) or one lies beside it
 * ({@code tokenizer.bin} next to a llama2.c checkpoint).
 *
 * <p>Lifetime: from {@link Checkpoints#load(Path)} the checkpoint owns a detached
 * {@link MemoryScope} and the file mapping; {@link #close()} closes both, after which using a
 * weight raises {@link IllegalStateException}. From {@link Checkpoints#load(Path, MemoryScope)}
 * the weights live in the caller's scope, the mapping is released by the garbage collector once
 * no tensor references it, and {@link #close()} does nothing.
 */
public final class Checkpoint implements AutoCloseable {
    /** File formats Corvus reads. */
    public enum Format { LLAMA2C, GGUF }

    private final Path path;
    private final Format format;
    private final LlamaConfig config;
    private final LlamaWeights weights;
    private final Tokenizer tokenizer;
    private final MemoryScope ownedScope;
    private final MappedFile ownedMapping;

    /**
     * @param tokenizer    null when there is none
     * @param ownedScope   closed by {@link #close()}; null when the caller owns the scope
     * @param ownedMapping closed by {@link #close()} after the scope; null when GC-managed
     */
    public Checkpoint(Path path, Format format, LlamaConfig config, LlamaWeights weights, Tokenizer tokenizer,
            MemoryScope ownedScope, MappedFile ownedMapping) {
        this.path = Objects.requireNonNull(path);
        this.format = Objects.requireNonNull(format);
        this.config = Objects.requireNonNull(config);
        this.weights = Objects.requireNonNull(weights);
        this.tokenizer = tokenizer;
        this.ownedScope = ownedScope;
        this.ownedMapping = ownedMapping;
    }

    public Path path() {
        return path;
    }

    public Format format() {
        return format;
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return weights;
    }

    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** This checkpoint with {@code tokenizer} attached (same weights and lifetime). */
    public Checkpoint withTokenizer(Tokenizer tokenizer) {
        return new Checkpoint(path, format, config, weights, tokenizer, ownedScope, ownedMapping);
    }

    /** Frees the weights and unmaps the file when this checkpoint owns them. */
    @Override
    public void close() {
        if (ownedScope != null) ownedScope.close();
        if (ownedMapping != null) ownedMapping.close();
    }

    @Override
    public String toString() {
        return "Checkpoint[" + format + " " + path + ", " + config + "]";
    }
}
