package dev.corvus.model.gguf;

/** Types of GGUF metadata values, with their ids in the file. */
public enum GgufValueType {
    UINT8(0, 1), INT8(1, 1), UINT16(2, 2), INT16(3, 2), UINT32(4, 4), INT32(5, 4), FLOAT32(6, 4), BOOL(7, 1),
    STRING(8, 8), ARRAY(9, 12), UINT64(10, 8), INT64(11, 8), FLOAT64(12, 8);

    private final int id;
    private final int minBytes;

    GgufValueType(int id, int minBytes) {
        this.id = id;
        this.minBytes = minBytes;
    }

    public int id() {
        return id;
    }

    /** The fewest bytes a value of this type takes (a string or array can take more). */
    int minBytes() {
        return minBytes;
    }

    public boolean isInteger() {
        return this == UINT8 || this == INT8 || this == UINT16 || this == INT16 || this == UINT32 || this == INT32 || this == UINT64 || this == INT64;
    }

    /** The type with id {@code id}, or null. */
    public static GgufValueType of(int id) {
        return id >= 0 && id < VALUES.length ? VALUES[id] : null;
    }

    private static final GgufValueType[] VALUES = values();
}
