package dev.corvus.model.gguf;

import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.Progress;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a GGUF version 3 file: metadata, tensor infos, then each tensor's bytes at an aligned
 * offset. Tensors given a target dtype are converted one at a time while writing, in a scratch
 * scope, so writing a model needs no more memory than its largest tensor. The file appears
 * complete or not at all: it is written beside its final name and renamed into place.
 *
 * <pre>{@code
 * new GgufWriter().putString("general.architecture", "llama").addTensor("w", w, DType.Q8_0).write(path);
 * GgufWriter.writeLlama(path, config, weights, tokenizer, DType.Q8_0);   // a whole model
 * }</pre>
 */
public final class GgufWriter {
    private record Entry(GgufValueType type, Object value) {}

    private record PendingTensor(String name, Tensor tensor, DType dtype) {
        long bytes() {
            return dtype.byteSize(tensor.numel());
        }
    }

    private final Map<String, Entry> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private int alignment = GgufReader.DEFAULT_ALIGNMENT;
    private Progress progress = Progress.NONE;

    /** Writes a Llama model; see {@link LlamaGguf#write}. */
    public static void writeLlama(Path file, LlamaConfig config, LlamaWeights weights, Tokenizer tokenizer, DType matrixType) throws IOException {
        LlamaGguf.write(file, config, weights, tokenizer, matrixType, Progress.NONE);
    }

    /** Writes a Llama model, reporting the bytes written to {@code progress}; see {@link LlamaGguf#write}. */
    public static void writeLlama(Path file, LlamaConfig config, LlamaWeights weights, Tokenizer tokenizer, DType matrixType, Progress progress)
            throws IOException {
        LlamaGguf.write(file, config, weights, tokenizer, matrixType, progress);
    }

    // ---------------------------------------------------------------- metadata

    /** Sets {@code key}; the value's Java type must fit {@code type} (see {@link GgufReader#metadata()}). */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        Objects.requireNonNull(key);
        Objects.requireNonNull(value, key);
        boolean ok = switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> value instanceof Long || value instanceof Integer;
            case FLOAT32 -> value instanceof Float;
            case FLOAT64 -> value instanceof Double;
            case BOOL -> value instanceof Boolean;
            case STRING -> value instanceof String;
            case ARRAY -> value instanceof GgufArray;
        };
        if (!ok) throw new IllegalArgumentException("GGUF metadata \"" + key + "\": a " + value.getClass().getSimpleName() + " is not a " + type);
        if (key.equals("general.alignment")) {
            long a = ((Number) value).longValue();
            if (a <= 0 || a > (1 << 20) || Long.bitCount(a) != 1) throw new IllegalArgumentException("general.alignment must be a power of two up to 2^20, got " + a);
            alignment = (int) a;
        }
        metadata.put(key, new Entry(type, value));
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValueType.STRING, value);
    }

    public GgufWriter putUInt32(String key, long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) throw new IllegalArgumentException("GGUF metadata \"" + key + "\": " + value + " is not a uint32");
        return put(key, GgufValueType.UINT32, value);
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValueType.FLOAT32, value);
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValueType.BOOL, value);
    }

    public GgufWriter putArray(String key, GgufValueType elementType, Object javaArray) {
        return put(key, GgufValueType.ARRAY, new GgufArray(elementType, javaArray));
    }

    // ---------------------------------------------------------------- tensors

    /** Adds a tensor as stored (F32, F16, BF16, Q8_0 or I32). */
    public GgufWriter addTensor(String name, Tensor tensor) {
        return addTensor(name, tensor, tensor.dtype());
    }

    /** Adds a tensor, converted to {@code dtype} when written (Q8_0 needs a last dimension that is a multiple of 32). */
    public GgufWriter addTensor(String name, Tensor tensor, DType dtype) {
        GgmlType.of(dtype); // rejects dtypes GGUF cannot hold
        if (dtype.isQuantized() && tensor.size(-1) % dtype.blockSize() != 0) {
            throw new IllegalArgumentException("GGUF tensor \"" + name + "\": " + dtype + " needs a last dimension that is a multiple of "
                    + dtype.blockSize() + ", got " + tensor);
        }
        if (tensor.rank() < 1 || tensor.rank() > GgufReader.MAX_DIMS) throw new IllegalArgumentException("GGUF tensor \"" + name + "\" has rank " + tensor.rank());
        for (PendingTensor t : tensors) if (t.name.equals(name)) throw new IllegalArgumentException("GGUF tensor \"" + name + "\" added twice");
        tensors.add(new PendingTensor(name, tensor, dtype));
        return this;
    }

    // ---------------------------------------------------------------- writing

    /** Runs on the finished temporary file before it replaces the target; throwing leaves the target as it was. */
    @FunctionalInterface
    public interface Check {
        void check(Path written) throws IOException;
    }

    /** Writes the file; see {@link #write(Path, Check)}. */
    public void write(Path file) throws IOException {
        write(file, null);
    }

    /**
     * Writes the file atomically: into a temporary file in the same folder, synced, checked by
     * {@code check} (when not null), then renamed over {@code file}. Whatever fails (a full disk,
     * a conversion, the check), {@code file} keeps its old content, or stays absent, and the
     * temporary file is removed. Errors name {@code file}.
     */
    public void write(Path file, Check check) throws IOException {
        Header h = new Header();
        h.i32(GgufReader.MAGIC);
        h.i32(3);
        h.i64(tensors.size());
        h.i64(metadata.size());
        for (Map.Entry<String, Entry> e : metadata.entrySet()) {
            h.string(e.getKey());
            h.i32(e.getValue().type().id());
            h.value(e.getValue().type(), e.getValue().value());
        }
        long offset = 0;
        for (PendingTensor t : tensors) {
            h.string(t.name);
            int[] shape = t.tensor.shape();
            h.i32(shape.length);
            for (int i = shape.length - 1; i >= 0; i--) h.i64(shape[i]); // fastest-varying first
            h.i32(GgmlType.of(t.dtype).id());
            h.i64(offset);
            offset = GgufReader.alignUp(offset + t.bytes(), alignment);
        }
        byte[] header = h.toByteArray();
        long total = GgufReader.alignUp(header.length, alignment) + offset;

        Path tmp = createTemporary(file);
        boolean moved = false;
        progress.start("writing " + file.getFileName(), total);
        try {
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                writeFully(out, ByteBuffer.wrap(header));
                pad(out, GgufReader.alignUp(header.length, alignment) - header.length);
                for (PendingTensor t : tensors) {
                    try (MemoryScope scratch = MemoryScope.open("gguf-write")) {
                        Tensor src = t.tensor;
                        Tensor stored = src.dtype() == t.dtype && src.isContiguous() ? src : Ops.convert(src, t.dtype);
                        MemorySegment data = stored.segment().asSlice(stored.byteOffset(), t.bytes());
                        writeFully(out, data.asByteBuffer());
                    }
                    pad(out, GgufReader.alignUp(t.bytes(), alignment) - t.bytes());
                    progress.advance(out.position());
                }
                // on disk before the rename, so a crash cannot leave the new name on missing data
                out.force(true);
            } catch (IOException e) {
                throw new IOException("writing GGUF " + file + " failed (" + reason(e) + "); " + file + " was left as it was", e);
            }
            if (check != null) check.check(tmp);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new IOException("could not move the written GGUF into place as " + file + " (" + reason(e) + ")", e);
            }
            moved = true;
        } finally {
            progress.end();
            if (!moved) Files.deleteIfExists(tmp);
        }
    }

    /** Reports the bytes written while {@link #write} runs. */
    public GgufWriter progress(Progress progress) {
        this.progress = Objects.requireNonNull(progress);
        return this;
    }

    /** A new, empty, hidden file beside {@code file}, with the permissions a new file gets (or {@code file}'s own when it exists). */
    private static Path createTemporary(Path file) throws IOException {
        Path name = file.getFileName();
        if (name == null) throw new IOException("cannot write GGUF to " + file + ": not a file name");
        if (Files.isDirectory(file)) throw new IOException("cannot write GGUF " + file + ": it is a directory");
        Path dir = file.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) {
            throw new IOException("cannot write GGUF " + file + ": the folder " + dir + (Files.exists(dir) ? " is not a directory" : " does not exist"));
        }
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                // CREATE_NEW, not Files.createTempFile: that one makes the file owner-only (0600)
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
            } catch (FileAlreadyExistsException e) {
                if (attempt < 10) continue;
                throw e;
            } catch (IOException e) {
                throw new IOException("cannot write GGUF " + file + ": creating a file in " + dir + " failed (" + reason(e) + ")", e);
            }
            try {
                if (Files.exists(file)) Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(file));
            } catch (UnsupportedOperationException | IOException e) {
                // not POSIX, or not ours to read: the new file keeps the default permissions
            }
            return tmp;
        }
    }

    /** What went wrong, in words, without repeating a temporary file's name. */
    static String reason(IOException e) {
        if (e instanceof FileSystemException f) {
            if (f.getReason() != null) return f.getReason();
            if (f instanceof NoSuchFileException) return "no such file or directory";
            if (f instanceof AccessDeniedException) return "permission denied";
            if (f instanceof FileAlreadyExistsException) return "file exists";
            return e.getClass().getSimpleName();
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static void writeFully(FileChannel out, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) out.write(buffer);
    }

    private static void pad(FileChannel out, long n) throws IOException {
        if (n > 0) writeFully(out, ByteBuffer.allocate((int) n));
    }

    /** Little-endian header bytes. */
    private static final class Header extends ByteArrayOutputStream {
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        void i8(int v) {
            write(v);
        }

        void i16(int v) {
            write(scratch.clear().putShort((short) v).array(), 0, 2);
        }

        void i32(int v) {
            write(scratch.clear().putInt(v).array(), 0, 4);
        }

        void i64(long v) {
            write(scratch.clear().putLong(v).array(), 0, 8);
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            write(b, 0, b.length);
        }

        void value(GgufValueType type, Object v) {
            switch (type) {
                case UINT8, INT8 -> i8((int) ((Number) v).longValue());
                case UINT16, INT16 -> i16((int) ((Number) v).longValue());
                case UINT32, INT32 -> i32((int) ((Number) v).longValue());
                case UINT64, INT64 -> i64(((Number) v).longValue());
                case FLOAT32 -> i32(Float.floatToRawIntBits((Float) v));
                case FLOAT64 -> i64(Double.doubleToRawLongBits((Double) v));
                case BOOL -> i8((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case ARRAY -> {
                    GgufArray a = (GgufArray) v;
                    i32(a.elementType().id());
                    i64(a.length());
                    Object values = a.values();
                    for (int i = 0; i < a.length(); i++) {
                        Object e = switch (values) {
                            case int[] x -> x[i];
                            case long[] x -> x[i];
                            case float[] x -> x[i];
                            case double[] x -> x[i];
                            case boolean[] x -> x[i];
                            case Object[] x -> x[i];
                            default -> throw new IllegalStateException();
                        };
                        value(a.elementType(), e);
                    }
                }
            }
        }
    }
}
