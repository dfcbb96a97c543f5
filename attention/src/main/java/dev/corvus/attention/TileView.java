package dev.corvus.attention;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reads and writes rows of a rank-4 [B, H, N, D] (or rank-3 [B, H, N]) tensor between its memory
 * and heap float tiles, for any strides; F16 and BF16 are widened on load. Rows that are
 * contiguous F32 move with one bulk copy each, and adjacent rows into a dense tile with one for
 * them all. The segment and strides are taken once per call of an attention op, so the per-tile
 * work is plain index arithmetic.
 */
final class TileView {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final MemorySegment seg;
    private final DType dtype;
    private final long offset;
    private final long sb, sh, sn, sd;

    private TileView(Tensor t) {
        this.seg = t.segment();
        this.dtype = t.dtype();
        this.offset = t.offset();
        long[] s = t.strides();
        this.sb = s[0];
        this.sh = s[1];
        this.sn = s[2];
        this.sd = s.length > 3 ? s[3] : 0;
    }

    static TileView of(Tensor t) {
        return new TileView(t);
    }

    private long rowBase(int b, int h, int n) {
        return offset + b * sb + h * sh + n * sn;
    }

    /** dst[dstOff + i·ld + j] = mul · t[b, h, row0 + i, j] for i < rows, j < cols. */
    void loadRows(int b, int h, int row0, int rows, int cols, float[] dst, int dstOff, int ld, float mul) {
        if (dtype == DType.F32 && sd == 1 && sn == cols && ld == cols && mul == 1f) {
            // Adjacent rows (a contiguous cache or tensor) into a dense tile: one copy for all.
            if (rows > 0) MemorySegment.copy(seg, F32, rowBase(b, h, row0) * 4, dst, dstOff, rows * cols);
            return;
        }
        for (int i = 0; i < rows; i++) {
            long base = rowBase(b, h, row0 + i);
            int o = dstOff + i * ld;
            switch (dtype) {
                case F32 -> {
                    if (sd == 1) {
                        MemorySegment.copy(seg, F32, base * 4, dst, o, cols);
                    } else {
                        for (int j = 0; j < cols; j++) dst[o + j] = seg.get(F32, (base + j * sd) * 4);
                    }
                }
                case F16 -> {
                    for (int j = 0; j < cols; j++) dst[o + j] = Float.float16ToFloat(seg.get(I16, (base + j * sd) * 2));
                }
                case BF16 -> {
                    for (int j = 0; j < cols; j++) dst[o + j] = Float.intBitsToFloat((seg.get(I16, (base + j * sd) * 2) & 0xffff) << 16);
                }
                default -> throw new IllegalStateException("attention: cannot read " + dtype);
            }
            if (mul != 1f) {
                for (int j = 0; j < cols; j++) dst[o + j] *= mul;
            }
        }
    }

    /** t[b, h, row0 + i, j] = src[srcOff + i·ld + j]; the tensor is F32. */
    void storeRows(int b, int h, int row0, int rows, int cols, float[] src, int srcOff, int ld) {
        for (int i = 0; i < rows; i++) {
            long base = rowBase(b, h, row0 + i);
            int o = srcOff + i * ld;
            if (sd == 1) {
                MemorySegment.copy(src, o, seg, F32, base * 4, cols);
            } else {
                for (int j = 0; j < cols; j++) seg.set(F32, (base + j * sd) * 4, src[o + j]);
            }
        }
    }

    /** t[b, h, row0 + i, j] += mul · src[srcOff + i·ld + j]; the tensor is F32. tmp holds cols floats. */
    void addRows(int b, int h, int row0, int rows, int cols, float[] src, int srcOff, int ld, float mul, float[] tmp) {
        for (int i = 0; i < rows; i++) {
            long base = rowBase(b, h, row0 + i);
            int o = srcOff + i * ld;
            if (sd == 1) {
                MemorySegment.copy(seg, F32, base * 4, tmp, 0, cols);
                for (int j = 0; j < cols; j++) tmp[j] += mul * src[o + j];
                MemorySegment.copy(tmp, 0, seg, F32, base * 4, cols);
            } else {
                for (int j = 0; j < cols; j++) {
                    long at = (base + j * sd) * 4;
                    seg.set(F32, at, seg.get(F32, at) + mul * src[o + j]);
                }
            }
        }
    }

    /** dst[dstOff + i] = t[b, h, row0 + i] of a rank-3 F32 tensor. */
    void loadVector(int b, int h, int row0, int n, float[] dst, int dstOff) {
        long base = rowBase(b, h, row0);
        if (sn == 1) {
            MemorySegment.copy(seg, F32, base * 4, dst, dstOff, n);
        } else {
            for (int i = 0; i < n; i++) dst[dstOff + i] = seg.get(F32, (base + i * sn) * 4);
        }
    }

    /** t[b, h, row0 + i] = src[srcOff + i] of a rank-3 F32 tensor. */
    void storeVector(int b, int h, int row0, int n, float[] src, int srcOff) {
        long base = rowBase(b, h, row0);
        if (sn == 1) {
            MemorySegment.copy(src, srcOff, seg, F32, base * 4, n);
        } else {
            for (int i = 0; i < n; i++) seg.set(F32, (base + i * sn) * 4, src[srcOff + i]);
        }
    }
}
