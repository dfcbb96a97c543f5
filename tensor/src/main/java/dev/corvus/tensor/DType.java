package dev.corvus.tensor;

/**
 * Element types. The quantised types follow GGUF's block layouts byte for byte (see
 * {@link Quants}), so a mapped GGUF file is computed on as stored: each block holds
 * {@link #blockSize()} values in {@link #blockBytes()} bytes, and a quantised tensor's last
 * dimension must be a multiple of the block size (32, or 256 for the K-quants).
 */
public enum DType {
    F32(4, 1),
    F16(2, 1),
    BF16(2, 1),
    I32(4, 1),
    /** 32 int8 values and one fp16 scale. */
    Q8_0(34, 32),
    /** 32 4-bit values (q - 8) and an fp16 scale. */
    Q4_0(18, 32),
    /** 32 4-bit values, an fp16 scale and an fp16 minimum. */
    Q4_1(20, 32),
    /** 32 5-bit values (q - 16) and an fp16 scale. */
    Q5_0(22, 32),
    /** 32 5-bit values, an fp16 scale and an fp16 minimum. */
    Q5_1(24, 32),
    /** 256 2-bit values in 16 groups with 4-bit scales and minimums, fp16 super-scales. */
    Q2_K(84, 256),
    /** 256 3-bit values in 16 groups with 6-bit signed scales, one fp16 super-scale. */
    Q3_K(110, 256),
    /** 256 4-bit values in 8 groups with 6-bit scales and minimums, fp16 super-scales. */
    Q4_K(144, 256),
    /** 256 5-bit values in 8 groups with 6-bit scales and minimums, fp16 super-scales. */
    Q5_K(176, 256),
    /** 256 6-bit values (q - 32) in 16 groups with int8 scales, one fp16 super-scale. */
    Q6_K(210, 256);

    /** Bytes per block, and elements per block (1 for the plain types). */
    private final int blockBytes;
    private final int blockSize;

    DType(int blockBytes, int blockSize) {
        this.blockBytes = blockBytes;
        this.blockSize = blockSize;
    }

    public int blockBytes() {
        return blockBytes;
    }

    public int blockSize() {
        return blockSize;
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** F32, F16 and BF16: the types arithmetic ops accept (others are converted or rejected). */
    public boolean isFloatingPoint() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** Bytes of one element; only for unquantized types. */
    public int elementBytes() {
        if (isQuantized()) {
            throw new IllegalStateException(this + " has no per-element size (blocks of " + blockSize + ")");
        }
        return blockBytes;
    }

    /** Bytes needed for {@code numel} elements. */
    public long byteSize(long numel) {
        if (numel % blockSize != 0) {
            throw new IllegalArgumentException(this + " needs a multiple of " + blockSize + " elements, got " + numel);
        }
        return numel / blockSize * blockBytes;
    }
}
