package dev.corvus.vector;

import static dev.corvus.vector.VectorShapes.B;
import static dev.corvus.vector.VectorShapes.BL;
import static dev.corvus.vector.VectorShapes.B_PARTS;
import static dev.corvus.vector.VectorShapes.F;
import static dev.corvus.vector.VectorShapes.FL;
import static dev.corvus.vector.VectorShapes.I;
import static dev.corvus.vector.VectorShapes.S;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.FloatFormats;
import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Copies and dtype conversions: the span kernels (contiguous runs of elements, also used by
 * embedding to decode table rows) and the planner that maps a strided copy onto as few spans as
 * its layout allows.
 *
 * <p>Every conversion is bit-exact with {@link FloatFormats}: BF16 rounds to nearest even with
 * the same integer trick, Q8_0 computes the same float scale, inverse and rounding.
 */
final class Conversions {
    private Conversions() {}

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    /** Q8_0's block: elements and bytes (an fp16 scale and one byte per element), in constants for the kernels. */
    static final int Q8_BLOCK = DType.Q8_0.blockSize();
    static final int Q8_BYTES = DType.Q8_0.blockBytes();

    /** Elements per task of a contiguous conversion: a multiple of every block size and of any FL. */
    private static final int CHUNK = 16 * 1024;
    /** Elements a row-wise task should cover at least, so small tensors run inline. */
    private static final int GRAIN_ELEMENTS = 16 * 1024;

    /** Lane mask for storing FL quantized bytes when B is wider than FL (128-bit machines). */
    private static final VectorMask<Byte> FIRST_FL_BYTES = B.indexInRange(0, FL);

    // ---------------------------------------------------------------- planning

    /** Conversions with a span kernel; anything else goes to the scalar backend. */
    static boolean supported(DType from, DType to) {
        if (from == to) return true;
        if (from == DType.I32 || to == DType.I32) return false;
        if (from.isQuantized() || to.isQuantized()) return (from == DType.F32 && to == DType.Q8_0) || (from.isQuantized() && to == DType.F32);
        return true;
    }

    /** Byte offset of element {@code e} of a contiguous run of {@code t} (block aligned for quantised types). */
    static long byteOffset(DType t, long e) {
        return t.isQuantized() ? e / t.blockSize() * t.blockBytes() : e * t.elementBytes();
    }

    static void copy(Tensor src, Tensor dst) {
        DType from = src.dtype(), to = dst.dtype();
        long n = src.numel();
        if (n == 0) return;
        if (!supported(from, to)) {
            Backends.scalar().copy(src, dst);
            return;
        }
        Layout l = Layout.of(src, dst);
        MemorySegment in = src.segment(), out = dst.segment();
        if (l.dims() == 0 || (l.dims() == 1 && l.srcStride(0) == 1 && l.dstStride(0) == 1)) {
            contiguous(from, in, src.offset(), to, out, dst.offset(), n);
        } else if (l.innerContiguous() && l.blockAligned(from, src.offset(), to, dst.offset())) {
            rows(l, from, in, src.offset(), to, out, dst.offset());
        } else if (from.isQuantized() || to.isQuantized()) {
            // A quantised side whose rows do not line up with blocks: rare enough for the reference loop.
            Backends.scalar().copy(src, dst);
        } else {
            strided(l, from, in, src.offset(), to, out, dst.offset());
        }
    }

    private static void contiguous(DType from, MemorySegment in, long inElem, DType to, MemorySegment out, long outElem, long n) {
        if (from == to) {
            // Plain memory: one bulk copy is as fast as it gets, threads add nothing.
            MemorySegment.copy(in, byteOffset(from, inElem), out, byteOffset(to, outElem), from.byteSize(n));
            return;
        }
        int tasks = Math.toIntExact((n + CHUNK - 1) / CHUNK);
        Parallel.forRange(tasks, 1, (start, end) -> {
            for (int t = start; t < end; t++) {
                long lo = (long) t * CHUNK;
                int count = (int) Math.min(CHUNK, n - lo);
                span(from, in, byteOffset(from, inElem + lo), to, out, byteOffset(to, outElem + lo), count);
            }
        });
    }

    /** Layouts whose last dimension is contiguous on both sides: one span per row. */
    private static void rows(Layout l, DType from, MemorySegment in, long inElem, DType to, MemorySegment out, long outElem) {
        int last = l.dims() - 1;
        int len = l.size(last);
        int rows = Math.toIntExact(l.outerCount());
        Parallel.forRange(rows, Math.max(1, GRAIN_ELEMENTS / len), (start, end) -> {
            Layout.Cursor c = l.cursor(start);
            for (int r = start; r < end; r++, c.next()) {
                span(from, in, byteOffset(from, inElem + c.src), to, out, byteOffset(to, outElem + c.dst), len);
            }
        });
    }

    /** Anything else (transposes, broadcasts along the last dimension): element by element. */
    private static void strided(Layout l, DType from, MemorySegment in, long inElem, DType to, MemorySegment out, long outElem) {
        int last = l.dims() - 1;
        int len = l.size(last);
        long ss = l.srcStride(last), ds = l.dstStride(last);
        int rows = Math.toIntExact(l.outerCount());
        Parallel.forRange(rows, Math.max(1, GRAIN_ELEMENTS / len), (start, end) -> {
            Layout.Cursor c = l.cursor(start);
            for (int r = start; r < end; r++, c.next()) {
                long s = inElem + c.src, d = outElem + c.dst;
                if (from == to) {
                    rawStrided(from.elementBytes(), in, s, ss, out, d, ds, len);
                } else {
                    for (int j = 0; j < len; j++) write(to, out, d + j * ds, read(from, in, s + j * ss));
                }
            }
        });
    }

    private static void rawStrided(int bytes, MemorySegment in, long s, long ss, MemorySegment out, long d, long ds, int len) {
        if (bytes == 4) {
            for (int j = 0; j < len; j++) out.set(I32, 4 * (d + j * ds), in.get(I32, 4 * (s + j * ss)));
        } else {
            for (int j = 0; j < len; j++) out.set(I16, 2 * (d + j * ds), in.get(I16, 2 * (s + j * ss)));
        }
    }

    private static float read(DType t, MemorySegment seg, long e) {
        return switch (t) {
            case F32 -> seg.get(F32, 4 * e);
            case F16 -> Float.float16ToFloat(seg.get(I16, 2 * e));
            case BF16 -> FloatFormats.bf16ToFloat(seg.get(I16, 2 * e));
            default -> throw new IllegalArgumentException("copy: cannot read " + t + " element-wise");
        };
    }

    private static void write(DType t, MemorySegment seg, long e, float v) {
        switch (t) {
            case F32 -> seg.set(F32, 4 * e, v);
            case F16 -> seg.set(I16, 2 * e, Float.floatToFloat16(v));
            case BF16 -> seg.set(I16, 2 * e, FloatFormats.floatToBf16(v));
            default -> throw new IllegalArgumentException("copy: cannot write " + t + " element-wise");
        }
    }

    // ---------------------------------------------------------------- span kernels

    /**
     * Converts {@code count} consecutive elements; offsets in bytes. Quantised spans start on a
     * block and hold whole blocks.
     */
    static void span(DType from, MemorySegment in, long inOff, DType to, MemorySegment out, long outOff, int count) {
        if (from == to) {
            MemorySegment.copy(in, inOff, out, outOff, from.byteSize(count));
            return;
        }
        switch (from) {
            case F32 -> {
                switch (to) {
                    case F16 -> f32ToF16(in, inOff, out, outOff, count);
                    case BF16 -> f32ToBf16(in, inOff, out, outOff, count);
                    case Q8_0 -> quantizeQ8(in, inOff, out, outOff, count);
                    default -> throw unsupported(from, to);
                }
            }
            case F16 -> {
                switch (to) {
                    case F32 -> f16ToF32(in, inOff, out, outOff, count);
                    case BF16 -> {
                        for (int i = 0; i < count; i++) {
                            out.set(I16, outOff + 2L * i, FloatFormats.floatToBf16(Float.float16ToFloat(in.get(I16, inOff + 2L * i))));
                        }
                    }
                    default -> throw unsupported(from, to);
                }
            }
            case BF16 -> {
                switch (to) {
                    case F32 -> bf16ToF32(in, inOff, out, outOff, count);
                    case F16 -> {
                        for (int i = 0; i < count; i++) {
                            out.set(I16, outOff + 2L * i, Float.floatToFloat16(FloatFormats.bf16ToFloat(in.get(I16, inOff + 2L * i))));
                        }
                    }
                    default -> throw unsupported(from, to);
                }
            }
            case Q8_0 -> {
                if (to != DType.F32) throw unsupported(from, to);
                dequantizeQ8(in, inOff, out, outOff, count);
            }
            default -> {
                if (!from.isQuantized() || to != DType.F32) throw unsupported(from, to);
                dequantize(from, in, inOff, out, outOff, count);
            }
        }
    }

    /** Elements decoded at a time by {@link #dequantize}: 16 KiB of floats, a multiple of every block size. */
    private static final int DECODE_RUN = 4096;

    /** Any quantised type to F32 through its block decoder and a small heap buffer. */
    static void dequantize(DType from, MemorySegment in, long inOff, MemorySegment out, long outOff, int count) {
        float[] run = new float[Math.min(count, DECODE_RUN)];
        int bs = from.blockSize();
        for (int done = 0; done < count; done += run.length) {
            int n = Math.min(run.length, count - done);
            QuantDecoders.decode(from, in, inOff + (long) (done / bs) * from.blockBytes(), n / bs, run, 0);
            MemorySegment.copy(run, 0, out, F32, outOff + 4L * done, n);
        }
    }

    private static IllegalArgumentException unsupported(DType from, DType to) {
        return new IllegalArgumentException("copy: no conversion from " + from + " to " + to);
    }

    /*
     * JDK 25's Vector API has no lanewise fp16 conversion (no HF2F among VectorOperators; its
     * Float16 is a scalar type). Float.float16ToFloat / floatToFloat16 are HotSpot intrinsics
     * (F16C / AVX-512 vcvtph2ps) that C2's superword pass vectorises in plain counted loops.
     */
    static void f16ToF32(MemorySegment in, long inOff, MemorySegment out, long outOff, int count) {
        for (int i = 0; i < count; i++) out.set(F32, outOff + 4L * i, Float.float16ToFloat(in.get(I16, inOff + 2L * i)));
    }

    static void f32ToF16(MemorySegment in, long inOff, MemorySegment out, long outOff, int count) {
        for (int i = 0; i < count; i++) out.set(I16, outOff + 2L * i, Float.floatToFloat16(in.get(F32, inOff + 4L * i)));
    }

    /** BF16 is the top half of a float: widen and shift. */
    static void bf16ToF32(MemorySegment in, long inOff, MemorySegment out, long outOff, int count) {
        int i = 0;
        for (int upper = F.loopBound(count); i < upper; i += FL) {
            ShortVector h = ShortVector.fromMemorySegment(S, in, inOff + 2L * i, LE);
            IntVector bits = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16);
            bits.reinterpretAsFloats().intoMemorySegment(out, outOff + 4L * i, LE);
        }
        for (; i < count; i++) out.set(F32, outOff + 4L * i, FloatFormats.bf16ToFloat(in.get(I16, inOff + 2L * i)));
    }

    /** FloatFormats.floatToBf16 lane by lane: add 0x7fff plus the lowest kept bit, keep NaN quiet. */
    static void f32ToBf16(MemorySegment in, long inOff, MemorySegment out, long outOff, int count) {
        int i = 0;
        for (int upper = F.loopBound(count); i < upper; i += FL) {
            IntVector bits = FloatVector.fromMemorySegment(F, in, inOff + 4L * i, LE).reinterpretAsInts();
            IntVector high = bits.lanewise(VectorOperators.LSHR, 16);
            IntVector rounded = bits.add(0x7fff).add(high.and(1)).lanewise(VectorOperators.LSHR, 16);
            VectorMask<Integer> nan = bits.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
            IntVector h = rounded.blend(high.or(0x0040), nan);
            h.convertShape(VectorOperators.I2S, S, 0).intoMemorySegment(out, outOff + 2L * i, LE);
        }
        for (; i < count; i++) out.set(I16, outOff + 2L * i, FloatFormats.floatToBf16(in.get(F32, inOff + 4L * i)));
    }

    /**
     * F32 to Q8_0, block by block, as FloatFormats does it: scale = absmax / 127 stored as fp16,
     * q = round-half-away-from-zero(x * (1 / scale)) clamped to ±127. For |v| + 0.5 >= 0 the
     * truncating F2I equals Math.floor, and F2I follows Java's cast (NaN to 0, saturating).
     */
    static void quantizeQ8(MemorySegment in, long inOff, MemorySegment out, long outOff, int count) {
        for (int b = 0, blocks = count / Q8_BLOCK; b < blocks; b++) {
            long src = inOff + 4L * Q8_BLOCK * b, dst = outOff + (long) Q8_BYTES * b;
            FloatVector amax = FloatVector.zero(F);
            for (int k = 0; k < Q8_BLOCK; k += FL) amax = amax.max(FloatVector.fromMemorySegment(F, in, src + 4L * k, LE).abs());
            float d = FloatFormats.q8Scale(amax.reduceLanes(VectorOperators.MAX));
            float inv = d == 0 ? 0 : 1 / d;
            out.set(I16, dst, FloatFormats.floatToF16(d));
            for (int k = 0; k < Q8_BLOCK; k += FL) {
                FloatVector v = FloatVector.fromMemorySegment(F, in, src + 4L * k, LE).mul(inv);
                // Round half away from zero as roundf does: whole part, plus one where the
                // (exact) fractional part is at least 1/2. Adding 0.5f first would round 0.49999997f up.
                FloatVector a = v.abs();
                IntVector whole = (IntVector) a.convert(VectorOperators.F2I, 0);
                FloatVector fraction = a.sub((FloatVector) whole.convert(VectorOperators.I2F, 0));
                IntVector q = whole.add(1, fraction.compare(VectorOperators.GE, 0.5f).cast(I)).min(127);
                q = q.blend(q.neg(), v.compare(VectorOperators.LT, 0f).cast(I));
                ByteVector bytes = (ByteVector) q.convertShape(VectorOperators.I2B, B, 0);
                if (BL == FL) bytes.intoMemorySegment(out, dst + 2 + k, LE);
                else bytes.intoMemorySegment(out, dst + 2 + k, LE, FIRST_FL_BYTES);
            }
        }
    }

    /** Q8_0 to F32: scale * q, with the same float product as FloatFormats' reader. */
    static void dequantizeQ8(MemorySegment in, long inOff, MemorySegment out, long outOff, int count) {
        for (int b = 0, blocks = count / Q8_BLOCK; b < blocks; b++) {
            long src = inOff + (long) Q8_BYTES * b, dst = outOff + 4L * Q8_BLOCK * b;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(in.get(I16, src)));
            for (int k = 0; k < Q8_BLOCK; k += BL) {
                ByteVector q = ByteVector.fromMemorySegment(B, in, src + 2 + k, LE);
                for (int p = 0; p < B_PARTS; p++) {
                    ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(d).intoMemorySegment(out, dst + 4L * (k + p * FL), LE);
                }
            }
        }
    }

    // ---------------------------------------------------------------- layouts

    /**
     * A copy's shape with size-1 dimensions dropped and neighbours merged wherever both sides
     * are jointly contiguous across them, so a contiguous copy has one dimension and a copy of
     * rows (a slice, a batch of transposes' rows) has a contiguous last one.
     */
    record Layout(int[] sizes, long[] srcStrides, long[] dstStrides) {
        static Layout of(Tensor src, Tensor dst) {
            int[] shape = src.shape();
            long[] ss = src.strides(), ds = dst.strides();
            int[] sz = new int[shape.length];
            long[] s = new long[shape.length], d = new long[shape.length];
            int k = 0;
            for (int i = shape.length - 1; i >= 0; i--) {
                if (shape[i] == 1) continue;
                if (k > 0 && ss[i] == s[k - 1] * sz[k - 1] && ds[i] == d[k - 1] * sz[k - 1]) {
                    sz[k - 1] *= shape[i];
                    continue;
                }
                sz[k] = shape[i];
                s[k] = ss[i];
                d[k] = ds[i];
                k++;
            }
            // Collected innermost first; flip to row-major order.
            int[] rs = new int[k];
            long[] rss = new long[k], rds = new long[k];
            for (int i = 0; i < k; i++) {
                rs[i] = sz[k - 1 - i];
                rss[i] = s[k - 1 - i];
                rds[i] = d[k - 1 - i];
            }
            return new Layout(rs, rss, rds);
        }

        int dims() {
            return sizes.length;
        }

        int size(int d) {
            return sizes[d];
        }

        long srcStride(int d) {
            return srcStrides[d];
        }

        long dstStride(int d) {
            return dstStrides[d];
        }

        boolean innerContiguous() {
            int last = sizes.length - 1;
            return srcStrides[last] == 1 && dstStrides[last] == 1;
        }

        /** For a quantised side: every row starts on a block and holds whole blocks. */
        boolean blockAligned(DType from, long srcOffset, DType to, long dstOffset) {
            return aligned(from, srcOffset, srcStrides) && aligned(to, dstOffset, dstStrides);
        }

        private boolean aligned(DType t, long offset, long[] strides) {
            if (!t.isQuantized()) return true;
            int bs = t.blockSize();
            if (offset % bs != 0 || sizes[sizes.length - 1] % bs != 0) return false;
            for (int i = 0; i < strides.length - 1; i++) if (strides[i] % bs != 0) return false;
            return true;
        }

        /** Rows: the product of all but the last dimension. */
        long outerCount() {
            long n = 1;
            for (int i = 0; i < sizes.length - 1; i++) n *= sizes[i];
            return n;
        }

        Cursor cursor(long row) {
            return new Cursor(this, row);
        }

        /** Walks rows in order, keeping both sides' element offsets of the current row. */
        static final class Cursor {
            private final Layout l;
            private final int[] index;
            long src;
            long dst;

            Cursor(Layout l, long row) {
                this.l = l;
                this.index = new int[Math.max(0, l.dims() - 1)];
                for (int d = index.length - 1; d >= 0; d--) {
                    index[d] = (int) (row % l.sizes[d]);
                    row /= l.sizes[d];
                    src += index[d] * l.srcStrides[d];
                    dst += index[d] * l.dstStrides[d];
                }
            }

            void next() {
                for (int d = index.length - 1; d >= 0; d--) {
                    src += l.srcStrides[d];
                    dst += l.dstStrides[d];
                    if (++index[d] < l.sizes[d]) return;
                    src -= (long) index[d] * l.srcStrides[d];
                    dst -= (long) index[d] * l.dstStrides[d];
                    index[d] = 0;
                }
            }
        }
    }
}
