package dev.corvus.vector;

import static dev.corvus.vector.VectorShapes.B;
import static dev.corvus.vector.VectorShapes.BL;
import static dev.corvus.vector.VectorShapes.B_PARTS;
import static dev.corvus.vector.VectorShapes.F;
import static dev.corvus.vector.VectorShapes.FL;
import static dev.corvus.vector.VectorShapes.I;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Quants;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Vector decoders of GGUF's quantised blocks (Q8_0 lives in {@link Gemm} and
 * {@link Conversions}): whole blocks into a float array, bit for bit what {@link Quants}
 * computes. Bit fields are unpacked in byte lanes (one load of BL packed bytes, shifts and masks
 * per plane), widened to floats, and scaled with the same separate multiply and add or subtract
 * as the reference, never a fused multiply-add, so the result is exact rather than close.
 *
 * <p>One small static method per dtype, each compiled with its own profile (see
 * {@code Gemm.decodeRun}). The unpacking walks 16-byte runs in steps of BL, so it needs BL to
 * divide 16; wider machines (1024-bit SVE and up) take the scalar reference instead.
 */
final class QuantDecoders {
    private QuantDecoders() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final boolean VECTORISED = 16 % BL == 0;

    /** Decodes {@code blocks} blocks of {@code t} from byte {@code block} into {@code dst[at ..]}. */
    static void decode(DType t, MemorySegment w, long block, int blocks, float[] dst, int at) {
        if (!VECTORISED) {
            Quants.dequantize(t, w, block, blocks, dst, at);
            return;
        }
        switch (t) {
            case Q4_0 -> q4_0(w, block, blocks, dst, at);
            case Q4_1 -> q4_1(w, block, blocks, dst, at);
            case Q5_0 -> q5_0(w, block, blocks, dst, at);
            case Q5_1 -> q5_1(w, block, blocks, dst, at);
            case Q8_0 -> q8_0(w, block, blocks, dst, at);
            case Q2_K -> q2_K(w, block, blocks, dst, at);
            case Q3_K -> q3_K(w, block, blocks, dst, at);
            case Q4_K -> q4_K(w, block, blocks, dst, at);
            case Q5_K -> q5_K(w, block, blocks, dst, at);
            case Q6_K -> q6_K(w, block, blocks, dst, at);
            default -> throw new IllegalArgumentException("decode: " + t + " is not a quantised type (" + Quants.SUPPORTED + ")");
        }
    }

    // ---------------------------------------------------------------- 32-element blocks

    static void q8_0(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 34, at += 32) {
            FloatVector d = FloatVector.broadcast(F, half(w, block));
            for (int j = 0; j < 32; j += BL) {
                ByteVector q = bytes(w, block + 2 + j);
                for (int p = 0; p < B_PARTS; p++) widen(q, p).mul(d).intoArray(dst, at + j + p * FL);
            }
        }
    }

    static void q4_0(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 18, at += 32) {
            FloatVector d = FloatVector.broadcast(F, half(w, block));
            for (int j = 0; j < 16; j += BL) {
                ByteVector q = bytes(w, block + 2 + j);
                ByteVector lo = q.and((byte) 0xF).sub((byte) 8);
                ByteVector hi = q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8);
                for (int p = 0; p < B_PARTS; p++) {
                    widen(lo, p).mul(d).intoArray(dst, at + j + p * FL);
                    widen(hi, p).mul(d).intoArray(dst, at + 16 + j + p * FL);
                }
            }
        }
    }

    static void q4_1(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 20, at += 32) {
            FloatVector d = FloatVector.broadcast(F, half(w, block));
            FloatVector m = FloatVector.broadcast(F, half(w, block + 2));
            for (int j = 0; j < 16; j += BL) {
                ByteVector q = bytes(w, block + 4 + j);
                ByteVector lo = q.and((byte) 0xF);
                ByteVector hi = q.lanewise(VectorOperators.LSHR, 4);
                for (int p = 0; p < B_PARTS; p++) {
                    widen(lo, p).mul(d).add(m).intoArray(dst, at + j + p * FL);
                    widen(hi, p).mul(d).add(m).intoArray(dst, at + 16 + j + p * FL);
                }
            }
        }
    }

    /*
     * Q5: the fifth bits sit one per element in a u32, so they are unpacked in int lanes
     * (broadcast, shift each lane by its element index) and joined to the nibbles there.
     */

    static void q5_0(MemorySegment w, long block, int blocks, float[] dst, int at) {
        IntVector lane = IntVector.zero(I).addIndex(1);
        for (int b = 0; b < blocks; b++, block += 22, at += 32) {
            FloatVector d = FloatVector.broadcast(F, half(w, block));
            IntVector qh = IntVector.broadcast(I, w.get(U32, block + 2));
            for (int j = 0; j < 16; j += BL) {
                ByteVector q = bytes(w, block + 6 + j);
                for (int p = 0; p < B_PARTS; p++) {
                    int e = j + p * FL;
                    IntVector nibbles = (IntVector) q.convertShape(VectorOperators.B2I, I, p);
                    IntVector lo = nibbles.and(0xF).or(fifthBits(qh, lane, e)).sub(16);
                    IntVector hi = nibbles.lanewise(VectorOperators.ASHR, 4).and(0xF).or(fifthBits(qh, lane, e + 16)).sub(16);
                    toFloat(lo).mul(d).intoArray(dst, at + e);
                    toFloat(hi).mul(d).intoArray(dst, at + 16 + e);
                }
            }
        }
    }

    static void q5_1(MemorySegment w, long block, int blocks, float[] dst, int at) {
        IntVector lane = IntVector.zero(I).addIndex(1);
        for (int b = 0; b < blocks; b++, block += 24, at += 32) {
            FloatVector d = FloatVector.broadcast(F, half(w, block));
            FloatVector m = FloatVector.broadcast(F, half(w, block + 2));
            IntVector qh = IntVector.broadcast(I, w.get(U32, block + 4));
            for (int j = 0; j < 16; j += BL) {
                ByteVector q = bytes(w, block + 8 + j);
                for (int p = 0; p < B_PARTS; p++) {
                    int e = j + p * FL;
                    IntVector nibbles = (IntVector) q.convertShape(VectorOperators.B2I, I, p);
                    IntVector lo = nibbles.and(0xF).or(fifthBits(qh, lane, e));
                    IntVector hi = nibbles.lanewise(VectorOperators.ASHR, 4).and(0xF).or(fifthBits(qh, lane, e + 16));
                    toFloat(lo).mul(d).add(m).intoArray(dst, at + e);
                    toFloat(hi).mul(d).add(m).intoArray(dst, at + 16 + e);
                }
            }
        }
    }

    /** 16 where bit (first + lane) of qh is set, else 0. */
    private static IntVector fifthBits(IntVector qh, IntVector lane, int first) {
        return qh.lanewise(VectorOperators.LSHR, lane.add(first)).and(1).lanewise(VectorOperators.LSHL, 4);
    }

    // ---------------------------------------------------------------- 256-element K-quants

    /** Element 128 h + 32 j + l: bits 2j.. of byte 32h + l; group (scale, min) every 16 elements. */
    static void q2_K(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 84, at += 256) {
            float d = half(w, block + 80), dmin = half(w, block + 82);
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l += BL) {
                    ByteVector qs = bytes(w, block + 16 + 32 * h + l);
                    for (int j = 0; j < 4; j++) {
                        int e = 128 * h + 32 * j + l;
                        int sc = w.get(ValueLayout.JAVA_BYTE, block + e / 16) & 0xFF;
                        FloatVector dl = FloatVector.broadcast(F, d * (sc & 0xF));
                        FloatVector ml = FloatVector.broadcast(F, dmin * (sc >>> 4));
                        ByteVector q = qs.lanewise(VectorOperators.LSHR, 2 * j).and((byte) 3);
                        for (int p = 0; p < B_PARTS; p++) widen(q, p).mul(dl).sub(ml).intoArray(dst, at + e + p * FL);
                    }
                }
            }
        }
    }

    /** As Q2_K, minus 4 where the element's mask bit (4h + j of byte l) is clear; 6-bit signed scales. */
    static void q3_K(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 110, at += 256) {
            float d = half(w, block + 108);
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l += BL) {
                    ByteVector qs = bytes(w, block + 32 + 32 * h + l);
                    ByteVector mask = bytes(w, block + l);
                    for (int j = 0; j < 4; j++) {
                        int e = 128 * h + 32 * j + l;
                        FloatVector dl = FloatVector.broadcast(F, d * (Quants.q3Scale(w, block + 96, e / 16) - 32));
                        ByteVector minus4 = mask.lanewise(VectorOperators.LSHR, 4 * h + j).and((byte) 1).lanewise(VectorOperators.XOR, (byte) 1)
                                .lanewise(VectorOperators.LSHL, 2);
                        ByteVector q = qs.lanewise(VectorOperators.LSHR, 2 * j).and((byte) 3).sub(minus4);
                        for (int p = 0; p < B_PARTS; p++) widen(q, p).mul(dl).intoArray(dst, at + e + p * FL);
                    }
                }
            }
        }
    }

    /** Group g of 32: nibble (g odd ? high : low) of bytes 32 (g / 2) ..; 6-bit scale and min. */
    static void q4_K(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 144, at += 256) {
            float d = half(w, block), dmin = half(w, block + 2);
            for (int g = 0; g < 8; g++) {
                FloatVector dl = FloatVector.broadcast(F, d * Quants.kScale(w, block + 4, g));
                FloatVector ml = FloatVector.broadcast(F, dmin * Quants.kMin(w, block + 4, g));
                for (int l = 0; l < 32; l += BL) {
                    ByteVector q = bytes(w, block + 16 + 32 * (g / 2) + l).lanewise(VectorOperators.LSHR, 4 * (g % 2)).and((byte) 0xF);
                    for (int p = 0; p < B_PARTS; p++) widen(q, p).mul(dl).sub(ml).intoArray(dst, at + 32 * g + l + p * FL);
                }
            }
        }
    }

    /** As Q4_K, with bit g of high-bit byte l as the fifth bit. */
    static void q5_K(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 176, at += 256) {
            float d = half(w, block), dmin = half(w, block + 2);
            for (int g = 0; g < 8; g++) {
                FloatVector dl = FloatVector.broadcast(F, d * Quants.kScale(w, block + 4, g));
                FloatVector ml = FloatVector.broadcast(F, dmin * Quants.kMin(w, block + 4, g));
                for (int l = 0; l < 32; l += BL) {
                    ByteVector lo = bytes(w, block + 48 + 32 * (g / 2) + l).lanewise(VectorOperators.LSHR, 4 * (g % 2)).and((byte) 0xF);
                    ByteVector hi = bytes(w, block + 16 + l).lanewise(VectorOperators.LSHR, g).and((byte) 1).lanewise(VectorOperators.LSHL, 4);
                    ByteVector q = lo.or(hi);
                    for (int p = 0; p < B_PARTS; p++) widen(q, p).mul(dl).sub(ml).intoArray(dst, at + 32 * g + l + p * FL);
                }
            }
        }
    }

    /** Element 128 h + 32 j + l: a nibble of byte 64h + 32 (j % 2) + l, two bits of byte 128 + 32h + l. */
    static void q6_K(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 210, at += 256) {
            float d = half(w, block + 208);
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l += BL) {
                    ByteVector highs = bytes(w, block + 128 + 32 * h + l);
                    for (int j = 0; j < 4; j++) {
                        int e = 128 * h + 32 * j + l;
                        FloatVector dl = FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, block + 192 + e / 16));
                        ByteVector lo = bytes(w, block + 64 * h + 32 * (j % 2) + l).lanewise(VectorOperators.LSHR, 4 * (j / 2)).and((byte) 0xF);
                        ByteVector hi = highs.lanewise(VectorOperators.LSHR, 2 * j).and((byte) 3).lanewise(VectorOperators.LSHL, 4);
                        ByteVector q = lo.or(hi).sub((byte) 32);
                        for (int p = 0; p < B_PARTS; p++) widen(q, p).mul(dl).intoArray(dst, at + e + p * FL);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- helpers (inlined)

    private static float half(MemorySegment w, long at) {
        return Float.float16ToFloat(w.get(HALF, at));
    }

    private static ByteVector bytes(MemorySegment w, long at) {
        return ByteVector.fromMemorySegment(B, w, at, LE);
    }

    /** Part p (FL lanes) of signed byte lanes as floats. */
    private static FloatVector widen(ByteVector q, int p) {
        return (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
    }

    private static FloatVector toFloat(IntVector q) {
        return (FloatVector) q.convert(VectorOperators.I2F, 0);
    }
}
