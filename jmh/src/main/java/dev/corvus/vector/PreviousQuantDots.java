package dev.corvus.vector;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Benchmark-only copy of {@code QuantDots}' GEMV before its latest single-row kernels: Q8_0 as at
 * commit 98836fc (rows in pairs, blocks one a pass, three-operation pair sums per 16 lanes),
 * Q4_0 at 512 bits, Q4_K and Q6_K as at 8cb7643; several rows take the staged path
 * ({@code QuantDots.stagedRows}, unchanged). The same-run baseline of {@code GemvBenchmark}'s
 * {@code backend=vector-previous}; not product code.
 */
public final class PreviousQuantDots {
    private PreviousQuantDots() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final VectorSpecies<Short> S = QuantDots.S;
    private static final int SL = QuantDots.SL;
    private static final VectorSpecies<Float> F = QuantDots.F;
    private static final VectorSpecies<Integer> SI = QuantDots.SI;
    private static final VectorMask<Float> SECOND_GROUP = F.indexInRange(-F.length() / 2, F.length() / 2);

    /** Public entry for the benchmark: x is m rows of k floats, W quantised rows of rowBytes. */
    public static void gemv(int m, int n, int k, float[] x, DType t,
            MemorySegment w, long wOffset, long rowBytes, MemorySegment c, long cOffset, long ldc) {
        QuantDots.Activations a = QuantDots.quantise(x, m, k);
        int grain = Math.max(1, (int) ((1L << 20) / ((long) m * k)));
        boolean fused = m == 1 && (t == DType.Q8_0 || t == DType.Q4_K || t == DType.Q6_K || (t == DType.Q4_0 && SL == 32));
        Parallel.forRange(n, grain, (j0, j1) -> {
            float[] sums = new float[Math.max(m, 2)];
            int j = j0;
            if (fused && t == DType.Q8_0) {
                for (; j + 1 < j1; j += 2) {
                    rowsQ8_0Two(w, wOffset + j * rowBytes, rowBytes, k / 32, a.q(), a.d(), sums);
                    c.set(FLOAT, cOffset + 4L * j, sums[0]);
                    c.set(FLOAT, cOffset + 4L * (j + 1), sums[1]);
                }
            }
            for (; j < j1; j++) {
                long row = wOffset + j * rowBytes;
                if (fused && (t != DType.Q4_0 || row + rowBytes + 16 <= w.byteSize())) {
                    sums[0] = switch (t) {
                        case Q8_0 -> rowQ8_0(w, row, k / 32, a.q(), a.d());
                        case Q4_0 -> rowQ4_0(w, row, k / 32, a.q(), a.d());
                        case Q4_K -> rowQ4_K(w, row, k / 256, a.q(), a.d(), a.sum32());
                        default -> rowQ6_K(w, row, k / 256, a.q(), a.d());
                    };
                } else {
                    QuantDots.stagedRows(t, w, row, a, sums);
                }
                for (int i = 0; i < m; i++) c.set(FLOAT, cOffset + 4 * (i * ldc + j), sums[i]);
            }
        });
    }

    private static float half(MemorySegment w, long at) {
        return Float.float16ToFloat(w.get(HALF, at));
    }

    /** Bytes of SL lanes, widened to the dot species. */
    private static final VectorSpecies<Byte> SB = VectorSpecies.of(byte.class, VectorShape.forBitSize(SL * 8));

    static float rowQ8_0(MemorySegment w, long row, int blocks, short[] x, float[] d) {
        FloatVector acc = FloatVector.zero(F), other = acc;
        for (int b = 0; b < blocks; b++) {
            long block = row + 34L * b;
            int at = 32 * b;
            IntVector s = pairSums(bytes(w, block + 2), ShortVector.fromArray(S, x, at));
            for (int l = SL; l < 32; l += SL) s = s.add(pairSums(bytes(w, block + 2 + l), ShortVector.fromArray(S, x, at + l)));
            FloatVector next = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, half(w, block) * d[b]), other);
            other = acc;
            acc = next;
        }
        return acc.add(other).reduceLanes(VectorOperators.ADD);
    }

    static void rowsQ8_0Two(MemorySegment w, long row0, long rowBytes, int blocks, short[] x, float[] d, float[] sums) {
        long row1 = row0 + rowBytes;
        FloatVector acc0 = FloatVector.zero(F), other0 = acc0, acc1 = acc0, other1 = acc0;
        for (int b = 0; b < blocks; b++) {
            long block0 = row0 + 34L * b, block1 = row1 + 34L * b;
            int at = 32 * b;
            ShortVector xv = ShortVector.fromArray(S, x, at);
            IntVector s0 = pairSums(bytes(w, block0 + 2), xv), s1 = pairSums(bytes(w, block1 + 2), xv);
            for (int l = SL; l < 32; l += SL) {
                xv = ShortVector.fromArray(S, x, at + l);
                s0 = s0.add(pairSums(bytes(w, block0 + 2 + l), xv));
                s1 = s1.add(pairSums(bytes(w, block1 + 2 + l), xv));
            }
            float db = d[b];
            FloatVector next0 = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, half(w, block0) * db), other0);
            FloatVector next1 = ((FloatVector) s1.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, half(w, block1) * db), other1);
            other0 = acc0;
            acc0 = next0;
            other1 = acc1;
            acc1 = next1;
        }
        sums[0] = acc0.add(other0).reduceLanes(VectorOperators.ADD);
        sums[1] = acc1.add(other1).reduceLanes(VectorOperators.ADD);
    }

    private static ShortVector bytes(MemorySegment w, long at) {
        return (ShortVector) ByteVector.fromMemorySegment(SB, w, at, LE).convertShape(VectorOperators.B2S, S, 0);
    }

    private static IntVector pairSums(ShortVector q, ShortVector x) {
        IntVector p = q.mul(x).reinterpretAsInts();
        return p.add(p.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
    }

    /** Duplicates the low 16 lanes (a Q4_0 block's 16 bytes) into the high 16. */
    private static final VectorShuffle<Short> LOW_TWICE = VectorShuffle.fromOp(S, i -> i % 16);
    /** Shift counts: 0 for the low nibbles (elements 0-15), 4 for the high ones (16-31). */
    private static final ShortVector NIBBLE_SHIFT = ShortVector.zero(S).addIndex(1).lanewise(VectorOperators.ASHR, 4).lanewise(VectorOperators.LSHL, 2);

    /**
     * Needs 512-bit vectors and 16 readable bytes past the row: the 32-byte load from a block's
     * 16 quant bytes reads on into the next block, and those lanes are replaced by the permute.
     */
    static float rowQ4_0(MemorySegment w, long row, int blocks, short[] x, float[] d) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int b = 0; b < blocks; b++) {
            long block = row + 18L * b;
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(SB, w, block + 2, LE).convertShape(VectorOperators.B2S, S, 0);
            ShortVector q = v.rearrange(LOW_TWICE).lanewise(VectorOperators.ASHR, NIBBLE_SHIFT).and((short) 0xF).sub((short) 8);
            IntVector p = q.mul(ShortVector.fromArray(S, x, 32 * b)).reinterpretAsInts();
            IntVector s = p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16));
            FloatVector f = (FloatVector) s.convert(VectorOperators.I2F, 0);
            FloatVector sd = FloatVector.broadcast(F, half(w, block) * d[b]);
            if ((b & 1) == 0) acc0 = f.fma(sd, acc0);
            else acc1 = f.fma(sd, acc1);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    static float rowQ4_K(MemorySegment w, long row, int blocks, short[] x, float[] d, float[] sum32) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        float mins = 0;
        for (int b = 0; b < blocks; b++) {
            long block = row + 144L * b;
            float dw = half(w, block), dmin = half(w, block + 2);
            // The twelve 6-bit scale and min bytes as two words: per-byte segment reads (what
            // Quants.kScale does) cost more than the group's vector work.
            long lo = w.get(U64, block + 4);
            int hi = w.get(U32, block + 12);
            for (int g = 0; g < 8; g++) {
                int e = 256 * b + 32 * g;
                int g4 = 8 * (g & 3);
                int sc = g < 4 ? (int) (lo >>> g4) & 63 : (hi >>> g4) & 0xF | ((int) (lo >>> (g4 + 6)) & 3) << 4;
                int mn = g < 4 ? (int) (lo >>> (32 + g4)) & 63 : (hi >>> (g4 + 4)) & 0xF | ((int) (lo >>> (38 + g4)) & 3) << 4;
                IntVector s = IntVector.zero(SI);
                for (int l = 0; l < 32; l += SL) {
                    ShortVector q = ((ShortVector) ByteVector.fromMemorySegment(SB, w, block + 16 + 32 * (g / 2) + l, LE).convertShape(VectorOperators.B2S, S, 0))
                            .lanewise(VectorOperators.ASHR, 4 * (g & 1)).and((short) 0xF);
                    IntVector p = q.mul(ShortVector.fromArray(S, x, e + l)).reinterpretAsInts();
                    s = s.add(p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(p.lanewise(VectorOperators.ASHR, 16));
                }
                FloatVector f = (FloatVector) s.convert(VectorOperators.I2F, 0);
                FloatVector sd = FloatVector.broadcast(F, dw * sc * d[e / 32]);
                if ((g & 1) == 0) acc0 = f.fma(sd, acc0);
                else acc1 = f.fma(sd, acc1);
                mins += dmin * mn * sum32[e / 32];
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - mins;
    }

    static float rowQ6_K(MemorySegment w, long row, int blocks, short[] x, float[] d) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int b = 0; b < blocks; b++) {
            long block = row + 210L * b;
            float dw = half(w, block + 208);
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    int e = 128 * h + 32 * j;
                    float dx = dw * d[8 * b + e / 32];
                    for (int l = 0; l < 32; l += SL) {
                        ShortVector low = ((ShortVector) ByteVector.fromMemorySegment(SB, w, block + 64 * h + 32 * (j & 1) + l, LE).convertShape(VectorOperators.B2S, S, 0))
                                .lanewise(VectorOperators.ASHR, 4 * (j >> 1)).and((short) 0xF);
                        ShortVector high = ((ShortVector) ByteVector.fromMemorySegment(SB, w, block + 128 + 32 * h + l, LE).convertShape(VectorOperators.B2S, S, 0))
                                .lanewise(VectorOperators.ASHR, 2 * j).and((short) 3).lanewise(VectorOperators.LSHL, 4);
                        ShortVector q = low.or(high).sub((short) 32);
                        IntVector p = q.mul(ShortVector.fromArray(S, x, 256 * b + e + l)).reinterpretAsInts();
                        IntVector s = p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16));
                        int sc = (e + l) / 16;
                        FloatVector sd = FloatVector.broadcast(F, dx * w.get(ValueLayout.JAVA_BYTE, block + 192 + sc));
                        if (SL == 32) sd = sd.blend(dx * w.get(ValueLayout.JAVA_BYTE, block + 193 + sc), SECOND_GROUP);
                        FloatVector f = (FloatVector) s.convert(VectorOperators.I2F, 0);
                        if ((j & 1) == 0) acc0 = f.fma(sd, acc0);
                        else acc1 = f.fma(sd, acc1);
                    }
                }
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }
}
