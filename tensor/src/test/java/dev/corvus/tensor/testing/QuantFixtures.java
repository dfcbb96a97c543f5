package dev.corvus.tensor.testing;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Quants;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Quantised test data for every module: the gguf-py fixtures written by scripts/quant-fixtures.py
 * (raw blocks plus the floats quants.py dequantises them to), and random weight tensors with
 * finite, moderate scales for differential tests.
 */
public final class QuantFixtures {
    private QuantFixtures() {}

    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Every quantised dtype. */
    public static Stream<DType> quantTypes() {
        return Stream.of(DType.values()).filter(DType::isQuantized);
    }

    /** One fixture: {@code blocks} blocks of raw bytes and the float32 values gguf-py decodes them to. */
    public record Fixture(DType dtype, int blocks, MemorySegment bytes, float[] expected) {}

    public static Fixture load(DType dtype) {
        String name = "/quants/" + dtype + ".bin";
        try (InputStream in = QuantFixtures.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing test resource " + name + "; run scripts/quant-fixtures.py");
            byte[] all = in.readAllBytes();
            int perBlock = dtype.blockBytes() + 4 * dtype.blockSize();
            if (all.length % perBlock != 0) {
                throw new IllegalStateException(name + " has " + all.length + " bytes, not a multiple of " + perBlock);
            }
            int blocks = all.length / perBlock;
            MemorySegment whole = MemorySegment.ofArray(all);
            long blockBytes = (long) blocks * dtype.blockBytes();
            float[] expected = new float[blocks * dtype.blockSize()];
            MemorySegment.copy(whole, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), blockBytes, expected, 0, expected.length);
            // A copy in off-heap memory: what a mapped GGUF file looks like to the kernels.
            MemorySegment bytes = java.lang.foreign.Arena.ofAuto().allocate(blockBytes);
            MemorySegment.copy(whole, 0, bytes, 0, blockBytes);
            return new Fixture(dtype, blocks, bytes, expected);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A [rows, cols] tensor of {@code dtype} in the current scope: random quant bits, and fp16
     * scales of either sign between 0.002 and 0.02 (minimums likewise), so values stay near 1.
     */
    public static Tensor randomWeights(DType dtype, long seed, int rows, int cols) {
        Tensor t = Tensor.zeros(dtype, rows, cols);
        MemorySegment seg = t.segment();
        long bytes = dtype.byteSize(t.numel());
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < bytes; i++) seg.set(ValueLayout.JAVA_BYTE, t.byteOffset() + i, (byte) r.nextInt(256));
        int[] scales = Quants.scaleOffsets(dtype);
        for (long b = 0; b < bytes / dtype.blockBytes(); b++) {
            for (int s : scales) {
                float v = (float) ((r.nextBoolean() ? 1 : -1) * (0.002 + 0.018 * r.nextDouble()));
                seg.set(HALF, t.byteOffset() + b * dtype.blockBytes() + s, Float.floatToFloat16(v));
            }
        }
        return t;
    }
}
