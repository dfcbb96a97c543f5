package dev.corvus.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The reference decoder of GGUF's quantised blocks: one formula per type giving element i of a
 * block, written from the block layout (gguf-py's quants.py and ggml's dequantize_row_* are the
 * specification). Every product and sum is a separate float operation in the order those
 * references use, without fused multiply-adds, so results match them bit for bit; the vector
 * decoders are held to this class bit for bit.
 *
 * <p>Block layouts (byte offsets; "fp16" is IEEE half, little-endian like everything in GGUF):
 * <pre>
 * Q8_0  34 B: d fp16 @0, 32 x int8 @2                          x = d * q
 * Q4_0  18 B: d @0, 16 B nibbles @2                            x = d * (q - 8)
 * Q4_1  20 B: d @0, m @2, 16 B nibbles @4                      x = d * q + m
 * Q5_0  22 B: d @0, u32 high bits @2, 16 B nibbles @6          x = d * (q - 16)
 * Q5_1  24 B: d @0, m @2, u32 high bits @4, 16 B nibbles @8    x = d * q + m
 * Q2_K  84 B: 16 B scales (lo 4 bits scale, hi 4 min) @0, 64 B 2-bit @16, d @80, dmin @82
 * Q3_K 110 B: 32 B high-bit mask @0, 64 B 2-bit @32, 12 B 6-bit scales @96, d @108
 * Q4_K 144 B: d @0, dmin @2, 12 B 6-bit scales and mins @4, 128 B nibbles @16
 * Q5_K 176 B: d @0, dmin @2, 12 B scales and mins @4, 32 B high bits @16, 128 B nibbles @48
 * Q6_K 210 B: 128 B low nibbles @0, 64 B 2-bit highs @128, 16 x int8 scales @192, d @208
 * </pre>
 * In the 32-element types element i &lt; 16 is the low nibble of nibble byte i, element i + 16
 * its high nibble, and bit i of the u32 is element i's fifth bit. The K-quants' bit planes are
 * described at {@link #value}.
 *
 * <p>Internal: public only for other Corvus modules; not supported API, may change in any release.
 */
public final class Quants {
    private Quants() {}

    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** The quantised types, in the order error messages list them. */
    public static final String SUPPORTED = "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K";

    /**
     * Element {@code i} (0 &lt;= i &lt; blockSize) of the {@code t} block starting at byte
     * {@code block} of {@code seg}.
     *
     * <p>K-quant element i decomposes as i = 128 h + 32 j + l (h &lt; 2, j &lt; 4, l &lt; 32):
     * <ul>
     * <li>Q2_K: q = bits 2j..2j+1 of 2-bit byte 32h + l; group i / 16: x = (d * sc) * q - (dmin * m).
     * <li>Q3_K: as Q2_K for the low two bits, minus 4 unless bit (4h + j) of mask byte l is set;
     *     group i / 16 has scale s - 32: x = (d * (s - 32)) * q.
     * <li>Q4_K: q = nibble (j odd ? high : low) of byte 32 (2h + j / 2) + l; group i / 32:
     *     x = (d * sc) * q - (dmin * m).
     * <li>Q5_K: as Q4_K plus bit (i / 32) of high-bit byte l as the fifth bit.
     * <li>Q6_K: low nibble (j &lt; 2 ? low : high) of byte 64h + 32 (j % 2) + l, high two bits
     *     2j..2j+1 of byte 32h + l, q - 32; group i / 16: x = (d * sc) * (q - 32).
     * </ul>
     */
    public static float value(DType t, MemorySegment seg, long block, int i) {
        return switch (t) {
            case Q8_0 -> half(seg, block) * seg.get(BYTE, block + 2 + i);
            case Q4_0 -> half(seg, block) * (nibble(seg, block + 2, i) - 8);
            case Q4_1 -> half(seg, block) * nibble(seg, block + 4, i) + half(seg, block + 2);
            case Q5_0 -> half(seg, block) * ((nibble(seg, block + 6, i) | fifthBit(seg, block + 2, i)) - 16);
            case Q5_1 -> half(seg, block) * (nibble(seg, block + 8, i) | fifthBit(seg, block + 4, i)) + half(seg, block + 2);
            case Q2_K -> {
                int sc = unsigned(seg, block + i / 16);
                int q = (unsigned(seg, block + 16 + 32 * (i / 128) + i % 32) >>> (2 * (i / 32 % 4))) & 3;
                float dl = half(seg, block + 80) * (sc & 0xF);
                float ml = half(seg, block + 82) * (sc >>> 4);
                yield dl * q - ml;
            }
            case Q3_K -> {
                int low = (unsigned(seg, block + 32 + 32 * (i / 128) + i % 32) >>> (2 * (i / 32 % 4))) & 3;
                int high = (unsigned(seg, block + i % 32) >>> (i / 32)) & 1;
                float dl = half(seg, block + 108) * (q3Scale(seg, block + 96, i / 16) - 32);
                yield dl * (low - (high == 0 ? 4 : 0));
            }
            case Q4_K -> {
                int group = i / 32;
                int q = (unsigned(seg, block + 16 + 32 * (i / 64) + i % 32) >>> (4 * (group % 2))) & 0xF;
                float d = half(seg, block) * kScale(seg, block + 4, group);
                float m = half(seg, block + 2) * kMin(seg, block + 4, group);
                yield d * q - m;
            }
            case Q5_K -> {
                int group = i / 32;
                int q = (unsigned(seg, block + 48 + 32 * (i / 64) + i % 32) >>> (4 * (group % 2))) & 0xF;
                q |= ((unsigned(seg, block + 16 + i % 32) >>> group) & 1) << 4;
                float d = half(seg, block) * kScale(seg, block + 4, group);
                float m = half(seg, block + 2) * kMin(seg, block + 4, group);
                yield d * q - m;
            }
            case Q6_K -> {
                int h = i / 128, j = i / 32 % 4, l = i % 32;
                int low = (unsigned(seg, block + 64 * h + 32 * (j % 2) + l) >>> (4 * (j / 2))) & 0xF;
                int high = (unsigned(seg, block + 128 + 32 * h + l) >>> (2 * j)) & 3;
                float d = half(seg, block + 208) * seg.get(BYTE, block + 192 + i / 16);
                yield d * ((low | high << 4) - 32);
            }
            default -> throw new IllegalArgumentException(t + " is not a quantised type (" + SUPPORTED + ")");
        };
    }

    /**
     * Dequantises {@code blocks} consecutive blocks starting at byte {@code offset} into
     * {@code dst[dstOffset ..]}, blockSize values per block.
     */
    public static void dequantize(DType t, MemorySegment seg, long offset, int blocks, float[] dst, int dstOffset) {
        requireQuantized("dequantize", t);
        int bs = t.blockSize();
        for (int b = 0; b < blocks; b++) {
            long block = offset + (long) b * t.blockBytes();
            for (int i = 0; i < bs; i++) dst[dstOffset + b * bs + i] = value(t, seg, block, i);
        }
    }

    /** Byte offsets, within a block, of its fp16 scales (d, and dmin or m where the type has one). */
    public static int[] scaleOffsets(DType t) {
        return switch (t) {
            case Q8_0, Q4_0, Q5_0 -> new int[] {0};
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q6_K -> new int[] {208};
            default -> throw new IllegalArgumentException(t + " is not a quantised type (" + SUPPORTED + ")");
        };
    }

    /**
     * The index of the first of {@code blocks} blocks from byte {@code offset} whose fp16 scale
     * (d, dmin or m) is NaN or infinite, or -1 when all are finite. Loaders refuse such tensors:
     * one NaN scale turns every product it touches into NaN.
     */
    public static long findNonFiniteScale(DType t, MemorySegment seg, long offset, long blocks) {
        int[] scales = scaleOffsets(t);
        if (offset < 0 || blocks < 0 || blocks > (seg.byteSize() - offset) / t.blockBytes()) {
            throw new IllegalArgumentException("findNonFiniteScale: " + blocks + " " + t + " blocks of " + t.blockBytes()
                    + " bytes from offset " + offset + " do not fit a segment of " + seg.byteSize() + " bytes");
        }
        for (long b = 0; b < blocks; b++) {
            long block = offset + b * t.blockBytes();
            // fp16 with all exponent bits set is Inf or NaN.
            for (int s : scales) if ((seg.get(HALF, block + s) & 0x7c00) == 0x7c00) return b;
        }
        return -1;
    }

    static void requireQuantized(String op, DType t) {
        if (!t.isQuantized()) throw new IllegalArgumentException(op + ": " + t + " is not a quantised type (" + SUPPORTED + ")");
    }

    // ---------------------------------------------------------------- field readers

    private static float half(MemorySegment seg, long at) {
        return Float.float16ToFloat(seg.get(HALF, at));
    }

    private static int unsigned(MemorySegment seg, long at) {
        return seg.get(BYTE, at) & 0xFF;
    }

    /** Element i of 32 packed two per byte over 16 bytes: low nibbles first, then high. */
    private static int nibble(MemorySegment seg, long at, int i) {
        return (unsigned(seg, at + i % 16) >>> (4 * (i / 16))) & 0xF;
    }

    /** Bit i of the little-endian u32 at {@code at}, as the value 16 or 0. */
    private static int fifthBit(MemorySegment seg, long at, int i) {
        return ((seg.get(U32, at) >>> i) & 1) << 4;
    }

    /**
     * Q3_K's 6-bit scale g (0..15) from 12 bytes: the low four bits are nibble (g / 8) of byte
     * g % 8, the high two bits are bits 2 (g / 4) .. of byte 8 + g % 4.
     */
    public static int q3Scale(MemorySegment seg, long at, int g) {
        int low = (unsigned(seg, at + g % 8) >>> (4 * (g / 8))) & 0xF;
        int high = (unsigned(seg, at + 8 + g % 4) >>> (2 * (g / 4))) & 3;
        return low | high << 4;
    }

    /**
     * Q4_K/Q5_K 6-bit scale of group g (0..7) from 12 bytes S: S[g] &amp; 63 for g &lt; 4, else
     * the low nibble of S[g + 4] with the top two bits of S[g - 4] above it.
     */
    public static int kScale(MemorySegment seg, long at, int g) {
        return g < 4 ? unsigned(seg, at + g) & 63 : (unsigned(seg, at + g + 4) & 0xF) | (unsigned(seg, at + g - 4) >>> 6) << 4;
    }

    /** The matching minimum: S[g + 4] &amp; 63 for g &lt; 4, else the high nibble of S[g + 4] with the top two bits of S[g]. */
    public static int kMin(MemorySegment seg, long at, int g) {
        return g < 4 ? unsigned(seg, at + g + 4) & 63 : (unsigned(seg, at + g + 4) >>> 4) | (unsigned(seg, at + g) >>> 6) << 4;
    }
}
