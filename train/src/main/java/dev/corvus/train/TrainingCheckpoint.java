package dev.corvus.train;

import dev.corvus.model.CheckpointException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * A training run's whole state in one file: every parameter's master value, AdamW's moments and
 * step, the trainer's step, the learning-rate schedule, the data position and the data seed, so a
 * run resumed from it continues bit for bit as if it had not stopped. Written atomically
 * ({@link AtomicFile}); read back, a file that is truncated, corrupt (a CRC-32C over everything
 * fails), of another format or version, or of another model or optimiser setting is refused with
 * a {@link CheckpointException} naming the file and what is wrong.
 *
 * <p>Layout, little-endian: magic {@code "CVTRAIN\0"}, u32 version, u32 0, u64 file length; the
 * header (i64 step, i64 optimiser step, i64 epoch, i64 index, i64 seed, f32 β1 β2 ε weight decay,
 * the schedule as a string, u32 parameter count, then per parameter its name, u8 flags (1 weight decay, 2 frozen), u32 rank
 * and u32 dims); then per parameter its value, first and second moments as F32; last a u64 holding
 * the CRC-32C of all bytes before it. Strings are u32 byte length and UTF-8.
 */
public final class TrainingCheckpoint {
    static final byte[] MAGIC = "CVTRAIN\0".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    private static final int PREFIX = 24, TRAILER = 8;
    /** CRC and copies go through pieces of this many bytes (a ByteBuffer holds at most 2 GiB). */
    private static final int PIECE = 1 << 26;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private TrainingCheckpoint() {}

    /**
     * Where the run stood.
     *
     * @param step     optimiser updates done
     * @param position where the data source reads next
     * @param seed     the data source's seed
     * @param schedule the learning-rate schedule's {@code toString()}
     */
    public record State(long step, DataSource.Position position, long seed, String schedule) {}

    /** Decides whether a checkpoint's state may be restored, before anything is; throws to refuse. */
    @FunctionalInterface
    public interface StateCheck {
        void check(State saved) throws CheckpointException;
    }

    /** Writes {@code parameters}, {@code optimizer}'s moments and {@code state} to {@code file}, atomically. */
    public static void save(Path file, Parameters parameters, AdamW optimizer, State state) throws IOException {
        List<Parameter> list = parameters.list();
        Header h = new Header();
        h.buffer.put(MAGIC).putInt(VERSION).putInt(0).putLong(0); // the length is patched in below
        h.buffer.putLong(state.step()).putLong(optimizer.step()).putLong(state.position().epoch()).putLong(state.position().index())
                .putLong(state.seed());
        AdamW.Options o = optimizer.options();
        h.buffer.putFloat(o.beta1()).putFloat(o.beta2()).putFloat(o.eps()).putFloat(o.weightDecay());
        h.string(state.schedule());
        h.buffer.putInt(list.size());
        long data = 0;
        for (Parameter p : list) {
            h.string(p.name());
            h.ensure(5 + 4 * p.shape().length);
            h.buffer.put(flags(p.decay(), p.trainable())).putInt(p.shape().length);
            for (int d : p.shape()) h.buffer.putInt(d);
            data += 3 * 4 * p.numel();
        }
        byte[] header = h.bytes();
        long length = header.length + data + TRAILER;
        ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).putLong(16, length);
        AtomicFile.write(file, out -> {
            CRC32C crc = new CRC32C();
            write(out, MemorySegment.ofArray(header), crc);
            for (int i = 0; i < list.size(); i++) {
                write(out, list.get(i).valueMemory(), crc);
                write(out, UpdateKernels.memory(optimizer.firstMoment(i)), crc);
                write(out, UpdateKernels.memory(optimizer.secondMoment(i)), crc);
            }
            ByteBuffer trailer = ByteBuffer.allocate(TRAILER).order(ByteOrder.LITTLE_ENDIAN).putLong(0, crc.getValue());
            while (trailer.hasRemaining()) out.write(trailer);
        });
    }

    private static void write(FileChannel out, MemorySegment bytes, CRC32C crc) throws IOException {
        for (long at = 0; at < bytes.byteSize(); at += PIECE) {
            ByteBuffer piece = bytes.asSlice(at, Math.min(PIECE, bytes.byteSize() - at)).asByteBuffer();
            crc.update(piece.duplicate());
            while (piece.hasRemaining()) out.write(piece);
        }
    }

    /**
     * Reads {@code file} into {@code parameters} and {@code optimizer} (which must be of the same
     * model, parameter for parameter, and the same AdamW options) and returns where the run stood.
     * Nothing is changed when the file is refused.
     */
    public static State load(Path file, Parameters parameters, AdamW optimizer) throws IOException {
        return load(file, parameters, optimizer, saved -> {});
    }

    /** As {@link #load(Path, Parameters, AdamW)}, with {@code check} deciding on the saved state before anything is restored. */
    public static State load(Path file, Parameters parameters, AdamW optimizer, StateCheck check) throws IOException {
        try (Arena arena = Arena.ofConfined(); FileChannel ch = open(file)) {
            long size = ch.size();
            if (size < PREFIX + TRAILER) {
                throw new CheckpointException(file, "truncated: " + size + " bytes, and a training checkpoint has at least " + (PREFIX + TRAILER));
            }
            MemorySegment s = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            byte[] magic = s.asSlice(0, MAGIC.length).toArray(ValueLayout.JAVA_BYTE);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new CheckpointException(file, "not a Corvus training checkpoint (it starts with "
                        + new String(magic, StandardCharsets.ISO_8859_1).replaceAll("[^ -~]", "?") + ", expected CVTRAIN)");
            }
            int version = s.get(I32, 8);
            if (version != VERSION) throw new CheckpointException(file, "training checkpoint version " + version + "; this Corvus reads version " + VERSION);
            long length = s.get(I64, 16);
            if (length != size) {
                throw new CheckpointException(file, (size < length ? "truncated: " : "has trailing bytes: ") + size + " bytes, but its header says " + length);
            }
            CRC32C crc = new CRC32C();
            for (long at = 0; at < size - TRAILER; at += PIECE) crc.update(s.asSlice(at, Math.min(PIECE, size - TRAILER - at)).asByteBuffer());
            long stored = s.get(I64, size - TRAILER);
            if (stored != crc.getValue()) {
                throw new CheckpointException(file, "corrupt: its CRC-32C is " + Long.toHexString(crc.getValue()) + " but it records "
                        + Long.toHexString(stored) + " (the file was damaged after it was written)");
            }
            return restore(file, s.asSlice(0, size - TRAILER), parameters, optimizer, check);
        } catch (CheckpointException e) {
            throw e;
        } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
            throw new CheckpointException(file, "malformed header: " + e.getMessage(), e);
        }
    }

    private static FileChannel open(Path file) throws IOException {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "no such training checkpoint", e);
        }
    }

    private static State restore(Path file, MemorySegment s, Parameters parameters, AdamW optimizer, StateCheck check) throws CheckpointException {
        Cursor c = new Cursor(s, PREFIX);
        long step = c.i64(), optimizerStep = c.i64(), epoch = c.i64(), index = c.i64(), seed = c.i64();
        AdamW.Options saved = new AdamW.Options(c.f32(), c.f32(), c.f32(), c.f32());
        if (!saved.equals(optimizer.options())) {
            throw new CheckpointException(file, "was written with AdamW " + saved + ", and the optimiser now is " + optimizer.options());
        }
        String schedule = c.string();
        int count = c.i32();
        List<Parameter> list = parameters.list();
        if (count != list.size()) throw new CheckpointException(file, "holds " + count + " parameters, and the model has " + list.size());
        for (Parameter p : list) {
            String name = c.string();
            int flags = c.u8();
            int rank = c.i32();
            if (rank < 0 || rank > 8) throw new CheckpointException(file, "parameter \"" + name + "\" has rank " + rank);
            int[] shape = new int[rank];
            for (int d = 0; d < rank; d++) shape[d] = c.i32();
            if (!name.equals(p.name()) || !Arrays.equals(shape, p.shape()) || flags != flags(p.decay(), p.trainable())) {
                throw new CheckpointException(file, "holds parameter \"" + name + "\" " + Arrays.toString(shape) + describe(flags)
                        + " where the model has \"" + p.name() + "\" " + Arrays.toString(p.shape()) + describe(flags(p.decay(), p.trainable())));
            }
        }
        long data = 0;
        for (Parameter p : list) data += 12 * p.numel();
        if (c.at + data != s.byteSize()) {
            throw new CheckpointException(file, "its tensors take " + (s.byteSize() - c.at) + " bytes, and the parameters need " + data);
        }
        State state = new State(step, new DataSource.Position(epoch, index), seed, schedule);
        check.check(state);
        for (int i = 0; i < list.size(); i++) {
            Parameter p = list.get(i);
            c.copyTo(p.valueMemory());
            c.copyTo(UpdateKernels.memory(optimizer.firstMoment(i)));
            c.copyTo(UpdateKernels.memory(optimizer.secondMoment(i)));
        }
        optimizer.restoreStep(optimizerStep);
        return state;
    }

    /** A parameter's flags byte: bit 0 weight decay, bit 1 frozen. */
    private static byte flags(boolean decay, boolean trainable) {
        return (byte) ((decay ? 1 : 0) | (trainable ? 0 : 2));
    }

    private static String describe(int flags) {
        return ((flags & 1) != 0 ? " with" : " without") + " weight decay" + ((flags & 2) != 0 ? ", frozen" : "");
    }

    /** Reads forward through the header. */
    private static final class Cursor {
        final MemorySegment s;
        long at;

        Cursor(MemorySegment s, long at) {
            this.s = s;
            this.at = at;
        }

        long i64() {
            long v = s.get(I64, at);
            at += 8;
            return v;
        }

        int i32() {
            int v = s.get(I32, at);
            at += 4;
            return v;
        }

        int u8() {
            return s.get(ValueLayout.JAVA_BYTE, at++) & 0xFF;
        }

        float f32() {
            float v = s.get(F32, at);
            at += 4;
            return v;
        }

        String string() {
            int n = i32();
            if (n < 0 || n > s.byteSize() - at) throw new IllegalArgumentException("a string of " + n + " bytes at offset " + (at - 4));
            String v = new String(s.asSlice(at, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            at += n;
            return v;
        }

        void copyTo(MemorySegment dst) {
            MemorySegment.copy(s, at, dst, 0, dst.byteSize());
            at += dst.byteSize();
        }
    }

    /** Little-endian header bytes, growing as needed. */
    private static final class Header {
        ByteBuffer buffer = ByteBuffer.allocate(1 << 12).order(ByteOrder.LITTLE_ENDIAN);

        void string(String v) {
            byte[] b = v.getBytes(StandardCharsets.UTF_8);
            ensure(4 + b.length);
            buffer.putInt(b.length).put(b);
        }

        void ensure(int more) {
            if (buffer.remaining() >= more + 64) return;
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(2 * buffer.capacity(), buffer.position() + more + 64)).order(ByteOrder.LITTLE_ENDIAN);
            buffer.flip();
            bigger.put(buffer);
            buffer = bigger;
        }

        byte[] bytes() {
            return Arrays.copyOf(buffer.array(), buffer.position());
        }
    }
}
