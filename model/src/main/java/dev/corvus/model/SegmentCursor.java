package dev.corvus.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * Reads little-endian values from a file's bytes, checking every read against the end: running
 * off it is a {@link CheckpointException} naming the file, the offset and what was being read.
 *
 * <p>Internal: public only for the {@code gguf} and {@code tokenizer} packages; not supported API,
 * may change in any release.
 */
public final class SegmentCursor {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final MemorySegment bytes;
    private long position;

    public SegmentCursor(Path file, MemorySegment bytes) {
        this.file = file;
        this.bytes = bytes;
    }

    public Path file() {
        return file;
    }

    public long position() {
        return position;
    }

    public long size() {
        return bytes.byteSize();
    }

    public long remaining() {
        return bytes.byteSize() - position;
    }

    /** Fails unless {@code n} more bytes are there. */
    public void need(long n, String what) throws CheckpointException {
        if (n < 0 || n > remaining()) {
            throw new CheckpointException(file, "truncated: " + what + " needs " + n + " bytes at offset " + position
                    + " but the file ends at " + bytes.byteSize());
        }
    }

    public void skip(long n, String what) throws CheckpointException {
        need(n, what);
        position += n;
    }

    public void seek(long offset) {
        position = offset;
    }

    public byte u8(String what) throws CheckpointException {
        need(1, what);
        return bytes.get(ValueLayout.JAVA_BYTE, position++);
    }

    public short i16(String what) throws CheckpointException {
        need(2, what);
        short v = bytes.get(I16, position);
        position += 2;
        return v;
    }

    public int i32(String what) throws CheckpointException {
        need(4, what);
        int v = bytes.get(I32, position);
        position += 4;
        return v;
    }

    public long i64(String what) throws CheckpointException {
        need(8, what);
        long v = bytes.get(I64, position);
        position += 8;
        return v;
    }

    public float f32(String what) throws CheckpointException {
        need(4, what);
        float v = bytes.get(F32, position);
        position += 4;
        return v;
    }

    public double f64(String what) throws CheckpointException {
        need(8, what);
        double v = bytes.get(F64, position);
        position += 8;
        return v;
    }

    public byte[] bytes(long n, String what) throws CheckpointException {
        need(n, what);
        byte[] out = bytes.asSlice(position, n).toArray(ValueLayout.JAVA_BYTE);
        position += n;
        return out;
    }
}
