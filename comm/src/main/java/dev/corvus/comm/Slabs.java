package dev.corvus.comm;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.FloatFormats;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Byte-level moves between contiguous tensors and message buffers. A contiguous tensor is seen as
 * [outer, size(dim), inner] around one dimension; a slab [start, start + len) along that dimension
 * is {@code outer} runs of {@code len * inner} elements.
 */
final class Slabs {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    /** Elements summed per block, so reductions need only small heap buffers. */
    private static final int BLOCK = 4096;

    private Slabs() {}

    static long outer(int[] shape, int dim) {
        long n = 1;
        for (int i = 0; i < dim; i++) n *= shape[i];
        return n;
    }

    static long inner(int[] shape, int dim) {
        long n = 1;
        for (int i = dim + 1; i < shape.length; i++) n *= shape[i];
        return n;
    }

    /** A fresh heap buffer of {@code bytes}, for a message. */
    static MemorySegment buffer(String op, long bytes) {
        if (bytes > Integer.MAX_VALUE - 64) {
            throw new CommException(op + ": a message of " + bytes + " bytes exceeds the in-JVM communicator's 2 GiB limit; split the tensor");
        }
        return MemorySegment.ofArray(new byte[(int) bytes]);
    }

    /** A copy of a whole contiguous tensor's bytes. */
    static MemorySegment copyAll(String op, Tensor t) {
        long bytes = t.dtype().byteSize(t.numel());
        MemorySegment buf = buffer(op, bytes);
        MemorySegment.copy(t.segment(), t.byteOffset(), buf, 0, bytes);
        return buf;
    }

    /** A copy of the slab [start, start + len) along {@code dim} of contiguous {@code t}. */
    static MemorySegment pack(String op, Tensor t, int dim, int start, int len) {
        MemorySegment buf = buffer(op, slabBytes(t, dim, len));
        packInto(t, dim, start, len, buf, 0);
        return buf;
    }

    /** Bytes of a slab of {@code len} along {@code dim} of {@code t}. */
    static long slabBytes(Tensor t, int dim, int len) {
        int[] shape = t.shape();
        return outer(shape, dim) * t.dtype().byteSize(len * inner(shape, dim));
    }

    /** Copies the slab [start, start + len) along {@code dim} of contiguous {@code t} to {@code dst} at {@code dstOffset}. */
    static void packInto(Tensor t, int dim, int start, int len, MemorySegment dst, long dstOffset) {
        int[] shape = t.shape();
        DType dt = t.dtype();
        long outer = outer(shape, dim), inner = inner(shape, dim);
        long run = dt.byteSize(len * inner);
        long rowBytes = dt.byteSize(shape[dim] * inner);
        long first = dt.byteSize(start * inner);
        MemorySegment src = t.segment();
        long base = t.byteOffset();
        if (outer == 1 || run == rowBytes) {
            MemorySegment.copy(src, base + first, dst, dstOffset, outer * run);
        } else {
            for (long o = 0; o < outer; o++) MemorySegment.copy(src, base + o * rowBytes + first, dst, dstOffset + o * run, run);
        }
    }

    /** F16 or BF16 elements widened to F32: {@code n} elements from {@code src} at {@code srcOffset} to {@code dst} at 0. */
    static void widen(DType dt, MemorySegment src, long srcOffset, MemorySegment dst, long n) {
        boolean f16 = dt == DType.F16;
        for (long i = 0; i < n; i++) {
            short h = src.get(I16, srcOffset + 2 * i);
            dst.setAtIndex(F32, i, f16 ? FloatFormats.f16ToFloat(h) : FloatFormats.bf16ToFloat(h));
        }
    }

    /** F32 elements rounded once to F16 or BF16: {@code n} elements from {@code src} at 0 to {@code dst} at {@code dstOffset}. */
    static void narrow(DType dt, MemorySegment src, MemorySegment dst, long dstOffset, long n) {
        boolean f16 = dt == DType.F16;
        for (long i = 0; i < n; i++) {
            float f = src.getAtIndex(F32, i);
            dst.set(I16, dstOffset + 2 * i, f16 ? FloatFormats.floatToF16(f) : FloatFormats.floatToBf16(f));
        }
    }

    /**
     * Writes a packed slab (shape: {@code out}'s with size {@code len} along {@code dim}) from
     * {@code src} at {@code srcOffset} into [start, start + len) along {@code dim} of contiguous {@code out}.
     */
    static void unpack(MemorySegment src, long srcOffset, Tensor out, int dim, int start, int len) {
        int[] shape = out.shape();
        DType dt = out.dtype();
        long outer = outer(shape, dim), inner = inner(shape, dim);
        long run = dt.byteSize(len * inner);
        long rowBytes = dt.byteSize(shape[dim] * inner);
        long first = dt.byteSize(start * inner);
        MemorySegment dst = out.segment();
        long base = out.byteOffset();
        if (outer == 1 || run == rowBytes) {
            MemorySegment.copy(src, srcOffset, dst, base + first, outer * run);
        } else {
            for (long o = 0; o < outer; o++) MemorySegment.copy(src, srcOffset + o * run, dst, base + o * rowBytes + first, run);
        }
    }

    /** Whether {@link #sumInto} handles the type. */
    static boolean summable(DType dt) {
        return dt == DType.F32 || dt == DType.F16 || dt == DType.BF16 || dt == DType.I32;
    }

    /**
     * dst[i] = parts[0][i] + parts[1][i] + ... in list order (the rank order), for {@code n}
     * elements. F16/BF16 are summed in F32 and rounded once; I32 wraps on overflow. The fixed order
     * makes the result bitwise reproducible.
     */
    static void sumInto(List<MemorySegment> parts, DType dt, long n, MemorySegment dst, long dstOffset) {
        if (dt == DType.I32) {
            int[] acc = new int[(int) Math.min(BLOCK, n)];
            int[] tmp = new int[acc.length];
            for (long at = 0; at < n; at += BLOCK) {
                int len = (int) Math.min(BLOCK, n - at);
                MemorySegment.copy(parts.get(0), I32, at * 4, acc, 0, len);
                for (int p = 1; p < parts.size(); p++) {
                    MemorySegment.copy(parts.get(p), I32, at * 4, tmp, 0, len);
                    for (int i = 0; i < len; i++) acc[i] += tmp[i];
                }
                MemorySegment.copy(acc, 0, dst, I32, dstOffset + at * 4, len);
            }
            return;
        }
        float[] acc = new float[(int) Math.min(BLOCK, n)];
        float[] tmp = new float[acc.length];
        short[] half = dt == DType.F32 ? null : new short[acc.length];
        long eb = dt.elementBytes();
        for (long at = 0; at < n; at += BLOCK) {
            int len = (int) Math.min(BLOCK, n - at);
            read(parts.get(0), dt, at * eb, acc, half, len);
            for (int p = 1; p < parts.size(); p++) {
                read(parts.get(p), dt, at * eb, tmp, half, len);
                for (int i = 0; i < len; i++) acc[i] += tmp[i];
            }
            if (dt == DType.F32) {
                MemorySegment.copy(acc, 0, dst, F32, dstOffset + at * 4, len);
            } else {
                boolean f16 = dt == DType.F16;
                for (int i = 0; i < len; i++) half[i] = f16 ? FloatFormats.floatToF16(acc[i]) : FloatFormats.floatToBf16(acc[i]);
                MemorySegment.copy(half, 0, dst, I16, dstOffset + at * 2, len);
            }
        }
    }

    private static void read(MemorySegment src, DType dt, long byteOffset, float[] into, short[] half, int len) {
        if (dt == DType.F32) {
            MemorySegment.copy(src, F32, byteOffset, into, 0, len);
            return;
        }
        MemorySegment.copy(src, I16, byteOffset, half, 0, len);
        if (dt == DType.F16) {
            for (int i = 0; i < len; i++) into[i] = FloatFormats.f16ToFloat(half[i]);
        } else {
            for (int i = 0; i < len; i++) into[i] = FloatFormats.bf16ToFloat(half[i]);
        }
    }
}
