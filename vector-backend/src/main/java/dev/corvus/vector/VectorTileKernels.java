package dev.corvus.vector;

import static dev.corvus.vector.VectorShapes.F;
import static dev.corvus.vector.VectorShapes.FL;

import dev.corvus.tensor.TileKernels;
import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * {@link TileKernels} on the Vector API, for the L1-resident tiles of flash attention (tens to a
 * few hundred rows and columns, depth 32 to 128) and its decode step (one query row per head).
 *
 * <p>All three products run one loop nest: C is cut into MR-row panels, each panel into
 * 2L-wide strips, and a register tile of MR x 2 vectors accumulates over the whole depth from
 * contiguous vector loads of a row of B and broadcasts of A. A is read in place through a row
 * and a column stride, so gemmNN and gemmTN differ only in those strides. Nothing is packed:
 * a tile of A is reused by only n / 2L strips, too few to pay for a copy. gemmNT first
 * transposes B into a per-thread buffer and then runs the same nest: at 64 x 64 x 64 on
 * AVX-512 that ran at about 105 GFLOP/s, dot products over k (4 x 4 vector accumulators, then
 * one horizontal reduction per element of C) at about 55.
 *
 * <p>Rows that fill no whole panel (all of them when m is below MR, as in decode) run one at a
 * time, so no work is spent on rows that do not exist. gemmNT computes them as dot products
 * straight from the rows of A and B, four columns at a time, with no transpose (for one row
 * the transpose would cost as much as the product); gemmNN and gemmTN accumulate rows of B
 * scaled by the row's elements of A (axpy form) in strips of four register accumulators.
 * Column tails run an MR x 1 tile (on 8-row panels: unmasked for a whole last vector, two masked
 * 4 x 1 tiles for a partial one), or for single rows one masked vector.
 *
 * <p>Every kernel is kept small on purpose: C1 gave up on an earlier 8 x 1 tile that also
 * clamped missing rows ("out of virtual registers"), and a method C1 cannot compile at tier 3
 * may stay in tier-2 code, where every vector operation runs the Vector API's plain-Java
 * fallback, 40 times slower. beta is applied before the product: 0 starts the accumulators at
 * zero (C is never read), 1 starts them from C, anything else scales C first.
 */
final class VectorTileKernels implements TileKernels {
    static final VectorTileKernels INSTANCE = new VectorTileKernels();

    private VectorTileKernels() {}

    private static final int L = FL;

    /** Register tile: MR x NR accumulators, sized in {@link RegisterTile} (the micro-kernels are 8 x 2 and 6 x 2 vectors). */
    static final int MR = RegisterTile.TILE_ROWS;
    static final int NR = RegisterTile.COLUMNS;

    // ---------------------------------------------------------------- products

    @Override
    public void gemmNT(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta) {
        check("gemmNT", m, n, k, a, aOff, lda, m, k, b, bOff, ldb, n, k, c, cOff, ldc);
        if (!prepare(m, n, k, c, cOff, ldc, beta)) return;
        if (m < MR) {
            for (int i = 0; i < m; i++) dotRow(n, k, a, aOff + i * lda, b, bOff, ldb, c, cOff + i * ldc, beta != 0);
            return;
        }
        Scratch scratch = SCRATCH.get();
        float[] bt = scratch.transposed(k * n);
        transpose(n, k, b, bOff, ldb, bt, scratch.rows(ldb));
        product(m, n, k, a, aOff, lda, 1, bt, 0, n, c, cOff, ldc, beta != 0);
    }

    @Override
    public void gemmNN(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta) {
        check("gemmNN", m, n, k, a, aOff, lda, m, k, b, bOff, ldb, k, n, c, cOff, ldc);
        if (!prepare(m, n, k, c, cOff, ldc, beta)) return;
        product(m, n, k, a, aOff, lda, 1, b, bOff, ldb, c, cOff, ldc, beta != 0);
    }

    @Override
    public void gemmTN(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta) {
        check("gemmTN", m, n, k, a, aOff, lda, k, m, b, bOff, ldb, k, n, c, cOff, ldc);
        if (!prepare(m, n, k, c, cOff, ldc, beta)) return;
        product(m, n, k, a, aOff, 1, lda, b, bOff, ldb, c, cOff, ldc, beta != 0);
    }

    /**
     * Applies beta to C ahead of the product: zero when k is 0 or beta is 0 (the kernels then
     * overwrite C), scaled when beta is neither 0 nor 1. False when there is nothing left to do.
     */
    private static boolean prepare(int m, int n, int k, float[] c, int cOff, int ldc, float beta) {
        if (m == 0 || n == 0) return false;
        if (k == 0) {
            for (int i = 0; i < m; i++) {
                if (beta == 0) Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
                else scaleRow(c, cOff + i * ldc, n, beta);
            }
            return false;
        }
        if (beta != 0 && beta != 1) {
            for (int i = 0; i < m; i++) scaleRow(c, cOff + i * ldc, n, beta);
        }
        return true;
    }

    /**
     * C[i, j] (+)= sum_p A[i, p] B[p, j], A[i, p] at aOff + i * ars + p * acs, B row-major.
     * Row panels outermost: the panel of A stays in L1 while the rows of B stream under it. The
     * rows after the last whole panel run one by one.
     */
    private static void product(int m, int n, int k, float[] a, int aOff, int ars, int acs,
            float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, boolean accumulate) {
        int panels = m - m % MR;
        for (int i = 0; i < panels; i += MR) {
            int ai = aOff + i * ars, ci = cOff + i * ldc;
            int j = 0;
            for (; j <= n - NR; j += NR) {
                if (MR == 8) tile8x2(k, a, ai, ars, acs, b, bOff + j, ldb, c, ci + j, ldc, accumulate);
                else tile6x2(k, a, ai, ars, acs, b, bOff + j, ldb, c, ci + j, ldc, accumulate);
            }
            for (; j < n; j += L) {
                if (MR == 8 && j + L <= n) {
                    tile8x1(k, a, ai, ars, acs, b, bOff + j, ldb, c, ci + j, ldc, accumulate);
                } else if (MR == 8) {
                    VectorMask<Float> cols = F.indexInRange(j, n);
                    tile4x1(k, a, ai, ars, acs, b, bOff + j, ldb, c, ci + j, ldc, accumulate, cols);
                    tile4x1(k, a, ai + 4 * ars, ars, acs, b, bOff + j, ldb, c, ci + j + 4 * ldc, ldc, accumulate, cols);
                } else {
                    tile6x1(k, a, ai, ars, acs, b, bOff + j, ldb, c, ci + j, ldc, accumulate, F.indexInRange(j, n));
                }
            }
        }
        for (int i = panels; i < m; i++) {
            int ai = aOff + i * ars, ci = cOff + i * ldc;
            row(n, k, a, ai, acs, b, bOff, ldb, c, ci, accumulate);
        }
    }

    /**
     * bt[p * n + j] = b[bOff + j * ldb + p]: B[n, k] as a row-major [k, n]. Whole vectors of j
     * are gathered (one column of L rows of B per gather) and stored contiguously: at 64 x 64 x
     * 64 on AVX-512, gemmNT ran at about 96 GFLOP/s with a scalar copy, 105 with gathers, and
     * gemmNN at 121.
     */
    private static void transpose(int n, int k, float[] b, int bOff, int ldb, float[] bt, int[] rows) {
        int j = 0;
        for (; j <= n - L; j += L) {
            int src = bOff + j * ldb;
            for (int p = 0, d = j; p < k; p++, d += n) FloatVector.fromArray(F, b, src + p, rows, 0).intoArray(bt, d);
        }
        for (; j < n; j++) {
            int src = bOff + j * ldb;
            for (int p = 0, d = j; p < k; p++, d += n) bt[d] = b[src + p];
        }
    }

    /** Per-thread scratch for gemmNT: the transposed B and the gather offsets of L rows of B. */
    private static final class Scratch {
        float[] transposed = new float[0];
        final int[] rows = new int[L];
        int ldb = -1;

        float[] transposed(int size) {
            return transposed.length >= size ? transposed : (transposed = new float[size]);
        }

        int[] rows(int ld) {
            if (ld != ldb) {
                for (int l = 0; l < L; l++) rows[l] = l * ld;
                ldb = ld;
            }
            return rows;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    // ---------------------------------------------------------------- single rows

    /**
     * One row of C, C[j] (+)= sum_p A[p] B[p, j] with A[p] at ai + p * acs: strips of four
     * whole vectors, then the last partial vector. Masked loads are kept out of the strips: with
     * a dozen of them C1 bailed out of the method (see the class comment).
     */
    private static void row(int n, int k, float[] a, int ai, int acs, float[] b, int bi, int ldb,
            float[] c, int ci, boolean accumulate) {
        int whole = F.loopBound(n);
        for (int j = 0; j < whole; j += 4 * L) {
            rowStrip(k, a, ai, acs, b, bi + j, ldb, c, ci + j, Math.min(4, (whole - j) / L), accumulate);
        }
        if (whole < n) rowTail(k, a, ai, acs, b, bi + whole, ldb, c, ci + whole, F.indexInRange(whole, n), accumulate);
    }

    /**
     * vectors (1 to 4) whole vectors of one row of C, four independent accumulators. Missing
     * vectors repeat the last real one and are not stored.
     */
    private static void rowStrip(int k, float[] a, int ai, int acs, float[] b, int bi, int ldb,
            float[] c, int ci, int vectors, boolean accumulate) {
        int last = vectors - 1;
        int o1 = Math.min(1, last) * L, o2 = Math.min(2, last) * L, o3 = Math.min(3, last) * L;
        FloatVector s0, s1, s2, s3;
        if (accumulate) {
            s0 = FloatVector.fromArray(F, c, ci);
            s1 = FloatVector.fromArray(F, c, ci + o1);
            s2 = FloatVector.fromArray(F, c, ci + o2);
            s3 = FloatVector.fromArray(F, c, ci + o3);
        } else {
            s0 = FloatVector.zero(F);
            s1 = s0; s2 = s0; s3 = s0;
        }
        for (int p = 0, ap = ai; p < k; p++, ap += acs, bi += ldb) {
            FloatVector x = FloatVector.broadcast(F, a[ap]);
            s0 = x.fma(FloatVector.fromArray(F, b, bi), s0);
            s1 = x.fma(FloatVector.fromArray(F, b, bi + o1), s1);
            s2 = x.fma(FloatVector.fromArray(F, b, bi + o2), s2);
            s3 = x.fma(FloatVector.fromArray(F, b, bi + o3), s3);
        }
        s0.intoArray(c, ci);
        if (vectors > 1) s1.intoArray(c, ci + o1);
        if (vectors > 2) s2.intoArray(c, ci + o2);
        if (vectors > 3) s3.intoArray(c, ci + o3);
    }

    /** The last partial vector of one row of C, under the lane mask cols. */
    private static void rowTail(int k, float[] a, int ai, int acs, float[] b, int bi, int ldb,
            float[] c, int ci, VectorMask<Float> cols, boolean accumulate) {
        FloatVector s = accumulate ? FloatVector.fromArray(F, c, ci, cols) : FloatVector.zero(F);
        for (int p = 0, ap = ai; p < k; p++, ap += acs, bi += ldb) {
            s = FloatVector.broadcast(F, a[ap]).fma(FloatVector.fromArray(F, b, bi, cols), s);
        }
        s.intoArray(c, ci, cols);
    }

    /** One row of gemmNT: C[j] (+)= A[0, k) · B[j, 0..k) for j in [0, n), four columns per call. */
    private static void dotRow(int n, int k, float[] a, int ai, float[] b, int bOff, int ldb,
            float[] c, int ci, boolean accumulate) {
        for (int j = 0; j < n; j += 4) dot4(k, a, ai, b, bOff + j * ldb, ldb, c, ci + j, Math.min(4, n - j), accumulate);
    }

    /**
     * C[0, cols) (+)= dot products of A[0, k) with rows 0..cols-1 of B (cols at most 4): four
     * vector accumulators over k, a masked last vector, one horizontal sum each. Missing
     * columns repeat the last real one and are not stored.
     */
    private static void dot4(int k, float[] a, int ai, float[] b, int bi, int ldb, float[] c, int ci, int cols,
            boolean accumulate) {
        int last = cols - 1;
        int b0 = bi, b1 = bi + Math.min(1, last) * ldb, b2 = bi + Math.min(2, last) * ldb, b3 = bi + Math.min(3, last) * ldb;
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int p = 0;
        for (int bound = F.loopBound(k); p < bound; p += L) {
            FloatVector x = FloatVector.fromArray(F, a, ai + p);
            s0 = x.fma(FloatVector.fromArray(F, b, b0 + p), s0);
            s1 = x.fma(FloatVector.fromArray(F, b, b1 + p), s1);
            s2 = x.fma(FloatVector.fromArray(F, b, b2 + p), s2);
            s3 = x.fma(FloatVector.fromArray(F, b, b3 + p), s3);
        }
        if (p < k) {
            VectorMask<Float> tail = F.indexInRange(p, k);
            FloatVector x = FloatVector.fromArray(F, a, ai + p, tail);
            s0 = x.fma(FloatVector.fromArray(F, b, b0 + p, tail), s0);
            s1 = x.fma(FloatVector.fromArray(F, b, b1 + p, tail), s1);
            s2 = x.fma(FloatVector.fromArray(F, b, b2 + p, tail), s2);
            s3 = x.fma(FloatVector.fromArray(F, b, b3 + p, tail), s3);
        }
        c[ci] = (accumulate ? c[ci] : 0f) + s0.reduceLanes(VectorOperators.ADD);
        if (cols > 1) c[ci + 1] = (accumulate ? c[ci + 1] : 0f) + s1.reduceLanes(VectorOperators.ADD);
        if (cols > 2) c[ci + 2] = (accumulate ? c[ci + 2] : 0f) + s2.reduceLanes(VectorOperators.ADD);
        if (cols > 3) c[ci + 3] = (accumulate ? c[ci + 3] : 0f) + s3.reduceLanes(VectorOperators.ADD);
    }

    // ---------------------------------------------------------------- register tiles, unrolled

    /** 8 x 2L register tile: 16 accumulators, 2 B vectors, 1 broadcast. */
    private static void tile8x2(int k, float[] a, int ai, int ars, int acs, float[] b, int bi, int ldb,
            float[] c, int ci, int ldc, boolean accumulate) {
        int a0 = ai, c0 = ci;
        int a1 = ai + 1 * ars, c1 = ci + 1 * ldc;
        int a2 = ai + 2 * ars, c2 = ci + 2 * ldc;
        int a3 = ai + 3 * ars, c3 = ci + 3 * ldc;
        int a4 = ai + 4 * ars, c4 = ci + 4 * ldc;
        int a5 = ai + 5 * ars, c5 = ci + 5 * ldc;
        int a6 = ai + 6 * ars, c6 = ci + 6 * ldc;
        int a7 = ai + 7 * ars, c7 = ci + 7 * ldc;
        FloatVector s00, s01, s10, s11, s20, s21, s30, s31, s40, s41, s50, s51, s60, s61, s70, s71;
        if (accumulate) {
            s00 = FloatVector.fromArray(F, c, c0); s01 = FloatVector.fromArray(F, c, c0 + L);
            s10 = FloatVector.fromArray(F, c, c1); s11 = FloatVector.fromArray(F, c, c1 + L);
            s20 = FloatVector.fromArray(F, c, c2); s21 = FloatVector.fromArray(F, c, c2 + L);
            s30 = FloatVector.fromArray(F, c, c3); s31 = FloatVector.fromArray(F, c, c3 + L);
            s40 = FloatVector.fromArray(F, c, c4); s41 = FloatVector.fromArray(F, c, c4 + L);
            s50 = FloatVector.fromArray(F, c, c5); s51 = FloatVector.fromArray(F, c, c5 + L);
            s60 = FloatVector.fromArray(F, c, c6); s61 = FloatVector.fromArray(F, c, c6 + L);
            s70 = FloatVector.fromArray(F, c, c7); s71 = FloatVector.fromArray(F, c, c7 + L);
        } else {
            s00 = FloatVector.zero(F);
            s01 = s00; s10 = s00; s11 = s00; s20 = s00; s21 = s00; s30 = s00; s31 = s00; s40 = s00; s41 = s00; s50 = s00; s51 = s00; s60 = s00; s61 = s00; s70 = s00; s71 = s00;
        }
        for (int p = 0, ap = 0; p < k; p++, ap += acs, bi += ldb) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi), b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector x0 = FloatVector.broadcast(F, a[a0 + ap]);
            s00 = x0.fma(b0, s00); s01 = x0.fma(b1, s01);
            FloatVector x1 = FloatVector.broadcast(F, a[a1 + ap]);
            s10 = x1.fma(b0, s10); s11 = x1.fma(b1, s11);
            FloatVector x2 = FloatVector.broadcast(F, a[a2 + ap]);
            s20 = x2.fma(b0, s20); s21 = x2.fma(b1, s21);
            FloatVector x3 = FloatVector.broadcast(F, a[a3 + ap]);
            s30 = x3.fma(b0, s30); s31 = x3.fma(b1, s31);
            FloatVector x4 = FloatVector.broadcast(F, a[a4 + ap]);
            s40 = x4.fma(b0, s40); s41 = x4.fma(b1, s41);
            FloatVector x5 = FloatVector.broadcast(F, a[a5 + ap]);
            s50 = x5.fma(b0, s50); s51 = x5.fma(b1, s51);
            FloatVector x6 = FloatVector.broadcast(F, a[a6 + ap]);
            s60 = x6.fma(b0, s60); s61 = x6.fma(b1, s61);
            FloatVector x7 = FloatVector.broadcast(F, a[a7 + ap]);
            s70 = x7.fma(b0, s70); s71 = x7.fma(b1, s71);
        }
        s00.intoArray(c, c0); s01.intoArray(c, c0 + L);
        s10.intoArray(c, c1); s11.intoArray(c, c1 + L);
        s20.intoArray(c, c2); s21.intoArray(c, c2 + L);
        s30.intoArray(c, c3); s31.intoArray(c, c3 + L);
        s40.intoArray(c, c4); s41.intoArray(c, c4 + L);
        s50.intoArray(c, c5); s51.intoArray(c, c5 + L);
        s60.intoArray(c, c6); s61.intoArray(c, c6 + L);
        s70.intoArray(c, c7); s71.intoArray(c, c7 + L);
    }

    /**
     * 8 x 1 whole vector: a column tail of exactly L lanes (head dim 48 on 16 lanes), 8
     * accumulators, no mask. The masked 8 x 1 tile this replaces failed C1's tier-3 compile ("out
     * of virtual registers in LIR generator", its OSR compile skipped) and stayed in tier-2 code
     * for the whole run: in a stories15M training step at N = 1024 (head dim 48, 2 threads) 55%
     * of the profile's samples were that tile's Vector API fallbacks.
     */
    private static void tile8x1(int k, float[] a, int ai, int ars, int acs, float[] b, int bi, int ldb,
            float[] c, int ci, int ldc, boolean accumulate) {
        int a0 = ai, c0 = ci;
        int a1 = ai + 1 * ars, c1 = ci + 1 * ldc;
        int a2 = ai + 2 * ars, c2 = ci + 2 * ldc;
        int a3 = ai + 3 * ars, c3 = ci + 3 * ldc;
        int a4 = ai + 4 * ars, c4 = ci + 4 * ldc;
        int a5 = ai + 5 * ars, c5 = ci + 5 * ldc;
        int a6 = ai + 6 * ars, c6 = ci + 6 * ldc;
        int a7 = ai + 7 * ars, c7 = ci + 7 * ldc;
        FloatVector s0, s1, s2, s3, s4, s5, s6, s7;
        if (accumulate) {
            s0 = FloatVector.fromArray(F, c, c0);
            s1 = FloatVector.fromArray(F, c, c1);
            s2 = FloatVector.fromArray(F, c, c2);
            s3 = FloatVector.fromArray(F, c, c3);
            s4 = FloatVector.fromArray(F, c, c4);
            s5 = FloatVector.fromArray(F, c, c5);
            s6 = FloatVector.fromArray(F, c, c6);
            s7 = FloatVector.fromArray(F, c, c7);
        } else {
            s0 = FloatVector.zero(F);
            s1 = s0; s2 = s0; s3 = s0; s4 = s0; s5 = s0; s6 = s0; s7 = s0;
        }
        for (int p = 0, ap = 0; p < k; p++, ap += acs, bi += ldb) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            s0 = FloatVector.broadcast(F, a[a0 + ap]).fma(b0, s0);
            s1 = FloatVector.broadcast(F, a[a1 + ap]).fma(b0, s1);
            s2 = FloatVector.broadcast(F, a[a2 + ap]).fma(b0, s2);
            s3 = FloatVector.broadcast(F, a[a3 + ap]).fma(b0, s3);
            s4 = FloatVector.broadcast(F, a[a4 + ap]).fma(b0, s4);
            s5 = FloatVector.broadcast(F, a[a5 + ap]).fma(b0, s5);
            s6 = FloatVector.broadcast(F, a[a6 + ap]).fma(b0, s6);
            s7 = FloatVector.broadcast(F, a[a7 + ap]).fma(b0, s7);
        }
        s0.intoArray(c, c0);
        s1.intoArray(c, c1);
        s2.intoArray(c, c2);
        s3.intoArray(c, c3);
        s4.intoArray(c, c4);
        s5.intoArray(c, c5);
        s6.intoArray(c, c6);
        s7.intoArray(c, c7);
    }

    /** 4 x 1 masked vector: half of an 8-row panel's partial last vector (small enough for C1 with the mask). */
    private static void tile4x1(int k, float[] a, int ai, int ars, int acs, float[] b, int bi, int ldb,
            float[] c, int ci, int ldc, boolean accumulate, VectorMask<Float> cols) {
        int a0 = ai, c0 = ci;
        int a1 = ai + 1 * ars, c1 = ci + 1 * ldc;
        int a2 = ai + 2 * ars, c2 = ci + 2 * ldc;
        int a3 = ai + 3 * ars, c3 = ci + 3 * ldc;
        FloatVector s0, s1, s2, s3;
        if (accumulate) {
            s0 = FloatVector.fromArray(F, c, c0, cols);
            s1 = FloatVector.fromArray(F, c, c1, cols);
            s2 = FloatVector.fromArray(F, c, c2, cols);
            s3 = FloatVector.fromArray(F, c, c3, cols);
        } else {
            s0 = FloatVector.zero(F);
            s1 = s0; s2 = s0; s3 = s0;
        }
        for (int p = 0, ap = 0; p < k; p++, ap += acs, bi += ldb) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi, cols);
            s0 = FloatVector.broadcast(F, a[a0 + ap]).fma(b0, s0);
            s1 = FloatVector.broadcast(F, a[a1 + ap]).fma(b0, s1);
            s2 = FloatVector.broadcast(F, a[a2 + ap]).fma(b0, s2);
            s3 = FloatVector.broadcast(F, a[a3 + ap]).fma(b0, s3);
        }
        s0.intoArray(c, c0, cols);
        s1.intoArray(c, c1, cols);
        s2.intoArray(c, c2, cols);
        s3.intoArray(c, c3, cols);
    }

    /** 6 x 2L register tile: 12 accumulators, 2 B vectors, 1 broadcast. */
    private static void tile6x2(int k, float[] a, int ai, int ars, int acs, float[] b, int bi, int ldb,
            float[] c, int ci, int ldc, boolean accumulate) {
        int a0 = ai, c0 = ci;
        int a1 = ai + 1 * ars, c1 = ci + 1 * ldc;
        int a2 = ai + 2 * ars, c2 = ci + 2 * ldc;
        int a3 = ai + 3 * ars, c3 = ci + 3 * ldc;
        int a4 = ai + 4 * ars, c4 = ci + 4 * ldc;
        int a5 = ai + 5 * ars, c5 = ci + 5 * ldc;
        FloatVector s00, s01, s10, s11, s20, s21, s30, s31, s40, s41, s50, s51;
        if (accumulate) {
            s00 = FloatVector.fromArray(F, c, c0); s01 = FloatVector.fromArray(F, c, c0 + L);
            s10 = FloatVector.fromArray(F, c, c1); s11 = FloatVector.fromArray(F, c, c1 + L);
            s20 = FloatVector.fromArray(F, c, c2); s21 = FloatVector.fromArray(F, c, c2 + L);
            s30 = FloatVector.fromArray(F, c, c3); s31 = FloatVector.fromArray(F, c, c3 + L);
            s40 = FloatVector.fromArray(F, c, c4); s41 = FloatVector.fromArray(F, c, c4 + L);
            s50 = FloatVector.fromArray(F, c, c5); s51 = FloatVector.fromArray(F, c, c5 + L);
        } else {
            s00 = FloatVector.zero(F);
            s01 = s00; s10 = s00; s11 = s00; s20 = s00; s21 = s00; s30 = s00; s31 = s00; s40 = s00; s41 = s00; s50 = s00; s51 = s00;
        }
        for (int p = 0, ap = 0; p < k; p++, ap += acs, bi += ldb) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi), b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector x0 = FloatVector.broadcast(F, a[a0 + ap]);
            s00 = x0.fma(b0, s00); s01 = x0.fma(b1, s01);
            FloatVector x1 = FloatVector.broadcast(F, a[a1 + ap]);
            s10 = x1.fma(b0, s10); s11 = x1.fma(b1, s11);
            FloatVector x2 = FloatVector.broadcast(F, a[a2 + ap]);
            s20 = x2.fma(b0, s20); s21 = x2.fma(b1, s21);
            FloatVector x3 = FloatVector.broadcast(F, a[a3 + ap]);
            s30 = x3.fma(b0, s30); s31 = x3.fma(b1, s31);
            FloatVector x4 = FloatVector.broadcast(F, a[a4 + ap]);
            s40 = x4.fma(b0, s40); s41 = x4.fma(b1, s41);
            FloatVector x5 = FloatVector.broadcast(F, a[a5 + ap]);
            s50 = x5.fma(b0, s50); s51 = x5.fma(b1, s51);
        }
        s00.intoArray(c, c0); s01.intoArray(c, c0 + L);
        s10.intoArray(c, c1); s11.intoArray(c, c1 + L);
        s20.intoArray(c, c2); s21.intoArray(c, c2 + L);
        s30.intoArray(c, c3); s31.intoArray(c, c3 + L);
        s40.intoArray(c, c4); s41.intoArray(c, c4 + L);
        s50.intoArray(c, c5); s51.intoArray(c, c5 + L);
    }

    /** 6 x 1 masked vector: the column tail, 6 accumulators. */
    private static void tile6x1(int k, float[] a, int ai, int ars, int acs, float[] b, int bi, int ldb,
            float[] c, int ci, int ldc, boolean accumulate, VectorMask<Float> cols) {
        int a0 = ai, c0 = ci;
        int a1 = ai + 1 * ars, c1 = ci + 1 * ldc;
        int a2 = ai + 2 * ars, c2 = ci + 2 * ldc;
        int a3 = ai + 3 * ars, c3 = ci + 3 * ldc;
        int a4 = ai + 4 * ars, c4 = ci + 4 * ldc;
        int a5 = ai + 5 * ars, c5 = ci + 5 * ldc;
        FloatVector s0, s1, s2, s3, s4, s5;
        if (accumulate) {
            s0 = FloatVector.fromArray(F, c, c0, cols);
            s1 = FloatVector.fromArray(F, c, c1, cols);
            s2 = FloatVector.fromArray(F, c, c2, cols);
            s3 = FloatVector.fromArray(F, c, c3, cols);
            s4 = FloatVector.fromArray(F, c, c4, cols);
            s5 = FloatVector.fromArray(F, c, c5, cols);
        } else {
            s0 = FloatVector.zero(F);
            s1 = s0; s2 = s0; s3 = s0; s4 = s0; s5 = s0;
        }
        for (int p = 0, ap = 0; p < k; p++, ap += acs, bi += ldb) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi, cols);
            s0 = FloatVector.broadcast(F, a[a0 + ap]).fma(b0, s0);
            s1 = FloatVector.broadcast(F, a[a1 + ap]).fma(b0, s1);
            s2 = FloatVector.broadcast(F, a[a2 + ap]).fma(b0, s2);
            s3 = FloatVector.broadcast(F, a[a3 + ap]).fma(b0, s3);
            s4 = FloatVector.broadcast(F, a[a4 + ap]).fma(b0, s4);
            s5 = FloatVector.broadcast(F, a[a5 + ap]).fma(b0, s5);
        }
        s0.intoArray(c, c0, cols);
        s1.intoArray(c, c1, cols);
        s2.intoArray(c, c2, cols);
        s3.intoArray(c, c3, cols);
        s4.intoArray(c, c4, cols);
        s5.intoArray(c, c5, cols);
    }

    // ---------------------------------------------------------------- row kernels

    @Override
    public float max(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        FloatVector none = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        FloatVector m0 = none, m1 = none, m2 = none, m3 = none;
        int i = off, end = off + n;
        for (; i <= end - 4 * L; i += 4 * L) {
            m0 = m0.max(FloatVector.fromArray(F, x, i));
            m1 = m1.max(FloatVector.fromArray(F, x, i + L));
            m2 = m2.max(FloatVector.fromArray(F, x, i + 2 * L));
            m3 = m3.max(FloatVector.fromArray(F, x, i + 3 * L));
        }
        for (; i < end; i += L) {
            VectorMask<Float> inside = F.indexInRange(i, end);
            m0 = m0.max(none.blend(FloatVector.fromArray(F, x, i, inside), inside));
        }
        // Vector max propagates NaN like Math.max.
        return m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
    }

    /**
     * One pass: exp(x - shift) stored back and summed in two float accumulators. The last
     * partial vector is masked, so short rows (n below L) stay vectorised too. exp(-inf) is +0
     * and NaN stays NaN, as in Math.exp.
     */
    @Override
    public float expShiftSum(float[] x, int off, int n, float shift) {
        Objects.checkFromIndexSize(off, n, x.length);
        FloatVector s = FloatVector.broadcast(F, shift);
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = off, end = off + n;
        for (; i <= end - 2 * L; i += 2 * L) {
            FloatVector e0 = FloatVector.fromArray(F, x, i).sub(s).lanewise(VectorOperators.EXP);
            FloatVector e1 = FloatVector.fromArray(F, x, i + L).sub(s).lanewise(VectorOperators.EXP);
            e0.intoArray(x, i);
            e1.intoArray(x, i + L);
            a0 = a0.add(e0);
            a1 = a1.add(e1);
        }
        for (; i < end; i += L) {
            VectorMask<Float> inside = F.indexInRange(i, end);
            FloatVector e = FloatVector.fromArray(F, x, i, inside).sub(s).lanewise(VectorOperators.EXP);
            e.intoArray(x, i, inside);
            a0 = a0.add(e, inside);
        }
        return a0.add(a1).reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void scale(float[] y, int off, int n, float alpha) {
        Objects.checkFromIndexSize(off, n, y.length);
        scaleRow(y, off, n, alpha);
    }

    private static void scaleRow(float[] y, int off, int n, float alpha) {
        FloatVector f = FloatVector.broadcast(F, alpha);
        int i = off, end = off + n;
        for (; i <= end - 2 * L; i += 2 * L) {
            FloatVector.fromArray(F, y, i).mul(f).intoArray(y, i);
            FloatVector.fromArray(F, y, i + L).mul(f).intoArray(y, i + L);
        }
        for (; i < end; i += L) {
            VectorMask<Float> inside = F.indexInRange(i, end);
            FloatVector.fromArray(F, y, i, inside).mul(f).intoArray(y, i, inside);
        }
    }

    // ---------------------------------------------------------------- argument checks

    /**
     * Sizes non-negative, leading dimensions at least the row lengths, and every operand's last
     * element inside its array: the kernels index raw arrays with strides they are given, so a
     * wrong stride would otherwise read a neighbouring tile.
     */
    private static void check(String op, int m, int n, int k, float[] a, int aOff, int lda, int aRows, int aCols,
            float[] b, int bOff, int ldb, int bRows, int bCols, float[] c, int cOff, int ldc) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException(op + ": negative size m=" + m + ", n=" + n + ", k=" + k);
        }
        checkMatrix(op, "A", a, aOff, lda, aRows, aCols);
        checkMatrix(op, "B", b, bOff, ldb, bRows, bCols);
        checkMatrix(op, "C", c, cOff, ldc, m, n);
    }

    private static void checkMatrix(String op, String name, float[] x, int off, int ld, int rows, int cols) {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) {
            throw new IllegalArgumentException(op + ": leading dimension of " + name + " (" + ld
                    + ") is smaller than its rows of " + cols);
        }
        long span = (long) (rows - 1) * ld + cols;
        if (off < 0 || span > x.length - (long) off) {
            throw new IndexOutOfBoundsException(op + ": " + name + " [" + rows + " x " + cols + ", ld " + ld
                    + "] from offset " + off + " does not fit an array of " + x.length);
        }
    }
}
