package dev.corvus.tensor;

/**
 * Element types. Q8_0 follows the GGUF layout: blocks of 32 int8 values, each block led by one
 * fp16 scale (34 bytes per block); a Q8_0 tensor's last dimension must be a multiple of 32.
 */
public enum DType {
    F32(4, 1),
    F16(2, 1),
    BF16(2, 1),
    I32(4, 1),
    Q8_0(34, 32);

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
