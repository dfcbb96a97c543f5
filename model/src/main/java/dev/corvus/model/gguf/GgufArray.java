package dev.corvus.model.gguf;

import java.lang.reflect.Array;

/**
 * A GGUF metadata array. {@code values} is a Java array: {@code long[]} for every integer
 * element type (unsigned values widened; {@code int[]} is also accepted when writing),
 * {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]}, or
 * {@code GgufArray[]} for nested arrays.
 */
public record GgufArray(GgufValueType elementType, Object values) {
    public GgufArray {
        Class<?> c = values.getClass();
        boolean ok = switch (elementType) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> c == long[].class || c == int[].class;
            case FLOAT32 -> c == float[].class;
            case FLOAT64 -> c == double[].class;
            case BOOL -> c == boolean[].class;
            case STRING -> c == String[].class;
            case ARRAY -> c == GgufArray[].class;
        };
        if (!ok) throw new IllegalArgumentException("GGUF array of " + elementType + " cannot hold a " + c.getSimpleName());
    }

    public int length() {
        return Array.getLength(values);
    }

    /** Element {@code i} widened to long (integer arrays only). */
    public long longAt(int i) {
        return values instanceof int[] ints ? ints[i] : ((long[]) values)[i];
    }
}
