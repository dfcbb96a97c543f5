package dev.corvus.model.gguf;

import dev.corvus.model.CheckpointException;
import dev.corvus.model.SegmentCursor;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Storage;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Parses a GGUF (version 2 or 3) file from its bytes, usually a read-only mapping: header,
 * metadata of every value type, tensor infos and the data section. Every count, length, type id
 * and offset is checked against the file before anything is allocated; a malformed file is a
 * {@link CheckpointException} naming the file and the problem. Tensors of the types Corvus
 * computes with (F32, F16, BF16, Q8_0, I32) come out as zero-copy views of the bytes.
 *
 * <p>GGUF lists dimensions fastest-first: {@code ne = [in, out]} is the Corvus tensor
 * {@code [out, in]}.
 */
public final class GgufReader {
    /** "GGUF" read as a little-endian int. */
    public static final int MAGIC = 0x46554747;
    public static final int DEFAULT_ALIGNMENT = 32;
    static final int MAX_DIMS = 4;
    static final int MAX_NESTING = 8;

    private final Path file;
    private final MemorySegment bytes;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, GgufValueType> types;
    private final Map<String, GgufTensorInfo> tensors;
    private final int alignment;
    private final long dataOffset;

    private GgufReader(Path file, MemorySegment bytes, int version, Map<String, Object> metadata, Map<String, GgufValueType> types,
            Map<String, GgufTensorInfo> tensors, int alignment, long dataOffset) {
        this.file = file;
        this.bytes = bytes;
        this.version = version;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.types = Collections.unmodifiableMap(types);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.alignment = alignment;
        this.dataOffset = dataOffset;
    }

    /** True when {@code bytes} starts with the GGUF magic. */
    public static boolean isGguf(MemorySegment bytes) {
        return bytes.byteSize() >= 4 && bytes.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0) == MAGIC;
    }

    /** Parses {@code bytes}, the contents of {@code file} (named in errors). */
    public static GgufReader read(Path file, MemorySegment bytes) throws CheckpointException {
        SegmentCursor in = new SegmentCursor(file, bytes);
        if (bytes.byteSize() < 4) throw new CheckpointException(file, "truncated: " + bytes.byteSize() + " bytes is too short for a GGUF header");
        int magic = in.i32("magic");
        if (magic != MAGIC) {
            throw new CheckpointException(file, "not a GGUF file: magic is 0x" + Integer.toHexString(magic) + ", expected 0x" + Integer.toHexString(MAGIC) + " (\"GGUF\")");
        }
        int version = in.i32("version");
        if (version == 1) throw new CheckpointException(file, "GGUF version 1 (32-bit counts) is not supported; re-convert the model to version 3");
        if (version != 2 && version != 3) throw new CheckpointException(file, "unsupported GGUF version " + Integer.toUnsignedString(version) + " (Corvus reads 2 and 3)");
        long tensorCount = in.i64("tensor count");
        long kvCount = in.i64("metadata count");
        // every tensor info takes at least 24 bytes, every key-value pair at least 13
        if (tensorCount < 0 || tensorCount > in.remaining() / 24) {
            throw new CheckpointException(file, "tensor count " + Long.toUnsignedString(tensorCount) + " cannot fit in the " + in.remaining() + " bytes left");
        }
        if (kvCount < 0 || kvCount > in.remaining() / 13) {
            throw new CheckpointException(file, "metadata count " + Long.toUnsignedString(kvCount) + " cannot fit in the " + in.remaining() + " bytes left");
        }

        Map<String, Object> metadata = new LinkedHashMap<>();
        Map<String, GgufValueType> types = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            long at = in.position();
            String key = readString(in, "key of metadata entry " + i);
            GgufValueType type = valueType(in, "type of metadata \"" + key + "\"");
            Object value = readValue(in, type, key, 0);
            if (metadata.putIfAbsent(key, value) != null) throw new CheckpointException(file, "metadata key \"" + key + "\" at offset " + at + " appears twice");
            types.put(key, type);
        }

        int alignment = DEFAULT_ALIGNMENT;
        if (metadata.containsKey("general.alignment")) {
            Object a = metadata.get("general.alignment");
            if (!(a instanceof Long l) || l <= 0 || l > (1 << 20) || Long.bitCount(l) != 1) {
                throw new CheckpointException(file, "general.alignment is " + a + " (" + types.get("general.alignment") + "), expected a power of two up to 2^20");
            }
            alignment = (int) (long) l;
        }

        List<GgufTensorInfo> infos = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = readString(in, "name of tensor " + i);
            int dims = in.i32("dimension count of tensor \"" + name + "\"");
            if (dims < 1 || dims > MAX_DIMS) throw new CheckpointException(file, "tensor \"" + name + "\" has " + Integer.toUnsignedString(dims) + " dimensions (expected 1.." + MAX_DIMS + ")");
            long[] ne = new long[dims];
            for (int d = 0; d < dims; d++) {
                ne[d] = in.i64("dimension " + d + " of tensor \"" + name + "\"");
                if (ne[d] <= 0 || ne[d] > Integer.MAX_VALUE) {
                    throw new CheckpointException(file, "tensor \"" + name + "\" has dimension " + d + " of size " + Long.toUnsignedString(ne[d]) + " (expected 1.." + Integer.MAX_VALUE + ")");
                }
            }
            int typeId = in.i32("type of tensor \"" + name + "\"");
            GgmlType type = GgmlType.of(typeId);
            if (type == null) throw new CheckpointException(file, "tensor \"" + name + "\" has unknown GGML type id " + Integer.toUnsignedString(typeId));
            long offset = in.i64("data offset of tensor \"" + name + "\"");
            if (ne[0] % type.blockSize() != 0) {
                throw new CheckpointException(file, "tensor \"" + name + "\" of type " + type + " has a first dimension " + ne[0] + " that is not a multiple of its block size " + type.blockSize());
            }
            long numel = 1;
            try {
                for (long d : ne) numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException e) {
                throw new CheckpointException(file, "tensor \"" + name + "\" has more than 2^63 elements");
            }
            long size = numel / type.blockSize() * type.blockBytes();
            if (numel / type.blockSize() > Long.MAX_VALUE / type.blockBytes()) throw new CheckpointException(file, "tensor \"" + name + "\" is larger than 2^63 bytes");
            infos.add(new GgufTensorInfo(name, ne, type, offset, size));
        }

        long dataOffset = alignUp(in.position(), alignment);
        // a file of metadata only (llama.cpp's vocabularies) may end before the padding of an empty data section
        if (tensorCount == 0) dataOffset = Math.min(dataOffset, bytes.byteSize());
        if (dataOffset > bytes.byteSize()) {
            throw new CheckpointException(file, "truncated: the data section should start at offset " + dataOffset + " but the file ends at " + bytes.byteSize());
        }
        long dataBytes = bytes.byteSize() - dataOffset;
        Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
        for (GgufTensorInfo t : infos) {
            if (t.offset() < 0 || t.offset() % alignment != 0) {
                throw new CheckpointException(file, "tensor \"" + t.name() + "\" has data offset " + Long.toUnsignedString(t.offset()) + ", not a multiple of the alignment " + alignment);
            }
            if (t.offset() > dataBytes || t.bytes() > dataBytes - t.offset()) {
                throw new CheckpointException(file, "truncated: tensor \"" + t.name() + "\" (" + t.type() + " " + Arrays.toString(t.ne()) + ", "
                        + t.bytes() + " bytes) needs bytes [" + t.offset() + ", " + (t.offset() + t.bytes()) + ") of the data section, which has " + dataBytes
                        + " (it starts at offset " + dataOffset + ")");
            }
            if (byName.putIfAbsent(t.name(), t) != null) throw new CheckpointException(file, "tensor \"" + t.name() + "\" appears twice");
        }
        return new GgufReader(file, bytes, version, metadata, types, byName, alignment, dataOffset);
    }

    static long alignUp(long offset, long alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    private static GgufValueType valueType(SegmentCursor in, String what) throws CheckpointException {
        long at = in.position();
        int id = in.i32(what);
        GgufValueType type = GgufValueType.of(id);
        if (type == null) throw new CheckpointException(in.file(), what + " at offset " + at + " is " + Integer.toUnsignedString(id) + ", not a GGUF value type (0..12)");
        return type;
    }

    private static String readString(SegmentCursor in, String what) throws CheckpointException {
        long at = in.position();
        long length = in.i64("length of " + what);
        if (length < 0 || length > in.remaining() || length > Integer.MAX_VALUE - 16) {
            throw new CheckpointException(in.file(), what + " at offset " + at + " claims " + Long.toUnsignedString(length)
                    + " bytes, but only " + in.remaining() + " are left");
        }
        return new String(in.bytes(length, what), StandardCharsets.UTF_8);
    }

    private static Object readValue(SegmentCursor in, GgufValueType type, String key, int depth) throws CheckpointException {
        String what = "value of \"" + key + "\"";
        return switch (type) {
            case UINT8 -> (long) (in.u8(what) & 0xFF);
            case INT8 -> (long) in.u8(what);
            case UINT16 -> (long) (in.i16(what) & 0xFFFF);
            case INT16 -> (long) in.i16(what);
            case UINT32 -> in.i32(what) & 0xFFFF_FFFFL;
            case INT32 -> (long) in.i32(what);
            case UINT64, INT64 -> in.i64(what);
            case FLOAT32 -> in.f32(what);
            case FLOAT64 -> in.f64(what);
            case BOOL -> {
                byte b = in.u8(what);
                if (b != 0 && b != 1) throw new CheckpointException(in.file(), "bool " + what + " at offset " + (in.position() - 1) + " is " + b + ", not 0 or 1");
                yield b == 1;
            }
            case STRING -> readString(in, what);
            case ARRAY -> readArray(in, key, depth);
        };
    }

    private static GgufArray readArray(SegmentCursor in, String key, int depth) throws CheckpointException {
        if (depth >= MAX_NESTING) throw new CheckpointException(in.file(), "metadata \"" + key + "\" nests arrays more than " + MAX_NESTING + " deep");
        GgufValueType element = valueType(in, "element type of array \"" + key + "\"");
        long at = in.position();
        long count = in.i64("length of array \"" + key + "\"");
        if (count < 0 || count > in.remaining() / element.minBytes()) {
            throw new CheckpointException(in.file(), "array \"" + key + "\" at offset " + at + " claims " + Long.toUnsignedString(count) + " elements of "
                    + element + ", but only " + in.remaining() + " bytes are left");
        }
        int n = (int) count;
        Object values = switch (element) {
            case FLOAT32 -> {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) v[i] = in.f32("element of \"" + key + "\"");
                yield v;
            }
            case FLOAT64 -> {
                double[] v = new double[n];
                for (int i = 0; i < n; i++) v[i] = in.f64("element of \"" + key + "\"");
                yield v;
            }
            case BOOL -> {
                boolean[] v = new boolean[n];
                for (int i = 0; i < n; i++) v[i] = (Boolean) readValue(in, element, key, depth + 1);
                yield v;
            }
            case STRING -> {
                String[] v = new String[n];
                for (int i = 0; i < n; i++) v[i] = readString(in, "element " + i + " of \"" + key + "\"");
                yield v;
            }
            case ARRAY -> {
                GgufArray[] v = new GgufArray[n];
                for (int i = 0; i < n; i++) v[i] = readArray(in, key, depth + 1);
                yield v;
            }
            default -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = (Long) readValue(in, element, key, depth + 1);
                yield v;
            }
        };
        return new GgufArray(element, values);
    }

    // ---------------------------------------------------------------- header

    public Path file() {
        return file;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    /** Byte offset of the data section in the file. */
    public long dataOffset() {
        return dataOffset;
    }

    // ---------------------------------------------------------------- metadata

    /**
     * All metadata in file order: integers as {@code Long} (unsigned widened), {@code Float},
     * {@code Double}, {@code Boolean}, {@code String}, or {@link GgufArray}.
     */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** The stored type of {@code key}, or null when absent. */
    public GgufValueType type(String key) {
        return types.get(key);
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    private Object require(String key) throws CheckpointException {
        Object v = metadata.get(key);
        if (v == null) throw new CheckpointException(file, "metadata \"" + key + "\" is missing");
        return v;
    }

    private CheckpointException wrongType(String key, String expected) {
        return new CheckpointException(file, "metadata \"" + key + "\" is " + types.get(key) + ", expected " + expected);
    }

    public String getString(String key) throws CheckpointException {
        if (require(key) instanceof String s) return s;
        throw wrongType(key, "a string");
    }

    public long getLong(String key) throws CheckpointException {
        if (require(key) instanceof Long l) return l;
        throw wrongType(key, "an integer");
    }

    /** An integer that must lie in [min, max]. */
    public int getInt(String key, int min, int max) throws CheckpointException {
        long v = getLong(key);
        if (v < min || v > max) throw new CheckpointException(file, "metadata \"" + key + "\" is " + v + ", expected " + min + ".." + max);
        return (int) v;
    }

    public int getInt(String key, int min, int max, int defaultValue) throws CheckpointException {
        return has(key) ? getInt(key, min, max) : defaultValue;
    }

    public float getFloat(String key) throws CheckpointException {
        Object v = require(key);
        if (v instanceof Float f) return f;
        if (v instanceof Double d) return d.floatValue();
        throw wrongType(key, "a float");
    }

    public float getFloat(String key, float defaultValue) throws CheckpointException {
        return has(key) ? getFloat(key) : defaultValue;
    }

    public GgufArray getArray(String key) throws CheckpointException {
        if (require(key) instanceof GgufArray a) return a;
        throw wrongType(key, "an array");
    }

    public String[] getStringArray(String key) throws CheckpointException {
        if (getArray(key).values() instanceof String[] s) return s;
        throw wrongType(key, "an array of strings");
    }

    public float[] getFloatArray(String key) throws CheckpointException {
        GgufArray a = getArray(key);
        if (a.values() instanceof float[] f) return f;
        if (a.values() instanceof double[] d) {
            float[] f = new float[d.length];
            for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
            return f;
        }
        throw wrongType(key, "an array of floats");
    }

    /** An integer array whose values all fit in an int. */
    public int[] getIntArray(String key) throws CheckpointException {
        GgufArray a = getArray(key);
        if (!a.elementType().isInteger()) throw wrongType(key, "an array of integers");
        int[] out = new int[a.length()];
        for (int i = 0; i < out.length; i++) {
            long v = a.longAt(i);
            if (v != (int) v) throw new CheckpointException(file, "metadata \"" + key + "\" element " + i + " is " + v + ", outside the int range");
            out[i] = (int) v;
        }
        return out;
    }

    // ---------------------------------------------------------------- tensors

    /** Tensor infos in file order. */
    public List<GgufTensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    public Optional<GgufTensorInfo> tensor(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** The bytes of a tensor's data. */
    public MemorySegment data(GgufTensorInfo info) {
        return bytes.asSlice(dataOffset + info.offset(), info.bytes());
    }

    /** A zero-copy Corvus tensor over the named tensor's bytes; its memory belongs to {@code scope}. */
    public Tensor load(String name, MemoryScope scope) throws CheckpointException {
        GgufTensorInfo info = tensors.get(name);
        if (info == null) throw new CheckpointException(file, "tensor \"" + name + "\" is missing");
        return load(info, scope);
    }

    public Tensor load(GgufTensorInfo info, MemoryScope scope) throws CheckpointException {
        DType dtype = info.type().dtype();
        if (dtype == null) {
            throw new CheckpointException(file, "tensor \"" + info.name() + "\" is " + info.type() + "; Corvus reads F32, F16, BF16, I32 and " + dev.corvus.tensor.Quants.SUPPORTED + " tensors");
        }
        return Tensor.wrap(Storage.wrap(data(info), scope), dtype, 0, info.shape());
    }
}
