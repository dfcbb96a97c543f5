package dev.corvus.model.tokenizer;

/**
 * An open-addressing map from non-negative long keys to int values. Gemma 4's half a million
 * BPE merges as a {@code HashMap<Long, Integer>} would cost some 50 MB of boxes; this costs 12
 * bytes a slot.
 */
final class LongIntMap {
    private final long[] keys;
    private final int[] values;
    private final int mask;

    LongIntMap(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected) * 2 - 1) << 1;
        keys = new long[capacity];
        values = new int[capacity];
        mask = capacity - 1;
        java.util.Arrays.fill(keys, -1);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        int i = (int) (h ^ (h >>> 32)) & mask;
        while (keys[i] != -1 && keys[i] != key) i = (i + 1) & mask;
        return i;
    }

    /** Stores {@code value} unless {@code key} already has one; returns whether it was stored. */
    boolean putIfAbsent(long key, int value) {
        int i = slot(key);
        if (keys[i] == key) return false;
        keys[i] = key;
        values[i] = value;
        return true;
    }

    /** The value of {@code key}, or -1. */
    int get(long key) {
        int i = slot(key);
        return keys[i] == key ? values[i] : -1;
    }
}
