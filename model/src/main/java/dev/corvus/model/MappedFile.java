package dev.corvus.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A file mapped read-only into memory, and the arena that unmaps it. Checkpoint tensors are
 * zero-copy views over such a mapping. Reading after {@link #close()} raises
 * {@link IllegalStateException}, never a crash.
 *
 * <p>Internal: public only for the {@code gguf} and {@code tokenizer} packages; not supported API,
 * may change in any release.
 */
public final class MappedFile implements AutoCloseable {
    private final Path path;
    private final MemorySegment segment;
    private final Arena arena;
    private final AtomicBoolean closed = new AtomicBoolean();

    private MappedFile(Path path, MemorySegment segment, Arena arena) {
        this.path = path;
        this.segment = segment;
        this.arena = arena;
    }

    /** Maps {@code path} in a fresh shared arena that {@link #close()} closes. */
    public static MappedFile map(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment segment = size == 0 ? MemorySegment.ofArray(new byte[0]) : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new MappedFile(path, segment, arena);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new CheckpointException(path, "no such file");
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Maps {@code path} and unmaps it when {@code scope} closes (not left to the garbage collector). */
    public static MappedFile map(Path path, dev.corvus.tensor.MemoryScope scope) throws IOException {
        MappedFile mapped = map(path);
        scope.onClose(mapped::close);
        return mapped;
    }

    /** Bytes already in memory, named {@code path} in errors; closing does nothing. */
    public static MappedFile of(Path path, MemorySegment bytes) {
        return new MappedFile(path, bytes, null);
    }

    public Path path() {
        return path;
    }

    public MemorySegment segment() {
        return segment;
    }

    public long size() {
        return segment.byteSize();
    }

    @Override
    public void close() {
        if (arena != null && closed.compareAndSet(false, true)) arena.close();
    }
}
