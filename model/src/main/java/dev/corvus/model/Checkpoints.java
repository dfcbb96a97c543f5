package dev.corvus.model;

import dev.corvus.model.gguf.GgufReader;
import dev.corvus.model.gguf.LlamaGguf;
import dev.corvus.tensor.MemoryScope;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * Loads a Llama-family checkpoint, telling the format from its first bytes: "GGUF" is a GGUF
 * file ({@link LlamaGguf}), anything else is read as a llama2.c version 0 checkpoint
 * ({@link Llama2cCheckpoint}), whose header and size checks reject files that are neither.
 *
 * <pre>{@code
 * try (Checkpoint model = Checkpoints.load(Path.of("stories15M.bin"))) {
 *     LlamaConfig config = model.config();
 *     Tokenizer tokenizer = model.tokenizer().orElseThrow();
 *     ...
 * }
 * }</pre>
 */
public final class Checkpoints {
    private Checkpoints() {}

    /**
     * Loads {@code file} into memory the returned checkpoint owns: its weights are views of a
     * read-only mapping, freed by {@link Checkpoint#close()}. A llama2.c checkpoint gets the
     * {@code tokenizer.bin} that lies beside it, if any; a GGUF file carries its own.
     */
    public static Checkpoint load(Path file) throws IOException {
        checkByteOrder();
        MappedFile mapped = MappedFile.map(file);
        MemoryScope scope = MemoryScope.detached("checkpoint " + file.getFileName());
        try {
            return load(mapped, scope, true);
        } catch (IOException | RuntimeException e) {
            scope.close();
            mapped.close();
            throw e;
        }
    }

    /**
     * Loads {@code file} with its weights in {@code scope}, which the caller closes; the file
     * mapping is unmapped by the garbage collector once no weight references it.
     */
    public static Checkpoint load(Path file, MemoryScope scope) throws IOException {
        checkByteOrder();
        return load(MappedFile.map(file, scope), scope, false);
    }

    /**
     * Reads a checkpoint from bytes already in memory (named {@code name} in errors); the
     * weights view {@code bytes} (copied into {@code scope} first when they are on the Java
     * heap) and belong to {@code scope}.
     */
    public static Checkpoint read(Path name, MemorySegment bytes, MemoryScope scope) throws IOException {
        checkByteOrder();
        if (!bytes.isNative()) {
            // a heap segment (e.g. of a byte[]) is only byte-aligned; kernels read F32 with aligned layouts
            bytes = scope.allocate(bytes.byteSize()).copyFrom(bytes);
        }
        return load(MappedFile.of(name, bytes), scope, false);
    }

    /** The format of a file, from its first bytes. */
    public static Checkpoint.Format detect(MemorySegment bytes) {
        return GgufReader.isGguf(bytes) ? Checkpoint.Format.GGUF : Checkpoint.Format.LLAMA2C;
    }

    private static Checkpoint load(MappedFile mapped, MemoryScope scope, boolean owned) throws IOException {
        try {
            return switch (detect(mapped.segment())) {
                case GGUF -> LlamaGguf.loadMapped(mapped, scope, owned);
                case LLAMA2C -> Llama2cCheckpoint.load(mapped, scope, owned);
            };
        } catch (IllegalArgumentException | IndexOutOfBoundsException | ArithmeticException e) {
            // Every check should have raised a CheckpointException already; this keeps the promise if one was missed.
            throw new CheckpointException(mapped.path(), "malformed: " + e.getMessage(), e);
        }
    }

    private static void checkByteOrder() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("checkpoints are little-endian and Corvus maps them as they are; this machine is big-endian");
        }
    }
}
