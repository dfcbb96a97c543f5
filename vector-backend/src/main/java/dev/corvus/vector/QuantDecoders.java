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
 * Vector decoders of GGUF's quantised blocks: whole blocks into a float array, bit for bit what
 * {@link Quants} computes. Bit fields are unpacked from one load of BL packed bytes per plane,
 * widened to floats, and scaled with the same separate multiply and add or subtract as the
 * reference, never a fused multiply-add, so the result is exact rather than close.
 *
 * <p>Shifts run on the packed bytes viewed as int lanes, masked per byte afterwards (the bits
 * that cross a byte boundary are the ones the mask drops): x86 has no byte-lane shift, and C2's
 * widen-shift-narrow emulation of one decoded Q6_K at 3.2 Gweights/s on one AVX-512 core and
 * Q5_K at 3.8, against 4.9 and 5.6 with int-lane shifts (measured on one thread).
 *
 * <p>Decode, not memory, bounds the GEMV: y = W x for a 4096 x 4096 W on two threads of a busy
 * 2-core AVX-512 machine ran at 7.6 (Q4_0), 8.1 (Q4_K), 7.0 (Q6_K), 5.4 (Q3_K, Q5_K), 9.3 (Q2_K),
 * 7.7 (Q8_0) and 10 (F16) Gweights/s, best of several hundred calls. GEMVs of quantised weights
 * now take integer dot products instead ({@link QuantDots}); these decoders serve the packed GEMM
 * and the exact float-activation path.
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
        for (int b = 0; b < blocks; b++, block += Conversions.Q8_BYTES, at += Conversions.Q8_BLOCK) {
            FloatVector d = FloatVector.broadcast(F, half(w, block));
            for (int j = 0; j < Conversions.Q8_BLOCK; j += BL) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, block + 2 + j, LE);
                for (int p = 0; p < B_PARTS; p++) ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(d).intoArray(dst, at + j + p * FL);
            }
        }
    }

    static void q4_0(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 18, at += 32) {
            FloatVector d = FloatVector.broadcast(F, half(w, block));
            for (int j = 0; j < 16; j += BL) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, block + 2 + j, LE);
                ByteVector lo = q.and((byte) 0xF).sub((byte) 8);
                ByteVector hi = q.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F).reinterpretAsBytes().sub((byte) 8);
                for (int p = 0; p < B_PARTS; p++) {
                    ((FloatVector) lo.convertShape(VectorOperators.B2F, F, p)).mul(d).intoArray(dst, at + j + p * FL);
                    ((FloatVector) hi.convertShape(VectorOperators.B2F, F, p)).mul(d).intoArray(dst, at + 16 + j + p * FL);
                }
            }
        }
    }

    static void q4_1(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 20, at += 32) {
            FloatVector d = FloatVector.broadcast(F, half(w, block));
            FloatVector m = FloatVector.broadcast(F, half(w, block + 2));
            for (int j = 0; j < 16; j += BL) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, block + 4 + j, LE);
                ByteVector lo = q.and((byte) 0xF);
                ByteVector hi = q.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F).reinterpretAsBytes();
                for (int p = 0; p < B_PARTS; p++) {
                    ((FloatVector) lo.convertShape(VectorOperators.B2F, F, p)).mul(d).add(m).intoArray(dst, at + j + p * FL);
                    ((FloatVector) hi.convertShape(VectorOperators.B2F, F, p)).mul(d).add(m).intoArray(dst, at + 16 + j + p * FL);
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
                ByteVector q = ByteVector.fromMemorySegment(B, w, block + 6 + j, LE);
                for (int p = 0; p < B_PARTS; p++) {
                    int e = j + p * FL;
                    IntVector nibbles = (IntVector) q.convertShape(VectorOperators.B2I, I, p);
                    IntVector lo = nibbles.and(0xF).or(qh.lanewise(VectorOperators.LSHR, lane.add(e)).and(0x1).lanewise(VectorOperators.LSHL, 4)).sub(16);
                    IntVector hi = nibbles.lanewise(VectorOperators.ASHR, 4).and(0xF).or(qh.lanewise(VectorOperators.LSHR, lane.add(e + 16)).and(0x1).lanewise(VectorOperators.LSHL, 4)).sub(16);
                    ((FloatVector) lo.convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, at + e);
                    ((FloatVector) hi.convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, at + 16 + e);
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
                ByteVector q = ByteVector.fromMemorySegment(B, w, block + 8 + j, LE);
                for (int p = 0; p < B_PARTS; p++) {
                    int e = j + p * FL;
                    IntVector nibbles = (IntVector) q.convertShape(VectorOperators.B2I, I, p);
                    IntVector lo = nibbles.and(0xF).or(qh.lanewise(VectorOperators.LSHR, lane.add(e)).and(0x1).lanewise(VectorOperators.LSHL, 4));
                    IntVector hi = nibbles.lanewise(VectorOperators.ASHR, 4).and(0xF).or(qh.lanewise(VectorOperators.LSHR, lane.add(e + 16)).and(0x1).lanewise(VectorOperators.LSHL, 4));
                    ((FloatVector) lo.convert(VectorOperators.I2F, 0)).mul(d).add(m).intoArray(dst, at + e);
                    ((FloatVector) hi.convert(VectorOperators.I2F, 0)).mul(d).add(m).intoArray(dst, at + 16 + e);
                }
            }
        }
    }

    // ---------------------------------------------------------------- 256-element K-quants

    /** Element 128 h + 32 j + l: bits 2j.. of byte 32h + l; group (scale, min) every 16 elements. */
    static void q2_K(MemorySegment w, long block, int blocks, float[] dst, int at) {
        for (int b = 0; b < blocks; b++, block += 84, at += 256) {
            float d = half(w, block + 80), dmin = half(w, block + 82);
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l += BL) {
                    ByteVector qs = ByteVector.fromMemorySegment(B, w, block + 16 + 32 * h + l, LE);
                    for (int j = 0; j < 4; j++) {
                        int e = 128 * h + 32 * j + l;
                        int sc = w.get(ValueLayout.JAVA_BYTE, block + e / 16) & 0xFF;
                        FloatVector dl = FloatVector.broadcast(F, d * (sc & 0xF));
                        FloatVector ml = FloatVector.broadcast(F, dmin * (sc >>> 4));
                        ByteVector q = qs.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2 * j).and(0x03030303).reinterpretAsBytes();
                        for (int p = 0; p < B_PARTS; p++) ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(dl).sub(ml).intoArray(dst, at + e + p * FL);
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
                    ByteVector qs = ByteVector.fromMemorySegment(B, w, block + 32 + 32 * h + l, LE);
                    ByteVector mask = ByteVector.fromMemorySegment(B, w, block + l, LE);
                    for (int j = 0; j < 4; j++) {
                        int e = 128 * h + 32 * j + l;
                        FloatVector dl = FloatVector.broadcast(F, d * (Quants.q3Scale(w, block + 96, e / 16) - 32));
                        ByteVector minus4 = mask.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4 * h + j).and(0x01010101)
                                .lanewise(VectorOperators.XOR, 0x01010101).lanewise(VectorOperators.LSHL, 2).reinterpretAsBytes();
                        ByteVector q = qs.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2 * j).and(0x03030303).reinterpretAsBytes().sub(minus4);
                        for (int p = 0; p < B_PARTS; p++) ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(dl).intoArray(dst, at + e + p * FL);
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
                    ByteVector q = ByteVector.fromMemorySegment(B, w, block + 16 + 32 * (g / 2) + l, LE).reinterpretAsInts().lanewise(VectorOperators.LSHR, 4 * (g % 2)).and(0x0F0F0F0F).reinterpretAsBytes();
                    for (int p = 0; p < B_PARTS; p++) ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(dl).sub(ml).intoArray(dst, at + 32 * g + l + p * FL);
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
                    ByteVector lo = ByteVector.fromMemorySegment(B, w, block + 48 + 32 * (g / 2) + l, LE).reinterpretAsInts().lanewise(VectorOperators.LSHR, 4 * (g % 2)).and(0x0F0F0F0F).reinterpretAsBytes();
                    ByteVector hi = ByteVector.fromMemorySegment(B, w, block + 16 + l, LE).reinterpretAsInts()
                            .lanewise(VectorOperators.LSHR, g).and(0x01010101).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes();
                    ByteVector q = lo.or(hi);
                    for (int p = 0; p < B_PARTS; p++) ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(dl).sub(ml).intoArray(dst, at + 32 * g + l + p * FL);
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
                    ByteVector highs = ByteVector.fromMemorySegment(B, w, block + 128 + 32 * h + l, LE);
                    for (int j = 0; j < 4; j++) {
                        int e = 128 * h + 32 * j + l;
                        FloatVector dl = FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, block + 192 + e / 16));
                        ByteVector lo = ByteVector.fromMemorySegment(B, w, block + 64 * h + 32 * (j % 2) + l, LE).reinterpretAsInts().lanewise(VectorOperators.LSHR, 4 * (j / 2)).and(0x0F0F0F0F).reinterpretAsBytes();
                        ByteVector hi = highs.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2 * j).and(0x03030303).lanewise(VectorOperators.LSHL, 4).reinterpretAsBytes();
                        ByteVector q = lo.or(hi).sub((byte) 32);
                        for (int p = 0; p < B_PARTS; p++) ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(dl).intoArray(dst, at + e + p * FL);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- scalar helpers
    // No helper takes or returns a vector: one that C2 declines to inline (its budget runs out
    // once several dtypes have run through Gemm) would box every vector it passes.

    private static float half(MemorySegment w, long at) {
        return Float.float16ToFloat(w.get(HALF, at));
    }

}
