package dev.corvus.model.gguf;

import dev.corvus.tensor.DType;

/**
 * GGML tensor types as GGUF numbers them, with their block layout. Corvus computes on F32, F16,
 * BF16, I32 and the quantised Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K as stored; the others are
 * recognised (so a file's sizes can be checked and errors can name them) but not loaded.
 */
public enum GgmlType {
    F32(0, 1, 4, DType.F32), F16(1, 1, 2, DType.F16), Q4_0(2, 32, 18, DType.Q4_0), Q4_1(3, 32, 20, DType.Q4_1),
    Q5_0(6, 32, 22, DType.Q5_0), Q5_1(7, 32, 24, DType.Q5_1), Q8_0(8, 32, 34, DType.Q8_0), Q8_1(9, 32, 36),
    Q2_K(10, 256, 84, DType.Q2_K), Q3_K(11, 256, 110, DType.Q3_K), Q4_K(12, 256, 144, DType.Q4_K), Q5_K(13, 256, 176, DType.Q5_K),
    Q6_K(14, 256, 210, DType.Q6_K), Q8_K(15, 256, 292), IQ2_XXS(16, 256, 66), IQ2_XS(17, 256, 74), IQ3_XXS(18, 256, 98), IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18), IQ3_S(21, 256, 110), IQ2_S(22, 256, 82), IQ4_XS(23, 256, 136), I8(24, 1, 1), I16(25, 1, 2),
    I32(26, 1, 4, DType.I32), I64(27, 1, 8), F64(28, 1, 8), IQ1_M(29, 256, 56), BF16(30, 1, 2, DType.BF16), TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66), MXFP4(39, 32, 17);

    private final int id;
    private final int blockSize;
    private final int blockBytes;
    private final DType dtype;

    GgmlType(int id, int blockSize, int blockBytes) {
        this(id, blockSize, blockBytes, null);
    }

    GgmlType(int id, int blockSize, int blockBytes, DType dtype) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.dtype = dtype;
    }

    public int id() {
        return id;
    }

    public int blockSize() {
        return blockSize;
    }

    public int blockBytes() {
        return blockBytes;
    }

    /** The Corvus dtype, or null when Corvus cannot compute with this type. */
    public DType dtype() {
        return dtype;
    }

    /** The type with GGUF id {@code id}, or null. */
    public static GgmlType of(int id) {
        for (GgmlType t : values()) if (t.id == id) return t;
        return null;
    }

    /** The GGML type of a Corvus dtype. */
    public static GgmlType of(DType dtype) {
        for (GgmlType t : values()) if (t.dtype == dtype) return t;
        throw new IllegalArgumentException("GGUF has no type for " + dtype);
    }
}
