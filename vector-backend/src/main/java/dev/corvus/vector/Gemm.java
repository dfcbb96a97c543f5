package dev.corvus.vector;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision matrix multiplication on the Vector API.
 *
 * <p>Large products follow the GotoBLAS/BLIS scheme: B is packed into {@code NR}-wide column
 * panels and A into {@code MR}-tall row panels, both in per-thread heap buffers, so the
 * micro-kernel streams unit-stride arrays whatever the caller's strides or weight dtype are, and
 * keeps an {@code MR x NR} tile of C in registers for a whole {@code KC}-deep slice. Products with
 * one to a few rows of A (token-by-token decoding) are memory bound on the weights instead: they
 * skip packing and take dot products straight from the weight memory. Between the two, a prompt's
 * worth of rows against a weight matrix (prefill's linear layers) takes the small-m path: the
 * activations are packed instead of the weights, which are decoded once per call in their stored
 * order.
 *
 * <p>Internal: public only for Corvus's HeteGen module; not supported API, may change in any
 * release.
 */
public final class Gemm {
    private Gemm() {}

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int L = SPECIES.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    /** Half-width lanes matching SPECIES lane for lane: loads of F16/BF16 that widen to SPECIES. */
    private static final VectorSpecies<Short> SHORTS =
            VectorSpecies.of(short.class, VectorShape.forBitSize(L * Short.SIZE));
    private static final VectorSpecies<Integer> INTS =
            VectorSpecies.of(int.class, VectorShape.forBitSize(L * Integer.SIZE));
    /** The smallest quantised block: packed depths are multiples of it, so blocks are never split. */
    private static final int MIN_BLOCK = 32;

    /** Register tile: MR x NR accumulators, sized in {@link RegisterTile}. */
    static final int MR = RegisterTile.GEMM_ROWS;
    static final int NR = RegisterTile.COLUMNS;

    /*
     * Cache blocking. An MR x KC panel of A (12 KiB) stays in L1 while the KC x NC block of B
     * (1 MiB at KC = 256, NC = 1024) streams from L2 under it; the MC x KC block of A is packed
     * once per KC x NC block of B. KC is also the depth of one pass over C, so it must be deep
     * enough to amortize loading and storing the C tile: 256 beat 192 and matched 384 and 512,
     * which no longer leave A and B room in L1 and L2.
     */
    static final int KC = 256;
    static final int MC = 16 * MR;
    static final int NC = 1024;

    /** Below this many flops a product runs on the calling thread: forking would cost more. */
    private static final long PARALLEL_FLOPS = 1L << 21;
    /**
     * The same for products of one to GEMV_MAX_ROWS rows when Parallel's spin team makes a fork
     * cheap: a decode step of a small model (dim 288: 83K-221K multiply-adds per layer product)
     * then uses every thread, not only for the classifier. {@code -Dcorvus.gemv.parallelFlops}
     * overrides it for measuring.
     */
    private static final long GEMV_CHEAP_FORK_FLOPS = Long.getLong("corvus.gemv.parallelFlops", 1L << 16);

    /** Flops below which a GEMV-shaped product stays on the calling thread. */
    static long gemvParallelFlops() {
        return Parallel.cheapForks() ? GEMV_CHEAP_FORK_FLOPS : PARALLEL_FLOPS;
    }
    /**
     * gemmWeights with at most this many rows of A reads the weights directly (see gemv), with
     * integer dot products for quantised weights (QuantDots); more rows take the small-m path.
     * Measured on one thread by CPU time, [8192, 2048] weights, GEMV against small-m: at m = 8
     * 8.8 against 11.5 ms in F32, 8.0 against 8.8 in Q8_0, 9.3 against 9.4 in Q4_K; at m = 12
     * 14.6 against 12.3, 13.0 against 8.5, 15.6 against 9.2 (the small-m path costs about the
     * same from m = 2 to 16: one pass over the weights, padded to 32 rows).
     */
    static final int GEMV_MAX_ROWS = 8;
    /**
     * GEMV_MAX_ROWS before the small-m path, when the packed path (which transposes the weights)
     * took over only at 16 rows: packing n x k weights cost as much as a product with about 16
     * rows (measured at n = k = 4096: at m = 8 the direct path took 4.3 ms in F32 and 5.1 in
     * Q8_0, the packed one 10.4 and 8.2; at m = 16 Q8_0 broke even). The baseline keeps it.
     */
    static final int PACKED_GEMV_MAX_ROWS = 16;
    /** Weights decoded at a time on the GEMV path: 4 KiB of floats, well inside L1. */
    private static final int GEMV_CHUNK = 1024;

    // ---------------------------------------------------------------------------------------
    // Entry points

    /**
     * C[i, j] = sum_p A[i, p] * B[p, j] for i &lt; m, j &lt; n, p &lt; k. A element (i,p) is at
     * aOffset + 4*(i*aRowStride + p*aColStride); B element (p,j) at bOffset + 4*(p*bRowStride +
     * j*bColStride); C element (i,j) at cOffset + 4*(i*ldc + j). Offsets are in bytes, strides in
     * elements; strides may be 0 (broadcast) or describe transposed layouts. C is overwritten.
     */
    public static void sgemm(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            MemorySegment b, long bOffset, long bRowStride, long bColStride,
            MemorySegment c, long cOffset, long ldc) {
        checkSizes(m, n, k);
        checkMatrix("A", a, aOffset, m, k, aRowStride, aColStride);
        checkMatrix("B", b, bOffset, k, n, bRowStride, bColStride);
        checkOutput(c, cOffset, m, n, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0) {
            zero(c, cOffset, m, n, ldc);
            return;
        }
        if (m == 1 && bColStride == 1) {
            rowTimesMatrix(n, k, a, aOffset, aColStride, b, bOffset, bRowStride, c, cOffset);
            return;
        }
        if (bRowStride == 1 && bColStride >= k) {
            // B is the transpose of a row-major [n, k] matrix (a linear layer's F32 weight): the
            // weights paths read its rows directly instead of transposing them into panels; up to
            // GEMV_MAX_ROWS rows that is the GEMV, where a few rows share one read of each weight
            // row (continuous batching's decode steps: 4 rows of stories15M took 7.1 to 8.3 ms
            // against 13 to 17 packed, best of 300 steps under load; 8 rows of [8192, 2048] ran 3x
            // the packed path on one thread), then the small-m path.
            weightsProduct(m, n, k, a, aOffset, aRowStride, aColStride,
                    DType.F32, b, bOffset, 4 * bColStride, c, cOffset, ldc, WeightPath.FLOAT);
            return;
        }
        gemmPacked(m, n, k, a, aOffset, aRowStride, aColStride,
                BSource.matrix(b, bOffset, bRowStride, bColStride), c, cOffset, ldc);
    }

    /**
     * C[i, j] = sum_p A[i, p] * W[j, p] (C = A Wᵀ, the linear-layer layout). W has n rows of k
     * values in dtype {@code w}; row j starts at wOffset + j * w.byteSize(k). A is F32 with
     * strides as in {@link #sgemm}; C as there. For a quantised dtype, k must be a multiple of its
     * block size (32, or 256 for the K-quants), and with m &lt;= {@link #GEMV_MAX_ROWS} the
     * activations are quantised to 8 bits per block of 32 for integer dot products (see
     * {@link QuantDots}: results differ from the float product by that rounding); use
     * {@link #gemmWeightsFloatActivations} for the exact product.
     */
    public static void gemmWeights(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            DType w, MemorySegment weights, long wOffset,
            MemorySegment c, long cOffset, long ldc) {
        gemmWeights(m, n, k, a, aOffset, aRowStride, aColStride, w, weights, wOffset, c, cOffset, ldc,
                QuantDots.ENABLED);
    }

    /**
     * {@link #gemmWeights} with quantised weights always decoded to floats and dotted with the
     * activations as given, never quantising them to 8 bits: the exact path, and the baseline
     * that benchmarks compare the integer path with.
     */
    public static void gemmWeightsFloatActivations(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            DType w, MemorySegment weights, long wOffset,
            MemorySegment c, long cOffset, long ldc) {
        gemmWeights(m, n, k, a, aOffset, aRowStride, aColStride, w, weights, wOffset, c, cOffset, ldc, false);
    }

    /**
     * {@link #gemmWeights} as {@code linear} ran it before the small-m path: more than
     * {@link #PACKED_GEMV_MAX_ROWS} rows of a quantised weight, or more than one of an F32 weight,
     * transpose the weights into the GotoBLAS column panels of the general product
     * ({@code sgemm}'s strided packing for F32, the block decoders otherwise); fewer take the
     * GEMV paths as before. Kept reachable as the same-run baseline of the {@code jmh} module's
     * LinearBenchmark and LinearReport; not for production use.
     */
    public static void gemmWeightsPacked(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            DType w, MemorySegment weights, long wOffset,
            MemorySegment c, long cOffset, long ldc) {
        gemmWeights(m, n, k, a, aOffset, aRowStride, aColStride, w, weights, wOffset, c, cOffset, ldc,
                WeightPath.PACKED);
    }

    /**
     * {@code -Dcorvus.linear.packed=true} sends every weight product back to the path it took
     * before the small-m one, so that end-to-end benchmarks ({@code corvus bench}) can compare
     * the two in one build.
     */
    private static final boolean PREVIOUS_LINEAR = Boolean.getBoolean("corvus.linear.packed");

    /** How {@link #gemmWeights} may compute a product. */
    private enum WeightPath {
        /** Integer dot products with 8-bit activations where {@link QuantDots#pays} says so. */
        INTEGER_DOTS,
        /** Float activations, exact up to float rounding: the GEMV or the small-m path. */
        FLOAT,
        /** The previous dispatch: integer dots for few rows, else weights transposed into panels. */
        PACKED
    }

    private static void gemmWeights(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            DType w, MemorySegment weights, long wOffset,
            MemorySegment c, long cOffset, long ldc, boolean integerDots) {
        gemmWeights(m, n, k, a, aOffset, aRowStride, aColStride, w, weights, wOffset, c, cOffset, ldc,
                integerDots ? WeightPath.INTEGER_DOTS : WeightPath.FLOAT);
    }

    private static void gemmWeights(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            DType w, MemorySegment weights, long wOffset,
            MemorySegment c, long cOffset, long ldc, WeightPath path) {
        checkSizes(m, n, k);
        if (w == DType.I32) {
            throw new IllegalArgumentException("unsupported weight dtype " + w + " (expected F32, F16, BF16 or a quantised type)");
        }
        if (k % w.blockSize() != 0) {
            throw new IllegalArgumentException(w + " weights need k to be a multiple of "
                    + w.blockSize() + ", got " + k);
        }
        checkMatrix("A", a, aOffset, m, k, aRowStride, aColStride);
        long rowBytes = w.byteSize(k);
        long weightBytes;
        try {
            weightBytes = Math.multiplyExact(n, rowBytes);
        } catch (ArithmeticException e) {
            weightBytes = Long.MAX_VALUE;
        }
        checkRange("W", weights, wOffset, weightBytes);
        checkOutput(c, cOffset, m, n, ldc);
        weightsProduct(m, n, k, a, aOffset, aRowStride, aColStride, w, weights, wOffset, rowBytes,
                c, cOffset, ldc, path);
    }

    /** gemmWeights after its checks, with W's rows {@code rowBytes} apart. */
    private static void weightsProduct(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            DType w, MemorySegment weights, long wOffset, long rowBytes,
            MemorySegment c, long cOffset, long ldc, WeightPath path) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            zero(c, cOffset, m, n, ldc);
            return;
        }
        boolean previous = path == WeightPath.PACKED || PREVIOUS_LINEAR;
        int gemvRows = previous ? PACKED_GEMV_MAX_ROWS : GEMV_MAX_ROWS;
        if (previous && (w == DType.F32 ? m > 1 : m > gemvRows)) {
            gemmPacked(m, n, k, a, aOffset, aRowStride, aColStride, packedWeights(w, weights, wOffset, rowBytes),
                    c, cOffset, ldc);
            return;
        }
        if (m <= gemvRows) {
            float[] x = copyRows(m, k, a, aOffset, aRowStride, aColStride);
            if (path != WeightPath.FLOAT && QuantDots.ENABLED && QuantDots.pays(w, m)) {
                QuantDots.gemv(m, n, k, x, w, weights, wOffset, rowBytes, c, cOffset, ldc);
            } else {
                gemv(m, n, k, x, w, weights, wOffset, rowBytes, c, cOffset, ldc);
            }
            return;
        }
        if (m <= SMALL_M_MAX_ROWS) {
            gemmSmallM(m, n, k, a, aOffset, aRowStride, aColStride, w, weights, wOffset, rowBytes, c, cOffset, ldc);
            return;
        }
        gemmPacked(m, n, k, a, aOffset, aRowStride, aColStride, packedWeights(w, weights, wOffset, rowBytes),
                c, cOffset, ldc);
    }

    /** W as the packed path's B operand: sgemm's strided F32 matrix, or rows to decode. */
    private static BSource packedWeights(DType w, MemorySegment weights, long wOffset, long rowBytes) {
        return w == DType.F32
                ? BSource.matrix(weights, wOffset, 1, rowBytes / 4)
                : BSource.weights(weights, wOffset, w, rowBytes);
    }

    // ---------------------------------------------------------------------------------------
    // Packed path

    /**
     * Where the k x n operand B comes from: an F32 matrix with element strides ({@code dtype ==
     * null}), or the rows of a weight matrix (B[p, j] = W[j, p]) in {@code dtype}.
     */
    private record BSource(MemorySegment seg, long offset, long rowStride, long colStride,
            DType dtype, long weightRowBytes) {
        static BSource matrix(MemorySegment seg, long offset, long rowStride, long colStride) {
            return new BSource(seg, offset, rowStride, colStride, null, 0);
        }

        static BSource weights(MemorySegment seg, long offset, DType dtype, long rowBytes) {
            return new BSource(seg, offset, 0, 0, dtype, rowBytes);
        }
    }

    /** Per-thread packing buffers, grown on demand and reused across calls. */
    private static final class Buffers {
        float[] a = new float[0];
        float[] b = new float[0];
        float[] run = new float[KC];
        /** The small-m path's packed activations, filled by the calling thread and read by all. */
        float[] activations = new float[0];
        final float[] tile = new float[MR * NR];

        float[] activations(int size) {
            return activations.length >= size ? activations : (activations = new float[size]);
        }

        float[] a(int size) {
            return a.length >= size ? a : (a = new float[size]);
        }

        float[] b(int size) {
            return b.length >= size ? b : (b = new float[size]);
        }

        float[] run(int size) {
            return run.length >= size ? run : (run = new float[size]);
        }
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private static void gemmPacked(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            BSource b, MemorySegment c, long cOffset, long ldc) {
        // One task per thread, each owning a rectangle of C: splitting columns first keeps every
        // task's B block private, and rows are split only when there are too few column panels.
        int threads = 2.0 * m * n * k < PARALLEL_FLOPS ? 1 : Parallel.parallelism();
        int rowPanels = ceilDiv(m, MR);
        int colPanels = ceilDiv(n, NR);
        int colParts = Math.min(threads, colPanels);
        int rowParts = Math.max(1, Math.min(threads / colParts, rowPanels));
        Parallel.forRange(rowParts * colParts, 1, (start, end) -> {
            Buffers buffers = BUFFERS.get();
            for (int t = start; t < end; t++) {
                int rp = t / colParts;
                int cp = t % colParts;
                int i0 = split(rowPanels, rowParts, rp) * MR;
                int i1 = Math.min(m, split(rowPanels, rowParts, rp + 1) * MR);
                int j0 = split(colPanels, colParts, cp) * NR;
                int j1 = Math.min(n, split(colPanels, colParts, cp + 1) * NR);
                gemmBlock(i0, i1, j0, j1, k, a, aOffset, aRowStride, aColStride, b,
                        c, cOffset, ldc, buffers);
            }
        });
    }

    /** GotoBLAS loop nest over C[i0:i1, j0:j1]. */
    private static void gemmBlock(int i0, int i1, int j0, int j1, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            BSource b, MemorySegment c, long cOffset, long ldc, Buffers buffers) {
        // Even block sizes: k = 300 as 2 x 150 rather than 256 + 44 keeps every pass deep enough.
        // Depths stay multiples of the weight's block (32, 256 for K-quants) so no block is split.
        int quantum = b.dtype == null ? MIN_BLOCK : Math.max(MIN_BLOCK, b.dtype.blockSize());
        int kc = roundUp(ceilDiv(k, ceilDiv(k, KC)), quantum);
        int mc = roundUp(ceilDiv(i1 - i0, ceilDiv(i1 - i0, MC)), MR);
        int ncMax = Math.min(NC, roundUp(j1 - j0, NR));
        float[] packedA = buffers.a(mc * kc);
        float[] packedB = buffers.b(ncMax * kc);
        for (int jc = j0; jc < j1; jc += NC) {
            int nc = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += kc) {
                int kd = Math.min(kc, k - pc);
                boolean accumulate = pc > 0;
                packB(b, pc, kd, jc, nc, packedB, buffers);
                for (int ic = i0; ic < i1; ic += mc) {
                    int md = Math.min(mc, i1 - ic);
                    packA(a, aOffset, aRowStride, aColStride, ic, md, pc, kd, packedA);
                    // Row panels outermost: the A panel stays in L1, the B block streams from L2,
                    // and each C row is walked left to right, which the hardware prefetcher
                    // follows (column-panel order touched MR new rows per tile and spent a quarter
                    // of the time waiting on C).
                    for (int ir = 0; ir < md; ir += MR) {
                        int rows = Math.min(MR, md - ir);
                        for (int jr = 0; jr < nc; jr += NR) {
                            int cols = Math.min(NR, nc - jr);
                            long cTile = cOffset + 4 * ((ic + ir) * ldc + jc + jr);
                            microKernel(packedA, ir * kd, packedB, jr * kd, kd, buffers.tile,
                                    c, cTile, 4 * ldc, rows, cols, accumulate);
                        }
                    }
                }
            }
        }
    }

    /**
     * Packs A[i0:i0+rows, p0:p0+depth] as MR-row panels, each stored p-major ({@code MR} values
     * of one column of A after another); rows past the end are zero so the kernel needs no row
     * tail.
     */
    private static void packA(MemorySegment a, long offset, long rowStride, long colStride,
            int i0, int rows, int p0, int depth, float[] dst) {
        packRowPanels(a, offset, rowStride, colStride, i0, rows, p0, depth, MR, dst, 0);
    }

    /**
     * Packs A[i0:i0+rows, p0:p0+depth] into {@code dst} from {@code at} as {@code width}-row
     * panels, each stored p-major, rows past the end zero.
     */
    private static void packRowPanels(MemorySegment a, long offset, long rowStride, long colStride,
            int i0, int rows, int p0, int depth, int width, float[] dst, int at) {
        for (int ir = 0; ir < rows; ir += width) {
            int base = at + ir * depth;
            int panelRows = Math.min(width, rows - ir);
            for (int ii = 0; ii < panelRows; ii++) {
                // Walk along the row: with the usual row-major A these reads are contiguous.
                long src = offset + 4 * ((i0 + ir + ii) * rowStride + p0 * colStride);
                for (int p = 0, d = base + ii; p < depth; p++, d += width) {
                    dst[d] = a.get(FLOAT, src + 4 * p * colStride);
                }
            }
            for (int ii = panelRows; ii < width; ii++) {
                for (int p = 0, d = base + ii; p < depth; p++, d += width) {
                    dst[d] = 0f;
                }
            }
        }
    }

    /**
     * Packs B[p0:p0+depth, j0:j0+cols] as NR-column panels, each stored p-major, zero-padded to
     * whole panels. Weight rows are converted to float here, once per KC x NC block of a task,
     * so the same kernel serves every dtype.
     */
    private static void packB(BSource b, int p0, int depth, int j0, int cols, float[] dst, Buffers buffers) {
        if (b.dtype == null && b.colStride == 1) {
            packRowMajorB(b, p0, depth, j0, cols, dst);
            return;
        }
        // Otherwise columns of B are runs along p (weight rows, transposed B) or scattered:
        // convert one column at a time into a contiguous run, then spread it over its panel.
        float[] run = buffers.run(depth);
        for (int jr = 0; jr < cols; jr += NR) {
            int base = jr * depth;
            int panelCols = Math.min(NR, cols - jr);
            for (int jj = 0; jj < NR; jj++) {
                if (jj < panelCols) {
                    readColumn(b, j0 + jr + jj, p0, depth, run);
                } else {
                    java.util.Arrays.fill(run, 0, depth, 0f);
                }
                for (int p = 0, d = base + jj; p < depth; p++, d += NR) {
                    dst[d] = run[p];
                }
            }
        }
    }

    /** Row-major F32 B: each panel row is NR contiguous floats, copied as whole vectors. */
    private static void packRowMajorB(BSource b, int p0, int depth, int j0, int cols, float[] dst) {
        MemorySegment seg = b.seg;
        for (int jr = 0; jr < cols; jr += NR) {
            int base = jr * depth;
            int panelCols = Math.min(NR, cols - jr);
            long src = b.offset + 4 * (p0 * b.rowStride + j0 + jr);
            long rowBytes = 4 * b.rowStride;
            if (panelCols == NR) {
                for (int p = 0; p < depth; p++, src += rowBytes) {
                    for (int v = 0; v < NR; v += L) {
                        FloatVector.fromMemorySegment(SPECIES, seg, src + 4L * v, LE)
                                .intoArray(dst, base + p * NR + v);
                    }
                }
            } else {
                for (int p = 0; p < depth; p++, src += rowBytes) {
                    for (int v = 0; v < NR; v += L) {
                        VectorMask<Float> inside = SPECIES.indexInRange(v, panelCols);
                        FloatVector.fromMemorySegment(SPECIES, seg, src + 4L * v, LE, inside)
                                .intoArray(dst, base + p * NR + v);
                    }
                }
            }
        }
    }

    /** B[p0:p0+depth, j] as floats. */
    private static void readColumn(BSource b, int j, int p0, int depth, float[] run) {
        if (b.dtype != null) {
            long row = b.offset + j * b.weightRowBytes;
            decodeRun(b.dtype, b.seg, row, p0, depth, run);
        } else {
            long src = b.offset + 4 * (p0 * b.rowStride + j * b.colStride);
            for (int p = 0; p < depth; p++) {
                run[p] = b.seg.get(FLOAT, src + 4 * p * b.rowStride);
            }
        }
    }

    /**
     * Converts {@code count} values of a weight row, starting at element {@code p0}, into floats.
     * For quantised types, p0 and count are multiples of the block size. One small method per
     * dtype, so that each is compiled with its own profile: a single method covering all of them
     * grew past C2's inlining budget once several dtypes had run, and its boxed vectors ran over
     * 10x slower. The quantised ones are in {@link QuantDecoders}.
     */
    private static void decodeRun(DType dtype, MemorySegment w, long row, int p0, int count, float[] dst) {
        decodeRun(dtype, w, row, p0, count, dst, 0);
    }

    /** {@link #decodeRun} into {@code dst[at ..]}. */
    private static void decodeRun(DType dtype, MemorySegment w, long row, int p0, int count, float[] dst, int at) {
        switch (dtype) {
            case F32 -> decodeF32(w, row + 4L * p0, count, dst, at);
            case BF16 -> decodeBF16(w, row + 2L * p0, count, dst, at);
            case F16 -> decodeF16(w, row + 2L * p0, count, dst, at);
            case I32 -> throw new AssertionError(dtype);
            default -> QuantDecoders.decode(dtype, w, row + (long) (p0 / dtype.blockSize()) * dtype.blockBytes(),
                    count / dtype.blockSize(), dst, at);
        }
    }

    private static void decodeF32(MemorySegment w, long src, int count, float[] dst, int at) {
        int p = 0;
        for (; p <= count - L; p += L) f32(w, src + 4L * p).intoArray(dst, at + p);
        for (; p < count; p++) dst[at + p] = w.get(FLOAT, src + 4L * p);
    }

    private static void decodeBF16(MemorySegment w, long src, int count, float[] dst, int at) {
        int p = 0;
        for (; p <= count - L; p += L) bf16(w, src + 2L * p).intoArray(dst, at + p);
        for (; p < count; p++) dst[at + p] = Float.intBitsToFloat(w.get(SHORT, src + 2L * p) << 16);
    }

    /**
     * JDK 25's Vector API has no lane-wise half-to-float conversion, but C2 auto-vectorizes this
     * loop into vcvtph2ps: 3x faster than emulating the conversion with integer lane operations
     * (measured), and exact by definition.
     */
    private static void decodeF16(MemorySegment w, long src, int count, float[] dst, int at) {
        for (int p = 0; p < count; p++) dst[at + p] = Float.float16ToFloat(w.get(SHORT, src + 2L * p));
    }

    // ---------------------------------------------------------------------------------------
    // Micro-kernels

    /**
     * C[0:rows, 0:cols] (+)= A panel · B panel. The kernels only compute: they leave the tile in
     * {@code tile} (MR x NR, row-major, L1-resident), and one generic loop merges it into C. That
     * keeps the kernels free of calls (C2 boxes vectors passed to a method it fails to inline,
     * and inlining budgets run out in a method this size; a kernel storing through a helper ran
     * at 4 GFLOP/s). The merge, mostly the C traffic itself, is about 8% of the time at 2048^3.
     */
    private static void microKernel(float[] a, int ai, float[] b, int bi, int depth, float[] tile,
            MemorySegment c, long cOffset, long ldcBytes, int rows, int cols, boolean accumulate) {
        if (MR == 12) {
            kernel12x2(a, ai, b, bi, depth, tile);
        } else {
            kernel6x2(a, ai, b, bi, depth, tile);
        }
        long row = cOffset;
        for (int r = 0; r < rows; r++, row += ldcBytes) {
            for (int v = 0; v < NR; v += L) {
                long at = row + 4L * v;
                FloatVector sum = FloatVector.fromArray(SPECIES, tile, r * NR + v);
                if (cols >= v + L) {
                    if (accumulate) sum = sum.add(FloatVector.fromMemorySegment(SPECIES, c, at, LE));
                    sum.intoMemorySegment(c, at, LE);
                } else if (cols > v) {
                    VectorMask<Float> inside = SPECIES.indexInRange(v, cols);
                    if (accumulate) sum = sum.add(FloatVector.fromMemorySegment(SPECIES, c, at, LE, inside));
                    sum.intoMemorySegment(c, at, LE, inside);
                }
            }
        }
    }

    /** 12 x 2L tile for 32-register machines: 24 accumulators, 2 B, 1 broadcast. */
    private static void kernel12x2(float[] a, int ai, float[] b, int bi, int depth, float[] tile) {
        FloatVector c00 = FloatVector.zero(SPECIES), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
        FloatVector c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        FloatVector c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00;
        FloatVector cb0 = c00, cb1 = c00;
        for (int p = 0; p < depth; p++, ai += 12, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + L);
            FloatVector x = FloatVector.broadcast(SPECIES, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(SPECIES, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(SPECIES, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(SPECIES, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(SPECIES, a[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(SPECIES, a[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(SPECIES, a[ai + 6]);
            c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(SPECIES, a[ai + 7]);
            c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
            x = FloatVector.broadcast(SPECIES, a[ai + 8]);
            c80 = x.fma(b0, c80); c81 = x.fma(b1, c81);
            x = FloatVector.broadcast(SPECIES, a[ai + 9]);
            c90 = x.fma(b0, c90); c91 = x.fma(b1, c91);
            x = FloatVector.broadcast(SPECIES, a[ai + 10]);
            ca0 = x.fma(b0, ca0); ca1 = x.fma(b1, ca1);
            x = FloatVector.broadcast(SPECIES, a[ai + 11]);
            cb0 = x.fma(b0, cb0); cb1 = x.fma(b1, cb1);
        }
        c00.intoArray(tile, 0);           c01.intoArray(tile, L);
        c10.intoArray(tile, NR);          c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);      c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);      c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR);      c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR);      c51.intoArray(tile, 5 * NR + L);
        c60.intoArray(tile, 6 * NR);      c61.intoArray(tile, 6 * NR + L);
        c70.intoArray(tile, 7 * NR);      c71.intoArray(tile, 7 * NR + L);
        c80.intoArray(tile, 8 * NR);      c81.intoArray(tile, 8 * NR + L);
        c90.intoArray(tile, 9 * NR);      c91.intoArray(tile, 9 * NR + L);
        ca0.intoArray(tile, 10 * NR);     ca1.intoArray(tile, 10 * NR + L);
        cb0.intoArray(tile, 11 * NR);     cb1.intoArray(tile, 11 * NR + L);
    }

    /** 6 x 2L tile for 16-register machines (AVX2): 12 accumulators, 2 B, 1 broadcast. */
    private static void kernel6x2(float[] a, int ai, float[] b, int bi, int depth, float[] tile) {
        FloatVector c00 = FloatVector.zero(SPECIES), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
        FloatVector c50 = c00, c51 = c00;
        for (int p = 0; p < depth; p++, ai += 6, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + L);
            FloatVector x = FloatVector.broadcast(SPECIES, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(SPECIES, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(SPECIES, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(SPECIES, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(SPECIES, a[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(SPECIES, a[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        c00.intoArray(tile, 0);           c01.intoArray(tile, L);
        c10.intoArray(tile, NR);          c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);      c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);      c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR);      c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR);      c51.intoArray(tile, 5 * NR + L);
    }

    // ---------------------------------------------------------------------------------------
    // Small-m path: a few dozen to a few hundred rows of A against a weight matrix

    /*
     * Small-m blocking, measured on one thread by thread CPU time (best of 4 to 7 calls, so that
     * other jobs on the 2-vCPU AVX-512 VM count as little as possible), F32 weights:
     * - Depth slices up to SMALL_M_KC = 2048 deep, as long as the slice of all packed
     *   activations stays within SLICE_FLOATS (512 KiB, in L2): at m = 64 on [8192, 2048] this
     *   decodes whole weight rows at a time, which streams them from memory better than
     *   256-long runs (109 GFLOP/s against 94 at KC = 256); at m = 512 the slice limit brings
     *   the depth back to 256. A 256 KiB slice was 4-10% slower at m = 64, 128 and 512.
     * - SUMS_BLOCK_FLOATS (1 MiB of sums, in L2) sets how many weight rows share one pass over
     *   the packed activations: 1 MiB beat 256 KiB by 9% at m = 512 on [2048, 8192] and
     *   matched it on [8192, 2048].
     * - Rows of the weight panel lie PANEL_GAP floats apart, 64 bytes more than the deepest
     *   slice, so the rows a kernel step reads are not all in one L1 set.
     * Above SMALL_M_MAX_ROWS the packed path wins again: at m = 1024 on [2048, 8192] it took
     * 286 ms against this path's 293.
     */
    static final int SMALL_M_MAX_ROWS = 512;
    private static final int SMALL_M_KC = 2048;
    private static final int SLICE_FLOATS = 1 << 17;
    private static final int SUMS_BLOCK_FLOATS = 1 << 18;
    private static final int PANEL_GAP = SMALL_M_KC + 16;
    /** Weight rows of sums written back to C at a time: 256 lines of sums, 16 KiB, half an L1. */
    private static final int WRITE_BACK_ROWS = 256;

    /**
     * C = A Wᵀ for GEMV_MAX_ROWS &lt; m, W row-major [n, k] in any dtype, with the roles of the
     * packed path swapped: the activations are the small operand, so they are packed once per
     * call (NR-row panels, p-major, shared read-only by every task), and the weights, the large
     * one, are read exactly once per call in their stored row order. Tasks split the weight
     * rows, never m. Each task decodes MR weight rows x one depth slice at a time into a
     * row-major scratch panel that the micro-kernel broadcasts from, against every activation
     * panel, so a weight is decoded once per call whatever m is. The weights need no
     * transposition: the kernel's tile holds C transposed (vectors run along m), summed across
     * depth slices in a per-task block of sums that is written to C once, at the end.
     */
    private static void gemmSmallM(int m, int n, int k,
            MemorySegment a, long aOffset, long aRowStride, long aColStride,
            DType dtype, MemorySegment w, long wOffset, long rowBytes,
            MemorySegment c, long cOffset, long ldc) {
        int panels = ceilDiv(m, NR);
        int paddedRows = panels * NR;
        if ((long) paddedRows * k > Integer.MAX_VALUE - 16) {
            // Beyond one Java array: the general path packs A a block at a time instead.
            gemmPacked(m, n, k, a, aOffset, aRowStride, aColStride, packedWeights(dtype, w, wOffset, rowBytes),
                    c, cOffset, ldc);
            return;
        }
        float[] packed = BUFFERS.get().activations(paddedRows * k);
        int packGrain = Math.max(1, (int) (PARALLEL_FLOPS / (2L * NR * k)));
        Parallel.forRange(panels, packGrain, (p0, p1) -> {
            for (int panel = p0; panel < p1; panel++) {
                int i0 = panel * NR;
                packRowPanels(a, aOffset, aRowStride, aColStride, i0, Math.min(NR, m - i0), 0, k, NR,
                        packed, i0 * k);
            }
        });

        int quantum = Math.max(MIN_BLOCK, dtype.blockSize());
        int deepest = Math.max(KC, Math.min(SMALL_M_KC, SLICE_FLOATS / paddedRows)) / 256 * 256;
        int kc = roundUp(ceilDiv(k, ceilDiv(k, deepest)), quantum);
        int weightPanels = ceilDiv(n, MR);
        int threads = 2.0 * m * n * k < PARALLEL_FLOPS ? 1 : Parallel.parallelism();
        int parts = Math.min(threads, weightPanels);
        int blockRows = Math.max(MR, SUMS_BLOCK_FLOATS / paddedRows / MR * MR);
        Parallel.forRange(parts, 1, (start, end) -> {
            Buffers buffers = BUFFERS.get();
            float[] panel = buffers.b(MR * PANEL_GAP);
            float[] sums = buffers.a(blockRows * paddedRows);
            for (int t = start; t < end; t++) {
                int j0 = split(weightPanels, parts, t) * MR;
                int j1 = Math.min(n, split(weightPanels, parts, t + 1) * MR);
                for (int jc = j0; jc < j1; jc += blockRows) {
                    int rows = Math.min(blockRows, j1 - jc);
                    for (int pc = 0; pc < k; pc += kc) {
                        int depth = Math.min(kc, k - pc);
                        for (int jr = 0; jr < rows; jr += MR) {
                            for (int r = 0; r < MR; r++) {
                                if (jr + r < rows) {
                                    decodeRun(dtype, w, wOffset + (jc + jr + r) * rowBytes, pc, depth, panel, r * PANEL_GAP);
                                } else {
                                    java.util.Arrays.fill(panel, r * PANEL_GAP, r * PANEL_GAP + depth, 0f);
                                }
                            }
                            for (int ib = 0; ib < paddedRows; ib += NR) {
                                weightsKernel(packed, ib * k + pc * NR, panel, depth, buffers.tile,
                                        sums, jr * paddedRows + ib, paddedRows, pc > 0);
                            }
                        }
                    }
                    // sums[r * paddedRows + i] is C[i, jc + r]: gathered into a heap run and copied
                    // to C a run at a time, WRITE_BACK_ROWS weight rows (of sums, 64 B per 16 i) at a
                    // time so the lines gathered stay in L1 while 16 i read them. A store per
                    // element through the segment took 4.3% of a one-thread stories15M pp64.
                    float[] run = buffers.run(WRITE_BACK_ROWS);
                    for (int r0 = 0; r0 < rows; r0 += WRITE_BACK_ROWS) {
                        int count = Math.min(WRITE_BACK_ROWS, rows - r0);
                        for (int i = 0; i < m; i++) {
                            for (int r = 0, at = r0 * paddedRows + i; r < count; r++, at += paddedRows) run[r] = sums[at];
                            MemorySegment.copy(run, 0, c, FLOAT, cOffset + 4 * (i * ldc + jc + r0), count);
                        }
                    }
                }
            }
        });
    }

    /**
     * sums[si + r * sumsStride + 0:NR] (+)= sum over p of w[r * PANEL_GAP + p] * a[ai + p * NR + 0:NR]
     * for r &lt; MR: MR weight rows broadcast against one NR-row panel of packed activations.
     * Tile in registers, then merged through {@code tile} as in {@link #microKernel}.
     */
    private static void weightsKernel(float[] a, int ai, float[] w, int depth, float[] tile,
            float[] sums, int si, int sumsStride, boolean accumulate) {
        if (MR == 12) {
            weightRows12x2(w, a, ai, depth, tile);
        } else {
            weightRows6x2(w, a, ai, depth, tile);
        }
        for (int r = 0; r < MR; r++) {
            for (int v = 0; v < NR; v += L) {
                FloatVector sum = FloatVector.fromArray(SPECIES, tile, r * NR + v);
                int at = si + r * sumsStride + v;
                if (accumulate) sum = sum.add(FloatVector.fromArray(SPECIES, sums, at));
                sum.intoArray(sums, at);
            }
        }
    }

    /*
     * The small-m kernels: the packed kernels' 12 x 2L and 6 x 2L tiles, with the broadcast side
     * read from rows of the weight panel, PANEL_GAP apart, instead of from an interleaved A panel. A
     * constant row gap keeps each broadcast a load with a fixed displacement; a gap passed as an
     * argument would need an address register per row, and there are not twelve to spare.
     * A 6 x 4L tile, with half the broadcasts per FMA, measured no faster (vector/packed speed
     * 1.07-2.35 against 1.12-2.59 for 12 x 2L, m = 64..512, F32 and Q8_0, in LinearReport).
     */

    /** 12 weight rows x 2L activation rows: 24 accumulators, 2 activation vectors, 1 broadcast. */
    private static void weightRows12x2(float[] w, float[] b, int bi, int depth, float[] tile) {
        FloatVector c00 = FloatVector.zero(SPECIES), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
        FloatVector c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        FloatVector c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00;
        FloatVector cb0 = c00, cb1 = c00;
        for (int p = 0; p < depth; p++, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + L);
            FloatVector x = FloatVector.broadcast(SPECIES, w[p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(SPECIES, w[p + PANEL_GAP]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(SPECIES, w[p + 2 * PANEL_GAP]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(SPECIES, w[p + 3 * PANEL_GAP]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(SPECIES, w[p + 4 * PANEL_GAP]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(SPECIES, w[p + 5 * PANEL_GAP]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(SPECIES, w[p + 6 * PANEL_GAP]);
            c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(SPECIES, w[p + 7 * PANEL_GAP]);
            c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
            x = FloatVector.broadcast(SPECIES, w[p + 8 * PANEL_GAP]);
            c80 = x.fma(b0, c80); c81 = x.fma(b1, c81);
            x = FloatVector.broadcast(SPECIES, w[p + 9 * PANEL_GAP]);
            c90 = x.fma(b0, c90); c91 = x.fma(b1, c91);
            x = FloatVector.broadcast(SPECIES, w[p + 10 * PANEL_GAP]);
            ca0 = x.fma(b0, ca0); ca1 = x.fma(b1, ca1);
            x = FloatVector.broadcast(SPECIES, w[p + 11 * PANEL_GAP]);
            cb0 = x.fma(b0, cb0); cb1 = x.fma(b1, cb1);
        }
        c00.intoArray(tile, 0);           c01.intoArray(tile, L);
        c10.intoArray(tile, NR);          c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);      c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);      c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR);      c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR);      c51.intoArray(tile, 5 * NR + L);
        c60.intoArray(tile, 6 * NR);      c61.intoArray(tile, 6 * NR + L);
        c70.intoArray(tile, 7 * NR);      c71.intoArray(tile, 7 * NR + L);
        c80.intoArray(tile, 8 * NR);      c81.intoArray(tile, 8 * NR + L);
        c90.intoArray(tile, 9 * NR);      c91.intoArray(tile, 9 * NR + L);
        ca0.intoArray(tile, 10 * NR);     ca1.intoArray(tile, 10 * NR + L);
        cb0.intoArray(tile, 11 * NR);     cb1.intoArray(tile, 11 * NR + L);
    }

    /** 6 weight rows x 2L activation rows for 16-register machines. */
    private static void weightRows6x2(float[] w, float[] b, int bi, int depth, float[] tile) {
        FloatVector c00 = FloatVector.zero(SPECIES), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
        FloatVector c50 = c00, c51 = c00;
        for (int p = 0; p < depth; p++, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + L);
            FloatVector x = FloatVector.broadcast(SPECIES, w[p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(SPECIES, w[p + PANEL_GAP]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(SPECIES, w[p + 2 * PANEL_GAP]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(SPECIES, w[p + 3 * PANEL_GAP]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(SPECIES, w[p + 4 * PANEL_GAP]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(SPECIES, w[p + 5 * PANEL_GAP]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        c00.intoArray(tile, 0);           c01.intoArray(tile, L);
        c10.intoArray(tile, NR);          c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);      c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);      c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR);      c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR);      c51.intoArray(tile, 5 * NR + L);
    }

    // ---------------------------------------------------------------------------------------
    // Memory-bound paths for one to a few rows of A

    /**
     * C[i, j] = dot(W[j, :], x[i, :]) for i < m, with the rows of x contiguous in a heap array.
     * Each thread takes a range of weight rows, and each weight row is read from memory once.
     *
     * <p>F32 rows are dotted straight from the weight memory (and re-read from L1 for the other
     * rows of x). Other dtypes are widened once per row, in L1-sized chunks, by the same decoder
     * that packs B, into a float buffer that every row of x is dotted with. Staging costs an L1
     * round trip but measured faster than fusing the decode into a four-accumulator dot loop:
     * C2 gives up inlining the decode after a couple of copies there, and boxes the vectors.
     */
    private static void gemv(int m, int n, int k, float[] x, DType dtype,
            MemorySegment w, long wOffset, long rowBytes, MemorySegment c, long cOffset, long ldc) {
        int grain = Math.max(1, (int) (gemvParallelFlops() / (2L * m * k)));
        boolean staged = dtype != DType.F32;
        Parallel.forRange(n, grain, (j0, j1) -> {
            float[] decoded = staged ? BUFFERS.get().run(Math.min(k, GEMV_CHUNK)) : null;
            float[] sums = new float[m];
            for (int j = j0; j < j1; j++) {
                long row = wOffset + j * rowBytes;
                if (staged) {
                    java.util.Arrays.fill(sums, 0f);
                    for (int p0 = 0; p0 < k; p0 += GEMV_CHUNK) {
                        int count = Math.min(GEMV_CHUNK, k - p0);
                        decodeRun(dtype, w, row, p0, count, decoded);
                        for (int i = 0; i < m; i++) sums[i] += dot(decoded, x, i * k + p0, count);
                    }
                } else {
                    int i = 0;
                    if (RegisterTile.WIDE_REGISTER_FILE) for (; i + 4 <= m; i += 4) dotF32FourRows(w, row, x, i * k, k, sums, i);
                    for (; i < m; i++) sums[i] = dotF32(w, row, x, i * k, k);
                }
                for (int i = 0; i < m; i++) c.set(FLOAT, cOffset + 4 * (i * ldc + j), sums[i]);
            }
        });
    }

    // Four independent accumulators hide the FMA latency; one would serialize on it.

    private static float dotF32(MemorySegment w, long row, float[] x, int xi, int k) {
        FloatVector s0 = FloatVector.zero(SPECIES), s1 = s0, s2 = s0, s3 = s0;
        int p = 0;
        for (; p <= k - 4 * L; p += 4 * L) {
            long at = row + 4L * p;
            s0 = f32(w, at).fma(FloatVector.fromArray(SPECIES, x, xi + p), s0);
            s1 = f32(w, at + 4L * L).fma(FloatVector.fromArray(SPECIES, x, xi + p + L), s1);
            s2 = f32(w, at + 8L * L).fma(FloatVector.fromArray(SPECIES, x, xi + p + 2 * L), s2);
            s3 = f32(w, at + 12L * L).fma(FloatVector.fromArray(SPECIES, x, xi + p + 3 * L), s3);
        }
        for (; p <= k - L; p += L) {
            s0 = f32(w, row + 4L * p).fma(FloatVector.fromArray(SPECIES, x, xi + p), s0);
        }
        float sum = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; p < k; p++) sum += w.get(FLOAT, row + 4L * p) * x[xi + p];
        return sum;
    }

    /**
     * {@link #dotF32} of one weight row with four activation rows (x at xi, xi + k, xi + 2k,
     * xi + 3k) into sums[si ..], each weight vector loaded once for the four: a batch of decode
     * rows otherwise reads every weight row once per row, two loads per FMA. Each row's sum is
     * formed exactly as dotF32 forms it (the same four accumulators over the same lanes, the same
     * reduction and tail), so a sequence gets the same logits batched as alone. 16 accumulators,
     * 4 weight vectors and an operand: for 32-register machines only. Measured with BatchingReport
     * (stories15M F32, greedy, 2 threads, Xeon VM at load 1.3, builds A B A in one session): 4
     * streams 460 and 414 tok/s per-row, 621 with this; 8 streams 530 and 490, 686; 16 streams
     * (the small-m path) unchanged at 962-982.
     */
    private static void dotF32FourRows(MemorySegment w, long row, float[] x, int xi, int k, float[] sums, int si) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, d0 = a0, d1 = a0, d2 = a0, d3 = a0;
        int xa = xi, xb = xi + k, xc = xi + 2 * k, xd = xi + 3 * k;
        int p = 0;
        for (; p <= k - 4 * L; p += 4 * L) {
            long at = row + 4L * p;
            FloatVector w0 = f32(w, at), w1 = f32(w, at + 4L * L), w2 = f32(w, at + 8L * L), w3 = f32(w, at + 12L * L);
            a0 = w0.fma(FloatVector.fromArray(SPECIES, x, xa + p), a0);
            a1 = w1.fma(FloatVector.fromArray(SPECIES, x, xa + p + L), a1);
            a2 = w2.fma(FloatVector.fromArray(SPECIES, x, xa + p + 2 * L), a2);
            a3 = w3.fma(FloatVector.fromArray(SPECIES, x, xa + p + 3 * L), a3);
            b0 = w0.fma(FloatVector.fromArray(SPECIES, x, xb + p), b0);
            b1 = w1.fma(FloatVector.fromArray(SPECIES, x, xb + p + L), b1);
            b2 = w2.fma(FloatVector.fromArray(SPECIES, x, xb + p + 2 * L), b2);
            b3 = w3.fma(FloatVector.fromArray(SPECIES, x, xb + p + 3 * L), b3);
            c0 = w0.fma(FloatVector.fromArray(SPECIES, x, xc + p), c0);
            c1 = w1.fma(FloatVector.fromArray(SPECIES, x, xc + p + L), c1);
            c2 = w2.fma(FloatVector.fromArray(SPECIES, x, xc + p + 2 * L), c2);
            c3 = w3.fma(FloatVector.fromArray(SPECIES, x, xc + p + 3 * L), c3);
            d0 = w0.fma(FloatVector.fromArray(SPECIES, x, xd + p), d0);
            d1 = w1.fma(FloatVector.fromArray(SPECIES, x, xd + p + L), d1);
            d2 = w2.fma(FloatVector.fromArray(SPECIES, x, xd + p + 2 * L), d2);
            d3 = w3.fma(FloatVector.fromArray(SPECIES, x, xd + p + 3 * L), d3);
        }
        for (; p <= k - L; p += L) {
            FloatVector w0 = f32(w, row + 4L * p);
            a0 = w0.fma(FloatVector.fromArray(SPECIES, x, xa + p), a0);
            b0 = w0.fma(FloatVector.fromArray(SPECIES, x, xb + p), b0);
            c0 = w0.fma(FloatVector.fromArray(SPECIES, x, xc + p), c0);
            d0 = w0.fma(FloatVector.fromArray(SPECIES, x, xd + p), d0);
        }
        float sa = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        float sb = b0.add(b1).add(b2.add(b3)).reduceLanes(VectorOperators.ADD);
        float sc = c0.add(c1).add(c2.add(c3)).reduceLanes(VectorOperators.ADD);
        float sd = d0.add(d1).add(d2.add(d3)).reduceLanes(VectorOperators.ADD);
        for (; p < k; p++) {
            float wp = w.get(FLOAT, row + 4L * p);
            sa += wp * x[xa + p];
            sb += wp * x[xb + p];
            sc += wp * x[xc + p];
            sd += wp * x[xd + p];
        }
        sums[si] = sa;
        sums[si + 1] = sb;
        sums[si + 2] = sc;
        sums[si + 3] = sd;
    }

    /** dot(w[0:count], x[xi:xi+count]) over heap arrays. */
    private static float dot(float[] w, float[] x, int xi, int count) {
        FloatVector s0 = FloatVector.zero(SPECIES), s1 = s0, s2 = s0, s3 = s0;
        int p = 0;
        for (; p <= count - 4 * L; p += 4 * L) {
            s0 = FloatVector.fromArray(SPECIES, w, p).fma(FloatVector.fromArray(SPECIES, x, xi + p), s0);
            s1 = FloatVector.fromArray(SPECIES, w, p + L).fma(FloatVector.fromArray(SPECIES, x, xi + p + L), s1);
            s2 = FloatVector.fromArray(SPECIES, w, p + 2 * L).fma(FloatVector.fromArray(SPECIES, x, xi + p + 2 * L), s2);
            s3 = FloatVector.fromArray(SPECIES, w, p + 3 * L).fma(FloatVector.fromArray(SPECIES, x, xi + p + 3 * L), s3);
        }
        for (; p <= count - L; p += L) {
            s0 = FloatVector.fromArray(SPECIES, w, p).fma(FloatVector.fromArray(SPECIES, x, xi + p), s0);
        }
        float sum = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; p < count; p++) sum += w[p] * x[xi + p];
        return sum;
    }

    /**
     * One row of A times a row-major B: C[0, :] = sum_p A[0, p] * B[p, :], accumulated along
     * the rows of B so every read of B is a contiguous vector. Threads split the columns.
     */
    private static void rowTimesMatrix(int n, int k, MemorySegment a, long aOffset, long aColStride,
            MemorySegment b, long bOffset, long bRowStride, MemorySegment c, long cOffset) {
        float[] x = copyRows(1, k, a, aOffset, 0, aColStride);
        int grain = Math.max(NR, (int) (PARALLEL_FLOPS / (2L * k)));
        Parallel.forRange(ceilDiv(n, L), ceilDiv(grain, L), (v0, v1) -> {
            // Column strips that fit L1 with room to spare, so the sums never leave it.
            int strip = 2048;
            float[] sums = new float[Math.min(strip, (v1 - v0) * L)];
            for (int j0 = v0 * L; j0 < Math.min(n, v1 * L); j0 += strip) {
                int cols = Math.min(strip, Math.min(n, v1 * L) - j0);
                java.util.Arrays.fill(sums, 0f);
                long rowStart = bOffset + 4L * j0;
                for (int p = 0; p < k; p++, rowStart += 4 * bRowStride) {
                    FloatVector xp = FloatVector.broadcast(SPECIES, x[p]);
                    int j = 0;
                    for (; j <= cols - L; j += L) {
                        FloatVector s = FloatVector.fromArray(SPECIES, sums, j);
                        f32(b, rowStart + 4L * j).fma(xp, s).intoArray(sums, j);
                    }
                    for (; j < cols; j++) sums[j] += x[p] * b.get(FLOAT, rowStart + 4L * j);
                }
                MemorySegment.copy(sums, 0, c, FLOAT, cOffset + 4L * j0, cols);
            }
        });
    }

    // ---------------------------------------------------------------------------------------
    // Loads that widen one vector of weights to SPECIES

    private static FloatVector f32(MemorySegment w, long offset) {
        return FloatVector.fromMemorySegment(SPECIES, w, offset, LE);
    }

    /** bfloat16 is the high half of a float: widen to int and shift into place. */
    private static FloatVector bf16(MemorySegment w, long offset) {
        ShortVector h = ShortVector.fromMemorySegment(SHORTS, w, offset, LE);
        return ((IntVector) h.convertShape(VectorOperators.S2I, INTS, 0))
                .lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    // ---------------------------------------------------------------------------------------
    // Argument checks (once per call) and small helpers

    private static void checkSizes(int m, int n, int k) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("negative size: m=" + m + ", n=" + n + ", k=" + k);
        }
    }

    /** The element furthest from the origin of a rows x cols matrix must lie inside the segment. */
    private static void checkMatrix(String name, MemorySegment seg, long offset, int rows, int cols,
            long rowStride, long colStride) {
        if (rowStride < 0 || colStride < 0) {
            throw new IllegalArgumentException(name + " strides must be non-negative, got "
                    + rowStride + ", " + colStride);
        }
        long bytes = 0;
        if (rows > 0 && cols > 0) {
            try {
                long last = Math.addExact(Math.multiplyExact(rows - 1L, rowStride),
                        Math.multiplyExact(cols - 1L, colStride));
                bytes = Math.multiplyExact(Math.addExact(last, 1), 4L);
            } catch (ArithmeticException e) {
                bytes = Long.MAX_VALUE;
            }
        }
        checkRange(name, seg, offset, bytes);
    }

    private static void checkOutput(MemorySegment c, long offset, int m, int n, long ldc) {
        if (m > 1 && ldc < n) {
            throw new IllegalArgumentException("ldc must be at least n (" + n + "), got " + ldc);
        }
        checkMatrix("C", c, offset, m, n, ldc, 1);
        if (c.isReadOnly()) throw new IllegalArgumentException("C is read-only");
    }

    private static void checkRange(String name, MemorySegment seg, long offset, long bytes) {
        if (offset < 0 || bytes > seg.byteSize() - offset) {
            throw new IllegalArgumentException(name + " needs " + (bytes == Long.MAX_VALUE ? "more than 2^63" : bytes)
                    + " bytes from offset " + offset + " but the segment holds " + seg.byteSize());
        }
    }

    /** Rows of A gathered into one contiguous array: a strided A is read once, not once per row of W. */
    private static float[] copyRows(int m, int k, MemorySegment a, long offset, long rowStride, long colStride) {
        float[] x = new float[m * k];
        for (int i = 0; i < m; i++) {
            long src = offset + 4 * i * rowStride;
            if (colStride == 1) {
                MemorySegment.copy(a, FLOAT, src, x, i * k, k);
            } else {
                for (int p = 0; p < k; p++) x[i * k + p] = a.get(FLOAT, src + 4 * p * colStride);
            }
        }
        return x;
    }

    private static void zero(MemorySegment c, long offset, int m, int n, long ldc) {
        for (int i = 0; i < m; i++) c.asSlice(offset + 4 * i * ldc, 4L * n).fill((byte) 0);
    }

    /** Start, in panels, of part {@code part} of {@code panels} split into {@code parts}. */
    private static int split(int panels, int parts, int part) {
        return (int) ((long) panels * part / parts);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static int roundUp(int a, int multiple) {
        return ceilDiv(a, multiple) * multiple;
    }
}
