package dev.corvus.vector;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.Quants;
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
 * Integer dot products of quantised weights with activations quantised to 8 bits, for the GEMV
 * path (a few rows of activations against a weight matrix read once).
 *
 * <p>Each activation row is quantised once per call, in blocks of 32 as Q8_0 stores weights: q =
 * round(x / d) with d = max|x| / 127, so |x - d q| &lt;= d / 2. The weights are unpacked into
 * signed 16-bit lanes (their integer codes, offsets such as Q4_0's -8 applied), multiplied with
 * the activation codes in 16-bit lanes (|w q| &lt;= 128 * 127 fits), and adjacent products are
 * summed into 32-bit lanes. One float multiply-add per group of 16 or 32 applies the weight
 * scale times the activation scale; types with a minimum (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) add
 * min * sum(x) with the exact float sums of the activations. The result therefore differs from
 * the float reference only by the activation rounding: at most sum over blocks of (d_b / 2)
 * * sum |w| within the block, plus float rounding.
 *
 * <p>Why 16-bit products, not float: the float path decoded a run of blocks to floats in L1 and
 * dotted them, and was decode bound. In a prototype on one thread of the 2-core Zen 4 VM (71 MB
 * of Q8_0 weights, best CPU-time rate of 17 rounds, load average 11 from other builds), fused
 * int16 dots ran at 14-16 GB/s of weights, fused float dots at 10-16 and int32 lanes at 8-13.
 * JDK 25's Vector API has no vpmaddwd / vpdpbusd, so the pairwise sum into ints is spelled out
 * with shifts and an add. Measured the same way on the first version of this code: Q8_0 14 GB/s
 * (float path 6.0), Q6_K 4.3 (2.7), Q4_K 3.8 (2.1), Q4_0 4.9 (3.5); with -XX:MaxVectorSize=32
 * Q8_0 11.8 (4.1).
 *
 * <p>Q8_0, Q4_0 (at 512 bits), Q4_K and Q6_K with one activation row unpack weights in registers
 * and dot them at once. Otherwise weights are unpacked a chunk at a time into a short array (L1)
 * with one float scale (and minimum) per group, then dotted with every activation row, so the
 * unpacking is paid once per weight row, not once per activation row. Unpackers use 16-lane
 * (256-bit) shorts, 16 being every K-quant's smallest group; the dots use the widest species.
 * Machines without 256-bit vectors keep the float path ({@link #ENABLED}).
 *
 * <p>Measured 2026-12-03 on the 2-vCPU Intel Xeon VM (AVX-512, 32 short lanes), JMH
 * GemvBenchmark, n = k = 4096, one activation row, against the previous kernels in the same run
 * (jmh's PreviousQuantDots, {@code backend=vector-previous}), load average 3.7 to 5.6 from other
 * builds, so best-of-run times (sample mode, p0), two runs in opposite orders: GB/s of weights per
 * thread Q8_0 14.0-16.0 (previous 12.8-13.4), Q4_0 6.5-7.1 (6.4-6.8), Q4_K 4.4-4.5 (3.4), Q6_K
 * 4.8-4.9 (4.1); two threads, one run, 26.6 (25.2), 12.3 (11.6), 8.4 (6.4), 9.0 (8.0). Streaming the same 17.8 MB with nothing but loads and adds
 * (BandwidthBenchmark) ran 26 GB/s on one thread and 44 on two: Q8_0 is bound by its
 * instructions, about 9 vector operations per 32 weights, not by memory. What the single-row
 * kernels gained: two accumulators on alternate groups (Q8_0 1.3x with them); a pair sum in
 * three operations (see below); each Q4_K nibble run loaded once for its two groups, its scales
 * and mins spread from two words with masks; Q6_K's high-bit run loaded once per four groups and
 * its 16 scales converted once per block and spread by one permute per step; and keeping C2 from
 * unrolling Q4_K's per-block loop (see rowQ4_K).
 *
 * <p>Several activation rows (m = 2 to 8) stay on the staged path: the fused variants tried lost
 * to it, measured the same way (m = 4, one thread, load 5 to 7): one accumulator register per row
 * for up to 4 rows passed C2's inlining node limit, and the calls it left boxed their vectors
 * (150 to 700 MB allocated per product for Q4_0, Q4_K, Q6_K); one accumulator vector per row in a
 * float array ran Q8_0 in 7.2 ms against the staged 5.8; the single-row kernel once per row 6.1
 * against 4.9 for Q8_0 and 13.0 against 7.0 for Q6_K. The per-row work (multiply, pair sum,
 * conversion, scaling: about 8 operations per 32 weights) outweighs the unpacking that fusing
 * would share.
 *
 * <p>Tried again 2026-12-04 on the 2-vCPU AMD EPYC VM (AVX2, 16 short lanes), one thread, thread
 * CPU time of a product (best of 33 to 200 rounds) against this staged path alternating first
 * in the same JVM, load average 5 to 9 (commit 9302538, reverted): Q8_0 kernels for four and two
 * rows, each weight vector loaded and widened once for the rows, a block's pair sums added in int
 * lanes before one conversion per block and row. At n = k = 4096: m = 2 1.27-1.30x, 4 1.17x, 8
 * only 1.06-1.08x; at k = 288 (stories15M) m = 4 0.89-1.09x and m = 8 0.75-0.94x. Decoding the
 * weights to floats in registers against four float activation rows (the small-m path's way, a
 * prototype) ran no faster than the fused integer kernel: 5.0 ms at m = 4, 9.5 at m = 8. Writing
 * the four-row kernel with an even/odd accumulator test gave eight dotStep sites, past C2's
 * NodeCountInliningCutoff after five (boxed, 31 ms against 5.3); swapping the two accumulators
 * after each block keeps one site per row. Keeping batched rows bitwise equal to the single-row
 * kernel needs a lane sum in a fixed order, not reduceLanes, whose order differs between the
 * interpreter (lanes in sequence) and C2 (a tree); spelled with rearranges it made the
 * single-row kernel 0.87x of the same kernel with reduceLanes at n = 32000, k = 288 (1.66 ms
 * against 1.43-1.45).
 */
final class QuantDots {
    private QuantDots() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    static final VectorSpecies<Byte> QB = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> QS = ShortVector.SPECIES_256;
    /**
     * The dot products' species: the machine's widest (at 512 bits half the instructions of 256:
     * Q8_0 dots ran 1.8x faster on Zen 4, which issues a 512-bit op in one slot).
     */
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED;
    static final int SL = S.length();
    static final VectorSpecies<Float> F = VectorSpecies.of(float.class, S.vectorShape());
    static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, S.vectorShape());
    /** Lanes of a 32-lane step's pair sums that belong to its second group of 16. */
    private static final VectorMask<Float> SECOND_GROUP = F.indexInRange(-F.length() / 2, F.length() / 2);

    /**
     * Whether the integer path runs: 256-bit vectors must be real (C2 compiles a species wider
     * than the hardware into per-lane Java), and {@code -Dcorvus.gemv.floatActivations=true}
     * turns it off for comparison.
     */
    static final boolean ENABLED = (VectorShapes.preferredBitSize() == 256 || VectorShapes.preferredBitSize() == 512)
            && !Boolean.getBoolean("corvus.gemv.floatActivations");

    /** Weight elements unpacked at a time: 2 KiB of shorts, which stay in L1 for every row of x. */
    private static final int CHUNK = 1024;

    /**
     * Whether the integer path beats the float one for t and m rows. Q2_K with several rows
     * stayed at 0.9x of the float path (two runs, m = 4, one thread): its unpacking is mostly
     * scalar scale work and its 16-groups need a blended scale per 512-bit step.
     */
    static boolean pays(DType t, int m) {
        return t.isQuantized() && !(t == DType.Q2_K && m > 1);
    }

    /** Whether dtype has a minimum term (x = d q + m, or d q - m). */
    private static boolean hasMin(DType t) {
        return switch (t) {
            case Q4_1, Q5_1, Q2_K, Q4_K, Q5_K -> true;
            default -> false;
        };
    }

    /** Elements sharing one weight scale: 16 for Q2_K, Q3_K and Q6_K, else 32. */
    static int group(DType t) {
        return switch (t) {
            case Q2_K, Q3_K, Q6_K -> 16;
            default -> 32;
        };
    }

    // ---------------------------------------------------------------------------------------
    // Activations

    /**
     * m rows of k activations quantised in blocks of 32: codes (widened to short, ready for the
     * multiply), one scale per block, and the exact float sums per 16 and per 32 for the
     * minimum terms.
     */
    record Activations(int m, int k, short[] q, float[] d, float[] sum16, float[] sum32) {}

    /** Quantises x (m rows of k, k a multiple of 32) as described in the class comment. */
    static Activations quantise(float[] x, int m, int k) {
        short[] q = new short[m * k];
        float[] d = new float[m * k / 32];
        float[] sum16 = new float[m * k / 16];
        float[] sum32 = new float[m * k / 32];
        for (int b = 0; b < m * k / 32; b++) {
            int at = 32 * b;
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[at + i]));
            float scale = amax / 127;
            float inverse = scale == 0 ? 0 : 1 / scale;
            float s0 = 0, s1 = 0;
            for (int i = 0; i < 16; i++) {
                s0 += x[at + i];
                s1 += x[at + 16 + i];
            }
            for (int i = 0; i < 32; i++) q[at + i] = (short) Math.round(x[at + i] * inverse);
            d[b] = scale;
            sum16[2 * b] = s0;
            sum16[2 * b + 1] = s1;
            sum32[b] = s0 + s1;
        }
        // NaN or infinite activations must not vanish into zero codes: a NaN scale carries them.
        for (int b = 0; b < d.length; b++) if (!Float.isFinite(d[b])) d[b] = Float.NaN;
        return new Activations(m, k, q, d, sum16, sum32);
    }

    // ---------------------------------------------------------------------------------------
    // GEMV

    /** Per-thread unpacking buffers. */
    private static final class Stage {
        final short[] q = new short[CHUNK];
        final float[] scale = new float[CHUNK / 16];
        final float[] min = new float[CHUNK / 16];
        float[] sums = new float[0];

        float[] sums(int m) {
            return sums.length >= m ? sums : (sums = new float[m]);
        }
    }

    private static final ThreadLocal<Stage> STAGE = ThreadLocal.withInitial(Stage::new);

    /**
     * C[i, j] = dot(W[j, :], x[i, :]) for i &lt; m, j &lt; n, with W in quantised dtype t (rows of
     * rowBytes from wOffset) and x quantised per the class comment. Arguments are checked by
     * the caller.
     */
    static void gemv(int m, int n, int k, float[] x, DType t,
            MemorySegment w, long wOffset, long rowBytes, MemorySegment c, long cOffset, long ldc) {
        Activations a = quantise(x, m, k);
        int grain = Math.max(1, (int) (Gemm.gemvParallelFlops() / 2 / ((long) m * k)));
        boolean fused = m == 1 && fused(t);
        Parallel.forRange(n, grain, (j0, j1) -> {
            float[] sums = STAGE.get().sums(Math.max(m, 2));
            int j = j0;
            if (fused && t == DType.Q8_0) {
                for (; j + 1 < j1; j += 2) {
                    rowsQ8_0Two(w, wOffset + j * rowBytes, rowBytes, a, sums);
                    c.set(FLOAT, cOffset + 4L * j, sums[0]);
                    c.set(FLOAT, cOffset + 4L * (j + 1), sums[1]);
                }
            }
            for (; j < j1; j++) {
                long row = wOffset + j * rowBytes;
                if (fused && (t != DType.Q4_0 || row + rowBytes + 16 <= w.byteSize())) {
                    sums[0] = fusedRow(t, w, row, a);
                } else {
                    stagedRows(t, w, row, a, sums);
                }
                for (int i = 0; i < m; i++) c.set(FLOAT, cOffset + 4 * (i * ldc + j), sums[i]);
            }
        });
    }

    /**
     * sums[i] = dot(weight row, x[i, :]) for every activation row i, the weight row unpacked a
     * chunk at a time into L1 and each chunk dotted with every activation row: the path of the
     * types without a fused kernel.
     */
    static void stagedRows(DType t, MemorySegment w, long row, Activations a, float[] sums) {
        Stage stage = STAGE.get();
        int m = a.m(), k = a.k();
        int blockSize = t.blockSize(), blockBytes = t.blockBytes();
        int chunk = Math.max(blockSize, CHUNK / blockSize * blockSize);
        int g = group(t);
        boolean min = hasMin(t);
        java.util.Arrays.fill(sums, 0, m, 0f);
        for (int p0 = 0; p0 < k; p0 += chunk) {
            int count = Math.min(chunk, k - p0);
            unpack(t, w, row + (long) (p0 / blockSize) * blockBytes, count / blockSize, stage.q, stage.scale, stage.min);
            int groups = count / g;
            for (int i = 0; i < m; i++) {
                int xi = i * k + p0;
                float s = g == 32
                        ? dot32(stage.q, stage.scale, groups, a.q, xi, a.d, xi / 32)
                        : dot16(stage.q, stage.scale, groups, a.q, xi, a.d, xi / 32);
                if (min) s += minDot(stage.min, groups, g == 32 ? a.sum32 : a.sum16, xi / g);
                sums[i] += s;
            }
        }
    }

    /*
     * The dot kernels spell the pairwise sum of 16-bit products into 32-bit lanes (what vpmaddwd
     * does in one instruction) in three operations: p = w * x viewed as ints, (p + (p << 16)) >>
     * 16. The high half of the sum is the two products' sum modulo 2^16 (the low half adds zero,
     * so no carry), exact because |w| &lt;= 128 and |x| &lt;= 127 keep it within 2 * 16256 &lt; 2^15.
     * It replaced (p << 16 >> 16) + (p >> 16), one operation more per 32 weights. A helper taking
     * or returning vectors was refused inlining ("callee is too large" once its caller grew) and
     * then boxed every vector it passed.
     */

    /**
     * sum over groups g of 32 of scale[g] * d[di + g] * sum(w * x) over the group. Two
     * accumulators, alternate groups, so consecutive multiply-adds do not wait on each other.
     */
    static float dot32(short[] w, float[] scale, int groups, short[] x, int xi, float[] d, int di) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int g = 0; g < groups; g++) {
            int e = 32 * g;
            IntVector p0 = ShortVector.fromArray(S, w, e).mul(ShortVector.fromArray(S, x, xi + e)).reinterpretAsInts();
            IntVector s = p0.add(p0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            if (SL == 16) {
                IntVector p1 = ShortVector.fromArray(S, w, e + 16).mul(ShortVector.fromArray(S, x, xi + e + 16)).reinterpretAsInts();
                s = s.add(p1.add(p1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16));
            }
            FloatVector f = (FloatVector) s.convert(VectorOperators.I2F, 0);
            FloatVector sd = FloatVector.broadcast(F, scale[g] * d[di + g]);
            if ((g & 1) == 0) acc0 = f.fma(sd, acc0);
            else acc1 = f.fma(sd, acc1);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /**
     * As {@link #dot32} for groups of 16 (always an even number: these types have 256-element
     * blocks). At 32 short lanes one step covers two groups: int lanes 0-7 hold the first.
     */
    static float dot16(short[] w, float[] scale, int groups, short[] x, int xi, float[] d, int di) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int g = 0; g < groups; g += 2) {
            int e = 16 * g;
            float dx = d[di + g / 2];
            IntVector p0 = ShortVector.fromArray(S, w, e).mul(ShortVector.fromArray(S, x, xi + e)).reinterpretAsInts();
            IntVector s0 = p0.add(p0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            if (SL == 32) {
                FloatVector sd = FloatVector.broadcast(F, scale[g] * dx).blend(scale[g + 1] * dx, SECOND_GROUP);
                acc0 = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(sd, acc0);
            } else {
                IntVector p1 = ShortVector.fromArray(S, w, e + 16).mul(ShortVector.fromArray(S, x, xi + e + 16)).reinterpretAsInts();
                IntVector s1 = p1.add(p1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
                acc0 = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, scale[g] * dx), acc0);
                acc1 = ((FloatVector) s1.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, scale[g + 1] * dx), acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    // ---------------------------------------------------------------------------------------
    // Fused kernels, one activation row: each group of a weight row unpacked in registers and
    // dotted at once. Staging through L1 doubled the instructions per weight and halved the rate
    // (Q8_0 at 8.9 GB/s of weights per thread staged, 15.8 fused, in the same session). Two
    // accumulators take alternate groups, so that consecutive multiply-adds do not wait on each
    // other (with one, Q8_0 ran 1.3x slower). Several activation rows stay on the staged path:
    // the fused variants tried for them lost to it (see the class comment).

    private static boolean fused(DType t) {
        return switch (t) {
            case Q8_0, Q6_K, Q4_K -> true;
            case Q4_0 -> SL == 32;
            default -> false;
        };
    }

    /** The weight row at row dotted with the one activation row of a. */
    private static float fusedRow(DType t, MemorySegment w, long row, Activations a) {
        return switch (t) {
            case Q8_0 -> rowQ8_0(w, row, a);
            case Q4_0 -> rowQ4_0(w, row, a);
            case Q4_K -> rowQ4_K(w, row, a);
            case Q6_K -> rowQ6_K(w, row, a);
            default -> throw new AssertionError(t);
        };
    }

    /**
     * acc + scale * (the pairwise sums of q * x[at ..]): a group's step. Small enough to inline
     * into every kernel (checked with -XX:+PrintInlining; a vector passed to a call that is not
     * inlined is boxed, which -prof gc shows as allocation).
     */
    private static FloatVector dotStep(ShortVector q, short[] x, int at, FloatVector scale, FloatVector acc) {
        return ((FloatVector) pairSums(q, x, at).convert(VectorOperators.I2F, 0)).fma(scale, acc);
    }

    /** SL bytes of w from at, sign-extended to shorts. */
    private static ShortVector bytes(MemorySegment w, long at) {
        return (ShortVector) ByteVector.fromMemorySegment(SB, w, at, LE).convertShape(VectorOperators.B2S, S, 0);
    }

    /** Bytes of SL lanes, widened to the dot species. */
    private static final VectorSpecies<Byte> SB = VectorSpecies.of(byte.class, VectorShape.forBitSize(SL * 8));

    /**
     * One Q8_0 row: per block the integer sum of its 32 products ({@link #q8Block}), one
     * conversion and one FMA by the block's scale product, into two accumulators taken in turn
     * (block parity) so consecutive FMAs do not wait on each other. The same operations in the
     * same order as each row of {@link #rowsQ8_0Two}, so a row's sum does not depend on whether
     * it was paired.
     */
    static float rowQ8_0(MemorySegment w, long row, Activations a) {
        short[] x = a.q();
        float[] d = a.d();
        FloatVector acc = FloatVector.zero(F), other = acc;
        for (int b = 0, blocks = a.k() / Conversions.Q8_BLOCK; b < blocks; b++) {
            long block = row + (long) Conversions.Q8_BYTES * b;
            int at = Conversions.Q8_BLOCK * b;
            ShortVector x0 = ShortVector.fromArray(S, x, at), x1 = SL < Conversions.Q8_BLOCK ? ShortVector.fromArray(S, x, at + SL) : x0;
            FloatVector next = ((FloatVector) q8Block(w, block + 2, x0, x1).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, half(w, block) * d[b]), other);
            other = acc;
            acc = next;
        }
        return acc.add(other).reduceLanes(VectorOperators.ADD);
    }

    /**
     * Two consecutive Q8_0 rows (row0 and row0 + rowBytes) against the one activation row of a,
     * into sums[0] and sums[1]: each activation vector is loaded once for both rows. Decode is
     * m = 1, so this is where its Q8_0 time goes.
     *
     * <p>Measured on the AVX2 EPYC VM (one thread, thread CPU time, rows in L2, load 7-9,
     * 2026-12-04): the first version, per row at k = 288 (stories15M) 32-33 ns against 44-51 ns
     * for the previous single-row kernel (per-16-lane conversion and FMA), at k = 4096 333-360
     * against 404-432 ns; four rows at once was no faster than two (16 ymm registers). Its loop
     * as C2 compiled it (-XX:+PrintAssembly, 2026-12-04) spent 65 instructions on a block of both
     * rows: 38 vector operations, 9 for the two scales, 14 of address arithmetic and 6 register
     * moves that rotate the accumulators. Adding each block's two 16-bit product vectors before
     * the pair sum ({@link #q8Block}) saves two vector operations a row and block (the sums are
     * the same integers, so the results are bit for bit those of the first version): one
     * thread, JMH sample mode against it ({@code backend=vector-previous}, -Dcorvus.threads=1,
     * load 1.2-1.5, 2026-12-04), best times n = k = 288 10.22-10.26 us against 10.88, 2048 358-359
     * against 370-373, 4096 1,362-1,430 against 1,436-1,462: 2-6%, about what 4 of 65
     * instructions predict for a loop that issues some 4 a cycle. Taking two blocks a pass, to
     * drop the moves, put four q8Block sites in the loop and C2 stopped inlining the fourth
     * (NodeCountInliningCutoff), boxing its vectors: 3x slower, not kept. What is left is the
     * instruction count: the Vector API has no byte or 16-bit multiply-add (vpmaddubsw,
     * vpmaddwd), which llama.cpp's AVX2 loop spends about 7 instructions a block and row on.
     */
    static void rowsQ8_0Two(MemorySegment w, long row0, long rowBytes, Activations a, float[] sums) {
        short[] x = a.q();
        float[] d = a.d();
        long row1 = row0 + rowBytes;
        FloatVector acc0 = FloatVector.zero(F), other0 = acc0, acc1 = acc0, other1 = acc0;
        for (int b = 0, blocks = a.k() / Conversions.Q8_BLOCK; b < blocks; b++) {
            long block0 = row0 + (long) Conversions.Q8_BYTES * b, block1 = row1 + (long) Conversions.Q8_BYTES * b;
            int at = Conversions.Q8_BLOCK * b;
            ShortVector x0 = ShortVector.fromArray(S, x, at), x1 = SL < Conversions.Q8_BLOCK ? ShortVector.fromArray(S, x, at + SL) : x0;
            float db = d[b];
            FloatVector next0 = ((FloatVector) q8Block(w, block0 + 2, x0, x1).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, half(w, block0) * db), other0);
            FloatVector next1 = ((FloatVector) q8Block(w, block1 + 2, x0, x1).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, half(w, block1) * db), other1);
            other0 = acc0;
            acc0 = next0;
            other1 = acc1;
            acc1 = next1;
        }
        sums[0] = acc0.add(other0).reduceLanes(VectorOperators.ADD);
        sums[1] = acc1.add(other1).reduceLanes(VectorOperators.ADD);
    }

    /**
     * The 32 products of a Q8_0 block's quants (at quants) with the activation codes x0 (and x1
     * for the second half when a vector holds 16 shorts), summed into int lanes. At 256 bits the
     * two 16-bit product vectors are added in 16-bit lanes first, which is exact: |w x| &lt;= 128 *
     * 127 = 16,256, so two of them fit a short; the pair sum must then widen both halves (four
     * operations, not the three of {@link #adjacentSums}, whose sum of two lanes would not fit).
     * At 512 bits the block is one vector and takes the three-operation pair sum.
     */
    private static IntVector q8Block(MemorySegment w, long quants, ShortVector x0, ShortVector x1) {
        ShortVector p = bytes(w, quants).mul(x0);
        if (SL == Conversions.Q8_BLOCK) return adjacentSums(p);
        IntVector pairs = p.add(bytes(w, quants + SL).mul(x1)).reinterpretAsInts();
        return pairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(pairs.lanewise(VectorOperators.ASHR, 16));
    }

    /** The pairwise sums of q * x[at ..] in int lanes (see the note above the dot kernels). */
    private static IntVector pairSums(ShortVector q, short[] x, int at) {
        return pairSums(q, ShortVector.fromArray(S, x, at));
    }

    private static IntVector pairSums(ShortVector q, ShortVector x) {
        return adjacentSums(q.mul(x));
    }

    /**
     * Adjacent 16-bit lanes of p summed into int lanes in three operations: p + (p &lt;&lt; 16) holds
     * the pair's sum in its high half, which the arithmetic shift brings down. Exact while the
     * pair's sum fits 16 bits, as two products of a 16-bit weight code and an 8-bit activation
     * code do (|w x| &lt;= 128 * 127).
     */
    private static IntVector adjacentSums(ShortVector p) {
        IntVector ints = p.reinterpretAsInts();
        return ints.add(ints.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
    }

    /** Duplicates the low 16 lanes (a Q4_0 block's 16 bytes) into the high 16. */
    private static final VectorShuffle<Short> LOW_TWICE = VectorShuffle.fromOp(S, i -> i % 16);
    /** Shift counts: 0 for the low nibbles (elements 0-15), 4 for the high ones (16-31). */
    private static final ShortVector NIBBLE_SHIFT = ShortVector.zero(S).addIndex(1).lanewise(VectorOperators.ASHR, 4).lanewise(VectorOperators.LSHL, 2);

    /**
     * Needs 512-bit vectors and 16 readable bytes past the row: the 32-byte load from a block's
     * 16 quant bytes reads on into the next block, and those lanes are replaced by the permute.
     */
    static float rowQ4_0(MemorySegment w, long row, Activations a) {
        short[] x = a.q();
        float[] d = a.d();
        FloatVector even = FloatVector.zero(F), odd = even;
        for (int b = 0, blocks = a.k() / 32; b < blocks; b++) {
            long block = row + 18L * b;
            ShortVector q = bytes(w, block + 2).rearrange(LOW_TWICE).lanewise(VectorOperators.ASHR, NIBBLE_SHIFT).and((short) 0xF).sub((short) 8);
            FloatVector sd = FloatVector.broadcast(F, half(w, block) * d[b]);
            if ((b & 1) == 0) even = dotStep(q, x, 32 * b, sd, even);
            else odd = dotStep(q, x, 32 * b, sd, odd);
        }
        return even.add(odd).reduceLanes(VectorOperators.ADD);
    }

    /**
     * Each 32-byte run of nibbles is loaded once and gives two groups, its low nibbles and its
     * high ones. The twelve 6-bit scale and min bytes are read as two words and spread to eight
     * scale bytes and eight min bytes with masks and shifts: per-byte segment reads (what
     * Quants.kScale does) cost more than the group's vector work.
     */
    static float rowQ4_K(MemorySegment w, long row, Activations a) {
        short[] x = a.q();
        float[] d = a.d(), sum32 = a.sum32();
        FloatVector even = FloatVector.zero(F), odd = even;
        float mins = 0, dw = 0;
        long scales = 0;
        // One loop over the row's 32-byte runs, four to a block, rather than blocks with an inner
        // loop over runs, which C2 unrolled: that took 2.4 ms at n = k = 4096 on one thread (best
        // of run), 1.9 with -XX:LoopUnrollLimit=1; this one 2.1 in the same session, and an inner
        // loop with a bound C2 cannot fold 2.3.
        for (int run = 0, runs = a.k() / 64; run < runs; run++) {
            long block = row + 144L * (run >> 2);
            int g = 2 * (run & 3), group = 2 * run;
            if (g == 0) {
                dw = half(w, block);
                long lo = w.get(U64, block + 4), hi = w.get(U32, block + 12) & 0xFFFFFFFFL;
                scales = lo & 0x3F3F3F3FL | (hi & 0x0F0F0F0FL | lo >>> 2 & 0x30303030L) << 32;
                long blockMins = lo >>> 32 & 0x3F3F3F3FL | (hi >>> 4 & 0x0F0F0F0FL | lo >>> 34 & 0x30303030L) << 32;
                mins += half(w, block + 2) * minTerms(blockMins, sum32, group);
            }
            float low = dw * (int) (scales >>> 8 * g & 0xFF), high = dw * (int) (scales >>> 8 * g + 8 & 0xFF);
            for (int l = 0; l < 32; l += SL) {
                ShortVector v = bytes(w, block + 16 + 16 * g + l);
                ShortVector ql = v.and((short) 0xF), qh = v.lanewise(VectorOperators.ASHR, 4).and((short) 0xF);
                even = dotStep(ql, x, 32 * group + l, FloatVector.broadcast(F, low * d[group]), even);
                odd = dotStep(qh, x, 32 * group + 32 + l, FloatVector.broadcast(F, high * d[group + 1]), odd);
            }
        }
        return even.add(odd).reduceLanes(VectorOperators.ADD) - mins;
    }

    /** sum over a K-quant block's 8 groups of its 6-bit minimum (byte g of mins) times sum32[at + g]. */
    private static float minTerms(long mins, float[] sum32, int at) {
        float s = 0;
        for (int g = 0; g < 8; g++) s += (int) (mins >>> 8 * g & 0xFF) * sum32[at + g];
        return s;
    }

    /**
     * At 32 short lanes, the permutes that spread a Q6_K block's 16 scales (one float lane each)
     * over the step covering groups 2p and 2p + 1: lanes 0-7 the first, 8-15 the second. One
     * permute replaced two scale byte reads, conversions and multiplies, a broadcast and a blend.
     */
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] Q6_K_SCALE_PAIRS = java.util.stream.IntStream.range(0, 8)
            .mapToObj(p -> VectorShuffle.fromOp(F, i -> Math.min(2 * p + i / 8, F.length() - 1))).toArray(VectorShuffle[]::new);

    /**
     * Per half of 128 elements the run of high bits is loaded once for its four groups of 32
     * (element 128 h + 32 j + l: a nibble of low run j % 2, bits 2j of the high run). The loop
     * over j stays a loop: spelled out four times the kernel passed C2's inlining node limit.
     */
    static float rowQ6_K(MemorySegment w, long row, Activations a) {
        short[] x = a.q();
        float[] d = a.d();
        FloatVector even = FloatVector.zero(F), odd = even;
        for (int b = 0, blocks = a.k() / 256; b < blocks; b++) {
            long block = row + 210L * b;
            float dw = half(w, block + 208);
            FloatVector blockScales = ((FloatVector) ByteVector.fromMemorySegment(QB, w, block + 192, LE)
                    .convertShape(VectorOperators.B2I, SI, 0).convert(VectorOperators.I2F, 0)).mul(dw);
            for (int h = 0; h < 2; h++) {
                long scales = w.get(U64, block + 192 + 8 * h);
                for (int l = 0; l < 32; l += SL) {
                    ShortVector highs = bytes(w, block + 128 + 32 * h + l);
                    for (int j = 0; j < 4; j++) {
                        ShortVector q = bytes(w, block + 64 * h + 32 * (j & 1) + l).lanewise(VectorOperators.ASHR, 4 * (j >> 1)).and((short) 0xF)
                                .or(highs.lanewise(VectorOperators.ASHR, 2 * j).and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32);
                        int group = 8 * b + 4 * h + j;
                        FloatVector sd = (SL == 32
                                ? blockScales.rearrange(Q6_K_SCALE_PAIRS[4 * h + j])
                                : FloatVector.broadcast(F, dw * (byte) (scales >>> 16 * j + l / 2))).mul(d[group]);
                        if ((j & 1) == 0) even = dotStep(q, x, 32 * group + l, sd, even);
                        else odd = dotStep(q, x, 32 * group + l, sd, odd);
                    }
                }
            }
        }
        return even.add(odd).reduceLanes(VectorOperators.ADD);
    }

    /** sum over groups of min[g] * sums[si + g]. */
    static float minDot(float[] min, int groups, float[] sums, int si) {
        int L = F.length();
        FloatVector acc = FloatVector.zero(F);
        int g = 0;
        for (; g <= groups - L; g += L) {
            acc = FloatVector.fromArray(F, min, g).fma(FloatVector.fromArray(F, sums, si + g), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; g < groups; g++) s += min[g] * sums[si + g];
        return s;
    }

    // ---------------------------------------------------------------------------------------
    // Unpacking: integer codes into q[0 ..], per group a float scale (and minimum, added as
    // min * sum(x)) such that the weight is scale * q + min, as Quants defines it.

    static void unpack(DType t, MemorySegment w, long block, int blocks, short[] q, float[] scale, float[] min) {
        switch (t) {
            case Q8_0 -> q8_0(w, block, blocks, q, scale);
            case Q4_0 -> q4_0(w, block, blocks, q, scale);
            case Q4_1 -> q4_1(w, block, blocks, q, scale, min);
            case Q5_0 -> q5_0(w, block, blocks, q, scale);
            case Q5_1 -> q5_1(w, block, blocks, q, scale, min);
            case Q2_K -> q2_K(w, block, blocks, q, scale, min);
            case Q3_K -> q3_K(w, block, blocks, q, scale);
            case Q4_K -> q4_K(w, block, blocks, q, scale, min);
            case Q5_K -> q5_K(w, block, blocks, q, scale, min);
            case Q6_K -> q6_K(w, block, blocks, q, scale);
            default -> throw new IllegalArgumentException("integer dot: " + t + " is not a quantised type (" + Quants.SUPPORTED + ")");
        }
    }


    static void q8_0(MemorySegment w, long block, int blocks, short[] q, float[] scale) {
        for (int b = 0; b < blocks; b++, block += Conversions.Q8_BYTES) {
            scale[b] = half(w, block);
            ((ShortVector) ByteVector.fromMemorySegment(QB, w, block + 2, LE).convertShape(VectorOperators.B2S, QS, 0)).intoArray(q, Conversions.Q8_BLOCK * b);
            ((ShortVector) ByteVector.fromMemorySegment(QB, w, block + 2 + 16, LE).convertShape(VectorOperators.B2S, QS, 0)).intoArray(q, Conversions.Q8_BLOCK * b + 16);
        }
    }

    static void q4_0(MemorySegment w, long block, int blocks, short[] q, float[] scale) {
        for (int b = 0; b < blocks; b++, block += 18) {
            scale[b] = half(w, block);
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 2, LE).convertShape(VectorOperators.B2S, QS, 0);
            v.and((short) 0xF).sub((short) 8).intoArray(q, 32 * b);
            v.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).sub((short) 8).intoArray(q, 32 * b + 16);
        }
    }

    static void q4_1(MemorySegment w, long block, int blocks, short[] q, float[] scale, float[] min) {
        for (int b = 0; b < blocks; b++, block += 20) {
            scale[b] = half(w, block);
            min[b] = half(w, block + 2);
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 4, LE).convertShape(VectorOperators.B2S, QS, 0);
            v.and((short) 0xF).intoArray(q, 32 * b);
            v.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).intoArray(q, 32 * b + 16);
        }
    }

    /* Q5: lane l of the fifth bits is bit (base + l) of the block's u32: broadcast, shift each lane by its index. */
    private static final ShortVector LANE = ShortVector.zero(QS).addIndex(1);

    static void q5_0(MemorySegment w, long block, int blocks, short[] q, float[] scale) {
        for (int b = 0; b < blocks; b++, block += 22) {
            scale[b] = half(w, block);
            int qh = w.get(U32, block + 2);
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 6, LE).convertShape(VectorOperators.B2S, QS, 0);
            v.and((short) 0xF).or(ShortVector.broadcast(QS, (short) (qh >>> 0)).lanewise(VectorOperators.LSHR, LANE).and((short) 1).lanewise(VectorOperators.LSHL, 4)).sub((short) 16).intoArray(q, 32 * b);
            v.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(ShortVector.broadcast(QS, (short) (qh >>> 16)).lanewise(VectorOperators.LSHR, LANE).and((short) 1).lanewise(VectorOperators.LSHL, 4)).sub((short) 16).intoArray(q, 32 * b + 16);
        }
    }

    static void q5_1(MemorySegment w, long block, int blocks, short[] q, float[] scale, float[] min) {
        for (int b = 0; b < blocks; b++, block += 24) {
            scale[b] = half(w, block);
            min[b] = half(w, block + 2);
            int qh = w.get(U32, block + 4);
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 8, LE).convertShape(VectorOperators.B2S, QS, 0);
            v.and((short) 0xF).or(ShortVector.broadcast(QS, (short) (qh >>> 0)).lanewise(VectorOperators.LSHR, LANE).and((short) 1).lanewise(VectorOperators.LSHL, 4)).intoArray(q, 32 * b);
            v.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(ShortVector.broadcast(QS, (short) (qh >>> 16)).lanewise(VectorOperators.LSHR, LANE).and((short) 1).lanewise(VectorOperators.LSHL, 4)).intoArray(q, 32 * b + 16);
        }
    }

    /** Element 128 h + 32 j + l: bits 2j of byte 16 + 32 h + l; group e / 16 with scale nibble and min nibble. */
    static void q2_K(MemorySegment w, long block, int blocks, short[] q, float[] scale, float[] min) {
        for (int b = 0; b < blocks; b++, block += 84) {
            float d = half(w, block + 80), dmin = half(w, block + 82);
            for (int s = 0; s < 16; s++) {
                int sc = w.get(ValueLayout.JAVA_BYTE, block + s) & 0xFF;
                scale[16 * b + s] = d * (sc & 0xF);
                min[16 * b + s] = -(dmin * (sc >>> 4));
            }
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l += 16) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 16 + 32 * h + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                    for (int j = 0; j < 4; j++) {
                        v.lanewise(VectorOperators.ASHR, 2 * j).and((short) 3).intoArray(q, 256 * b + 128 * h + 32 * j + l);
                    }
                }
            }
        }
    }

    /** As Q2_K, minus 4 where bit 4h + j of mask byte l is clear; 6-bit scales biased by 32. */
    static void q3_K(MemorySegment w, long block, int blocks, short[] q, float[] scale) {
        for (int b = 0; b < blocks; b++, block += 110) {
            float d = half(w, block + 108);
            for (int s = 0; s < 16; s++) scale[16 * b + s] = d * (Quants.q3Scale(w, block + 96, s) - 32);
            for (int l = 0; l < 32; l += 16) {
                ShortVector mask = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                for (int h = 0; h < 2; h++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 32 + 32 * h + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                    for (int j = 0; j < 4; j++) {
                        ShortVector high = mask.lanewise(VectorOperators.ASHR, 4 * h + j).and((short) 1).lanewise(VectorOperators.LSHL, 2);
                        v.lanewise(VectorOperators.ASHR, 2 * j).and((short) 3).or(high).sub((short) 4)
                                .intoArray(q, 256 * b + 128 * h + 32 * j + l);
                    }
                }
            }
        }
    }

    /** Group g of 32: nibble (g odd ? high : low) of bytes 16 + 32 (g / 2) ..; 6-bit scale and min. */
    static void q4_K(MemorySegment w, long block, int blocks, short[] q, float[] scale, float[] min) {
        for (int b = 0; b < blocks; b++, block += 144) {
            float d = half(w, block), dmin = half(w, block + 2);
            for (int g = 0; g < 8; g++) {
                scale[8 * b + g] = d * Quants.kScale(w, block + 4, g);
                min[8 * b + g] = -(dmin * Quants.kMin(w, block + 4, g));
            }
            for (int g2 = 0; g2 < 4; g2++) {
                for (int l = 0; l < 32; l += 16) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 16 + 32 * g2 + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                    v.and((short) 0xF).intoArray(q, 256 * b + 64 * g2 + l);
                    v.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).intoArray(q, 256 * b + 64 * g2 + 32 + l);
                }
            }
        }
    }

    /** As Q4_K, with bit g of high-bit byte l as the fifth bit. */
    static void q5_K(MemorySegment w, long block, int blocks, short[] q, float[] scale, float[] min) {
        for (int b = 0; b < blocks; b++, block += 176) {
            float d = half(w, block), dmin = half(w, block + 2);
            for (int g = 0; g < 8; g++) {
                scale[8 * b + g] = d * Quants.kScale(w, block + 4, g);
                min[8 * b + g] = -(dmin * Quants.kMin(w, block + 4, g));
            }
            for (int l = 0; l < 32; l += 16) {
                ShortVector high = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 16 + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                for (int g2 = 0; g2 < 4; g2++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 48 + 32 * g2 + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                    ShortVector h0 = high.lanewise(VectorOperators.ASHR, 2 * g2).and((short) 1).lanewise(VectorOperators.LSHL, 4);
                    ShortVector h1 = high.lanewise(VectorOperators.ASHR, 2 * g2 + 1).and((short) 1).lanewise(VectorOperators.LSHL, 4);
                    v.and((short) 0xF).or(h0).intoArray(q, 256 * b + 64 * g2 + l);
                    v.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(h1).intoArray(q, 256 * b + 64 * g2 + 32 + l);
                }
            }
        }
    }

    /** Element 128 h + 32 j + l: a nibble of byte 64h + 32 (j % 2) + l, two bits of byte 128 + 32h + l, minus 32. */
    static void q6_K(MemorySegment w, long block, int blocks, short[] q, float[] scale) {
        for (int b = 0; b < blocks; b++, block += 210) {
            float d = half(w, block + 208);
            for (int s = 0; s < 16; s++) scale[16 * b + s] = d * w.get(ValueLayout.JAVA_BYTE, block + 192 + s);
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l += 16) {
                    ShortVector highs = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 128 + 32 * h + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                    ShortVector low0 = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 64 * h + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                    ShortVector low1 = (ShortVector) ByteVector.fromMemorySegment(QB, w, block + 64 * h + 32 + l, LE).convertShape(VectorOperators.B2S, QS, 0);
                    int e = 256 * b + 128 * h + l;
                    low0.and((short) 0xF).or(highs.and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32).intoArray(q, e);
                    low1.and((short) 0xF).or(highs.lanewise(VectorOperators.ASHR, 2).and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32).intoArray(q, e + 32);
                    low0.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(highs.lanewise(VectorOperators.ASHR, 4).and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32).intoArray(q, e + 64);
                    low1.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(highs.lanewise(VectorOperators.ASHR, 6).and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32).intoArray(q, e + 96);
                }
            }
        }
    }

    private static float half(MemorySegment w, long at) {
        return Float.float16ToFloat(w.get(HALF, at));
    }
}
