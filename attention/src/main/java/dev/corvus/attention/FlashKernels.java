package dev.corvus.attention;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.TileKernels;
import java.util.Arrays;

/**
 * The tile loops behind {@link FlashAttention}; arguments are checked there.
 *
 * <p>Tiles: BR = 64 query rows by BC = 64 keys. At D = 64 one tile of Q, K, V, dO or O is 16 KiB
 * and the score tile 16 KiB, so the forward's working set (Q, K, V, S, O: 80 KiB) and the
 * backward's (plus dO, dS, dK, dV: 144 KiB) sit in L2 (1–2 MiB per core on the Xeon, 512 KiB on
 * Zen 3) while the score row being exponentiated and the K/V rows the GEMMs stream stay in L1.
 * Square tiles make the causal diagonal one tile per block row, and 64 is a whole number of
 * vectors at every width (4, 8, 16 floats), so the tile GEMMs see no tails except at the edges.
 *
 * <p>Causal masking is by position: query row i of a block at row q0 sees key j iff
 * {@code j <= diag + i} with {@code diag = queryStart + q0 - keyStart}. Key tiles past the last
 * visible key are never loaded; tiles wholly below the diagonal run unmasked; only tiles that
 * straddle it pay for the per-row limit. A sliding window adds the lower limit
 * {@code j > diag + i - window}: key tiles before the block's first visible key are skipped.
 * Soft-capping (Gemma 2) replaces each scaled score s by {@code cap · tanh(s / cap)} before the
 * softmax; the backward recomputes tanh per score and multiplies dS by {@code 1 - tanh²}. The
 * backward skips what the forward skips: the dk/dv pass visits only the query rows inside the
 * key block's window, the dq pass only the key tiles inside the query block's. Measured (N 2048,
 * 4 heads, D 64, vector backend, 2 threads, load average 8 on 2 cores, wall time, median of reps
 * 2-4 of one interleaved run): backward causal 479 ms, window 128 99 ms (the tile count predicts
 * about 5x), window 128 with softcap 30 141 ms (the scalar tanh per score).
 *
 * <p>Parallel work ({@link Parallel#forRange}, contiguous task ranges per thread): the forward
 * runs (b, head, query-block pair) tasks, pairing block p with block n-1-p so that causal tasks
 * weigh the same; the backward runs (b, kv head) tasks when they spread evenly over the threads
 * (one pass, each task owning its dq, dk, dv rows), else (b, kv head, key-block pair) tasks for
 * dk/dv and then (b, head, query-block pair) tasks for dq; decode runs (b, kv head, key chunk).
 */
final class FlashKernels {
    static final int BR = 64;
    static final int BC = 64;
    /**
     * The tile kernels of the backend host tensors run on ({@code Backends.of(Device.CPU)} is
     * always {@code Backends.cpu()}), in a constant so that C2 inlines them into the tile loops;
     * FlashAttention sends tensors of a backend with its own fused kernel there instead.
     */
    static final TileKernels TILES = Backends.cpu().tiles();

    /** A diagonal no key index reaches: every key visible. */
    private static final long NO_MASK = Long.MAX_VALUE / 4;

    private FlashKernels() {}

    /** One attention call: views of q, k, v and the shapes. */
    record Call(TileView q, TileView k, TileView v, int batch, int hq, int hkv, int nq, int nk, int d,
            boolean causal, long queryStart, long keyStart, long window, float scale, float softcap) {
        int group() {
            return hq / hkv;
        }

        /** Row i of the query block at q0 sees key j iff j <= diag(q0) + i. */
        long diag(int q0) {
            return causal ? queryStart + q0 - keyStart : NO_MASK;
        }

        /** Keys [0, end) hold every key some row of the block at q0 (rows long) can see. */
        int keyEnd(int q0, int rows) {
            return (int) clamp(diag(q0) + rows, 0, nk);
        }

        /** Keys before this one lie outside the sliding window of every row of the block at q0. */
        int keyBegin(int q0) {
            return window == Mask.NO_WINDOW ? 0 : (int) clamp(diag(q0) - window + 1, 0, nk);
        }
    }

    static long clamp(long x, long lo, long hi) {
        return Math.max(lo, Math.min(hi, x));
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    // ---------------------------------------------------------------- forward

    static void forward(Call c, TileView out, TileView lse) {
        forEachPairedBlock(c, c.hq, c.nq, BR, (w, b, h, q0) -> forwardBlock(c, w, b, h, q0, out, lse));
    }

    /** One block of rows [start, start + size) of head h in batch b, on a thread's workspace. */
    @FunctionalInterface
    private interface BlockTask {
        void run(Workspace w, int b, int h, int start);
    }

    /**
     * Runs {@code task} on every block of {@code size} rows of {@code length}, for every (batch,
     * head). Task p takes blocks p and blocks-1-p: under a causal mask every task then does the
     * same work, so contiguous ranges of tasks balance across threads.
     */
    private static void forEachPairedBlock(Call c, int heads, int length, int size, BlockTask task) {
        int blocks = ceilDiv(length, size);
        int pairs = (blocks + 1) / 2;
        Parallel.forRange(c.batch * heads * pairs, 1, (start, end) -> {
            Workspace w = Workspace.get(c.d);
            for (int t = start; t < end; t++) {
                int bh = t / pairs, p = t % pairs, mirror = blocks - 1 - p;
                int b = bh / heads, h = bh % heads;
                task.run(w, b, h, p * size);
                if (mirror != p) task.run(w, b, h, mirror * size);
            }
        });
    }

    private static void forwardBlock(Call c, Workspace w, int b, int h, int q0, TileView out, TileView lse) {
        int rows = Math.min(BR, c.nq - q0);
        c.q.loadRows(b, h, q0, rows, c.d, w.q, 0, c.d, c.scale);
        startRows(w, rows, c.d);
        attendKeys(c, w, rows, b, h / c.group(), c.keyBegin(q0), c.keyEnd(q0, rows), c.diag(q0));
        finishRows(w, rows, c.d);
        out.storeRows(b, h, q0, rows, c.d, w.o, 0, c.d);
        lse.storeVector(b, h, q0, rows, w.lse, 0);
    }

    private static void startRows(Workspace w, int rows, int d) {
        Arrays.fill(w.m, 0, rows, Float.NEGATIVE_INFINITY);
        Arrays.fill(w.l, 0, rows, 0f);
        Workspace.zero(w.o, rows * d);
    }

    /**
     * Online softmax of the (scaled) queries in w.q against keys [kFrom, kTo) of kv head kvh:
     * per key tile S = Q·Kᵀ, new row max m, O and l rescaled by exp(m_old - m_new), O += P·V.
     */
    private static void attendKeys(Call c, Workspace w, int rows, int b, int kvh, int kFrom, int kTo, long diag) {
        int d = c.d;
        float[] s = w.s;
        for (int k0 = kFrom; k0 < kTo; k0 += BC) {
            int cols = Math.min(BC, kTo - k0);
            c.k.loadRows(b, kvh, k0, cols, d, w.k, 0, d, 1f);
            c.v.loadRows(b, kvh, k0, cols, d, w.v, 0, d, 1f);
            TILES.gemmNT(rows, cols, d, w.q, 0, d, w.k, 0, d, s, 0, BC, 0f);
            boolean straddles = k0 + cols - 1 > diag;
            for (int i = 0; i < rows; i++) {
                int off = i * BC;
                // row i sees columns [lo, hi) of this tile
                int hi = straddles ? (int) clamp(diag + i - k0 + 1, 0, cols) : cols;
                int lo = c.window == Mask.NO_WINDOW ? 0 : (int) clamp(diag + i - c.window + 1 - k0, 0, hi);
                if (hi < cols) Arrays.fill(s, off + hi, off + cols, 0f);
                if (lo > 0) Arrays.fill(s, off, off + lo, 0f);
                int visible = hi - lo;
                if (visible == 0) continue;
                if (c.softcap != 0f) softcap(s, off + lo, visible, c.softcap);
                float mOld = w.m[i];
                float mNew = Math.max(mOld, TILES.max(s, off + lo, visible));
                float sum = TILES.expShiftSum(s, off + lo, visible, mNew);
                if (mNew != mOld) {
                    if (mOld == Float.NEGATIVE_INFINITY) {
                        w.l[i] = sum; // O and l are still 0
                    } else {
                        float alpha = (float) Math.exp(mOld - mNew);
                        w.l[i] = w.l[i] * alpha + sum;
                        TILES.scale(w.o, i * d, d, alpha);
                    }
                    w.m[i] = mNew;
                } else {
                    w.l[i] += sum;
                }
            }
            TILES.gemmNN(rows, d, cols, s, 0, BC, w.v, 0, d, w.o, 0, d, 1f);
        }
    }

    /**
     * s = cap · tanh(s / cap) in place. Scalar Math.tanh: only Gemma 2 pays for it, once per
     * score, beside a D-long dot product per score.
     */
    private static void softcap(float[] s, int from, int n, float cap) {
        float inv = 1f / cap;
        for (int j = from; j < from + n; j++) s[j] = cap * (float) Math.tanh(s[j] * inv);
    }

    /** O /= l and lse = m + log l; a row that saw no key gets O = 0 and lse = -inf. */
    private static void finishRows(Workspace w, int rows, int d) {
        for (int i = 0; i < rows; i++) {
            float l = w.l[i];
            if (l == 0f) {
                Arrays.fill(w.o, i * d, i * d + d, 0f);
                w.lse[i] = Float.NEGATIVE_INFINITY;
            } else {
                TILES.scale(w.o, i * d, d, 1f / l);
                w.lse[i] = w.m[i] + (float) Math.log(l);
            }
        }
    }

    // ---------------------------------------------------------------- decode

    /** Keys per decode chunk at least: below this the merge costs more than the split gains. */
    static final int DECODE_MIN_CHUNK = 256;

    /**
     * Cached floats (keys x D) a decode thread must get before the call goes parallel. Decode
     * streams K and V once, at about 0.3 ns per key and dimension on the Xeon (memory-bound past
     * a few hundred keys), while handing work to a pool thread and joining it costs 10 to 60 us
     * on a busy 2-vCPU machine: stories15M (6 heads x 256 keys x 48) ran at 19 us on the calling
     * thread and 61 us on two. 2^17 is about 40 us of work per thread.
     */
    static final int DECODE_MIN_PARALLEL_WORK = 1 << 17;

    /**
     * One query row per head against keys [0, length). The query heads of one kv head form the
     * rows of one Q tile, so each K/V tile is read once per group. Work units are (b, kv head,
     * key chunk); with few heads a long cache is cut into chunks (about 4 per thread) whose
     * partial (m, l, O) rows are merged at the end. Short caches run on the calling thread.
     */
    static void decode(Call c, int length, TileView out) {
        int units = c.batch * c.hkv;
        int d = c.d, group = c.group();
        int wanted = ceilDiv(4 * Parallel.parallelism(), units);
        int chunks = Math.max(1, Math.min(wanted, length / DECODE_MIN_CHUNK));
        int chunkLen = Math.max(1, ceilDiv(length, chunks));
        chunks = Math.max(1, ceilDiv(length, chunkLen));
        int stride = d + 2;
        int nChunks = chunks;
        // Partials per (b, query head, chunk): m, l, then the unnormalised O row. One chunk (the
        // usual case: a short cache or enough heads) finishes its rows in place instead.
        float[] part = nChunks == 1 ? null : new float[c.batch * c.hq * nChunks * stride];
        int grain = ceilDiv(DECODE_MIN_PARALLEL_WORK, Math.max(1, chunkLen * d));
        Parallel.forRange(units * nChunks, grain, (start, end) -> {
            Workspace w = Workspace.get(d);
            for (int t = start; t < end; t++) {
                int unit = t / nChunks, chunk = t % nChunks;
                int b = unit / c.hkv, kvh = unit % c.hkv;
                int from = chunk * chunkLen, to = Math.min(length, from + chunkLen);
                for (int r0 = 0; r0 < group; r0 += BR) {
                    int rows = Math.min(BR, group - r0), h0 = kvh * group + r0;
                    for (int r = 0; r < rows; r++) c.q.loadRows(b, h0 + r, 0, 1, d, w.q, r * d, d, c.scale);
                    startRows(w, rows, d);
                    attendKeys(c, w, rows, b, kvh, from, to, NO_MASK);
                    if (part == null) {
                        finishRows(w, rows, d);
                        for (int r = 0; r < rows; r++) out.storeRows(b, h0 + r, 0, 1, d, w.o, r * d, d);
                        continue;
                    }
                    for (int r = 0; r < rows; r++) {
                        int at = ((b * c.hq + h0 + r) * nChunks + chunk) * stride;
                        part[at] = w.m[r];
                        part[at + 1] = w.l[r];
                        System.arraycopy(w.o, r * d, part, at + 2, d);
                    }
                }
            }
        });
        if (part == null) return;
        float[] row = new float[d];
        for (int bh = 0; bh < c.batch * c.hq; bh++) {
            int base = bh * nChunks * stride;
            float max = Float.NEGATIVE_INFINITY;
            for (int ch = 0; ch < nChunks; ch++) max = Math.max(max, part[base + ch * stride]);
            Arrays.fill(row, 0f);
            if (max != Float.NEGATIVE_INFINITY) {
                double l = 0;
                for (int ch = 0; ch < nChunks; ch++) {
                    int at = base + ch * stride;
                    if (part[at] == Float.NEGATIVE_INFINITY) continue;
                    float f = (float) Math.exp(part[at] - max);
                    l += f * part[at + 1];
                    for (int j = 0; j < d; j++) row[j] += f * part[at + 2 + j];
                }
                float inv = (float) (1 / l);
                for (int j = 0; j < d; j++) row[j] *= inv;
            }
            out.storeRows(bh / c.hq, bh % c.hq, 0, 1, d, row, 0, d);
        }
    }

    // ---------------------------------------------------------------- backward

    /**
     * Adds this (query rows, key rows) pair's gradients into dq, dk, dv. When every thread can
     * own whole (b, kv head) groups, one pass does all three (a task owns the dq rows of its
     * query heads and the dk/dv rows of its kv head). Otherwise two passes that never write the
     * same rows from two threads: (b, kv head, key block) tasks for dk/dv, then (b, head, query
     * block) tasks for dq, recomputing P and dS.
     */
    static void backward(Call c, TileView dO, TileView lse, TileView delta, TileView dq, TileView dk, TileView dv) {
        int units = c.batch * c.hkv;
        int threads = Parallel.parallelism();
        backward(c, dO, lse, delta, dq, dk, dv, units % threads == 0 || units >= 4 * threads);
    }

    static void backward(Call c, TileView dO, TileView lse, TileView delta, TileView dq, TileView dk, TileView dv,
            boolean onePass) {
        int keyBlocks = ceilDiv(c.nk, BC);
        if (onePass) {
            Parallel.forRange(c.batch * c.hkv, 1, (start, end) -> {
                Workspace w = Workspace.get(c.d);
                for (int t = start; t < end; t++) {
                    for (int kb = 0; kb < keyBlocks; kb++) {
                        keyBlock(c, w, t / c.hkv, t % c.hkv, kb * BC, dO, lse, delta, dq, dk, dv);
                    }
                }
            });
            return;
        }
        forEachPairedBlock(c, c.hkv, c.nk, BC, (w, b, kvh, k0) -> keyBlock(c, w, b, kvh, k0, dO, lse, delta, null, dk, dv));
        forEachPairedBlock(c, c.hq, c.nq, BR, (w, b, h, q0) -> queryBlockDq(c, w, b, h, q0, dO, lse, delta, dq));
    }

    /** dK, dV of keys [k0, k0 + BC) of kv head kvh over all its query heads; dq too unless null. */
    private static void keyBlock(Call c, Workspace w, int b, int kvh, int k0, TileView dO, TileView lse, TileView delta,
            TileView dq, TileView dk, TileView dv) {
        int d = c.d, cols = Math.min(BC, c.nk - k0);
        c.k.loadRows(b, kvh, k0, cols, d, w.k, 0, d, 1f);
        c.v.loadRows(b, kvh, k0, cols, d, w.v, 0, d, 1f);
        Workspace.zero(w.dk, cols * d);
        Workspace.zero(w.dv, cols * d);
        // Query rows [qFrom, qTo) see some key of the block: row i sees key j iff
        // i + offset - window < j <= i + offset, so rows at or past the last key's
        // j - offset + window are outside the window of every key here and are skipped.
        long offset = c.queryStart - c.keyStart;
        int qFrom = c.causal ? (int) clamp(k0 - offset, 0, c.nq) : 0;
        int qTo = c.window == Mask.NO_WINDOW ? c.nq : (int) clamp(k0 + cols - 1 - offset + c.window, 0, c.nq);
        for (int hq = 0; hq < c.group(); hq++) {
            int h = kvh * c.group() + hq;
            for (int q0 = qFrom; q0 < qTo; q0 += BR) {
                int rows = Math.min(BR, c.nq - q0);
                loadQueryRows(c, w, b, h, q0, rows, dO, lse, delta);
                probabilities(c, w, rows, cols, k0, c.diag(q0));
                TILES.gemmTN(cols, d, rows, w.s, 0, BC, w.dO, 0, d, w.dv, 0, d, 1f);   // dV += Pᵀ·dO
                scoreGradients(c, w, rows, cols);
                TILES.gemmTN(cols, d, rows, w.dp, 0, BC, w.q, 0, d, w.dk, 0, d, 1f);   // dK += dSᵀ·(scale·Q)
                if (dq != null) {
                    TILES.gemmNN(rows, d, cols, w.dp, 0, BC, w.k, 0, d, w.dq, 0, d, 0f); // dS·K
                    dq.addRows(b, h, q0, rows, d, w.dq, 0, d, c.scale, w.row);
                }
            }
        }
        dk.addRows(b, kvh, k0, cols, d, w.dk, 0, d, 1f, w.row);
        dv.addRows(b, kvh, k0, cols, d, w.dv, 0, d, 1f, w.row);
    }

    /** dq of query rows [q0, q0 + BR) of head h over every key they see. */
    private static void queryBlockDq(Call c, Workspace w, int b, int h, int q0, TileView dO, TileView lse, TileView delta,
            TileView dq) {
        int d = c.d, rows = Math.min(BR, c.nq - q0), kvh = h / c.group();
        loadQueryRows(c, w, b, h, q0, rows, dO, lse, delta);
        Workspace.zero(w.dq, rows * d);
        long diag = c.diag(q0);
        int kEnd = c.keyEnd(q0, rows);
        for (int k0 = c.keyBegin(q0); k0 < kEnd; k0 += BC) {
            int cols = Math.min(BC, kEnd - k0);
            c.k.loadRows(b, kvh, k0, cols, d, w.k, 0, d, 1f);
            c.v.loadRows(b, kvh, k0, cols, d, w.v, 0, d, 1f);
            probabilities(c, w, rows, cols, k0, diag);
            scoreGradients(c, w, rows, cols);
            TILES.gemmNN(rows, d, cols, w.dp, 0, BC, w.k, 0, d, w.dq, 0, d, 1f);
        }
        dq.addRows(b, h, q0, rows, d, w.dq, 0, d, c.scale, w.row);
    }

    private static void loadQueryRows(Call c, Workspace w, int b, int h, int q0, int rows, TileView dO, TileView lse,
            TileView delta) {
        c.q.loadRows(b, h, q0, rows, c.d, w.q, 0, c.d, c.scale);
        dO.loadRows(b, h, q0, rows, c.d, w.dO, 0, c.d, 1f);
        lse.loadVector(b, h, q0, rows, w.lse, 0);
        delta.loadVector(b, h, q0, rows, w.delta, 0);
    }

    /**
     * w.s = P = exp(softcap(scale·Q·Kᵀ) - lse) for the loaded tiles, 0 where masked (causal
     * limit, sliding window) or the row saw no key. Under soft-capping w.dt gets the derivative
     * of the cap, 1 - tanh²(s / cap), of every visible score, for {@link #scoreGradients}.
     */
    private static void probabilities(Call c, Workspace w, int rows, int cols, int k0, long diag) {
        float[] s = w.s;
        TILES.gemmNT(rows, cols, c.d, w.q, 0, c.d, w.k, 0, c.d, s, 0, BC, 0f);
        boolean straddles = k0 + cols - 1 > diag;
        for (int i = 0; i < rows; i++) {
            int off = i * BC;
            // row i sees columns [lo, hi) of this tile, as in attendKeys
            int hi = straddles ? (int) clamp(diag + i - k0 + 1, 0, cols) : cols;
            int lo = c.window == Mask.NO_WINDOW ? 0 : (int) clamp(diag + i - c.window + 1 - k0, 0, hi);
            float rowLse = w.lse[i];
            if (rowLse == Float.NEGATIVE_INFINITY) lo = hi = 0;
            if (hi > lo) {
                if (c.softcap != 0f) softcapWithDerivative(s, w.dt, off + lo, hi - lo, c.softcap);
                TILES.expShiftSum(s, off + lo, hi - lo, rowLse);
            }
            if (lo > 0) Arrays.fill(s, off, off + lo, 0f);
            if (hi < cols) Arrays.fill(s, off + hi, off + cols, 0f);
        }
    }

    /** s = cap · tanh(s / cap) and dt = 1 - tanh²(s / cap) = d softcap(s) / ds, in place. */
    private static void softcapWithDerivative(float[] s, float[] dt, int from, int n, float cap) {
        float inv = 1f / cap;
        for (int j = from; j < from + n; j++) {
            float t = (float) Math.tanh(s[j] * inv);
            s[j] = cap * t;
            dt[j] = 1f - t * t;
        }
    }

    /**
     * w.dp = dS = P ∘ (dO·Vᵀ - delta), the gradient of the (scaled, uncapped) scores: under
     * soft-capping times the cap's derivative w.dt (masked entries have P = 0, so dS = 0 there
     * whatever w.dt holds).
     */
    private static void scoreGradients(Call c, Workspace w, int rows, int cols) {
        float[] s = w.s, dp = w.dp, dt = w.dt;
        TILES.gemmNT(rows, cols, c.d, w.dO, 0, c.d, w.v, 0, c.d, dp, 0, BC, 0f);
        boolean capped = c.softcap != 0f;
        for (int i = 0; i < rows; i++) {
            int off = i * BC;
            float di = w.delta[i];
            if (capped) {
                for (int j = off; j < off + cols; j++) dp[j] = s[j] * (dp[j] - di) * dt[j];
            } else {
                for (int j = off; j < off + cols; j++) dp[j] = s[j] * (dp[j] - di);
            }
        }
    }

    // ---------------------------------------------------------------- delta and merge

    /** delta[b, h, i] = sum_d dOut·out, summed in double. */
    static void delta(TileView dOut, TileView out, TileView delta, int batch, int heads, int n, int d) {
        int blocks = ceilDiv(n, BR);
        Parallel.forRange(batch * heads * blocks, 16, (start, end) -> {
            Workspace w = Workspace.get(d);
            for (int t = start; t < end; t++) {
                int bh = t / blocks, r0 = t % blocks * BR;
                int b = bh / heads, h = bh % heads, rows = Math.min(BR, n - r0);
                dOut.loadRows(b, h, r0, rows, d, w.dO, 0, d, 1f);
                out.loadRows(b, h, r0, rows, d, w.o, 0, d, 1f);
                for (int i = 0; i < rows; i++) {
                    double sum = 0;
                    for (int j = i * d; j < i * d + d; j++) sum += (double) w.dO[j] * w.o[j];
                    w.delta[i] = (float) sum;
                }
                delta.storeVector(b, h, r0, rows, w.delta, 0);
            }
        });
    }

    /** (out, lse) ← merge of (out, lse) and (partOut, partLse), row by row (papers.md §1.1). */
    static void merge(TileView out, TileView lse, TileView partOut, TileView partLse, int batch, int heads, int n, int d) {
        int blocks = ceilDiv(n, BR);
        Parallel.forRange(batch * heads * blocks, 16, (start, end) -> {
            Workspace w = Workspace.get(d);
            for (int t = start; t < end; t++) {
                int bh = t / blocks, r0 = t % blocks * BR;
                int b = bh / heads, h = bh % heads, rows = Math.min(BR, n - r0);
                out.loadRows(b, h, r0, rows, d, w.o, 0, d, 1f);
                partOut.loadRows(b, h, r0, rows, d, w.dO, 0, d, 1f);
                lse.loadVector(b, h, r0, rows, w.lse, 0);
                partLse.loadVector(b, h, r0, rows, w.delta, 0);
                for (int i = 0; i < rows; i++) {
                    float l1 = w.lse[i], l2 = w.delta[i];
                    int off = i * d;
                    if (l1 == Float.NEGATIVE_INFINITY && l2 == Float.NEGATIVE_INFINITY) {
                        Arrays.fill(w.o, off, off + d, 0f);
                        continue;
                    }
                    float max = Math.max(l1, l2);
                    float merged = max + (float) Math.log1p(Math.exp(-Math.abs(l1 - l2)));
                    float w1 = l1 == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(l1 - merged);
                    float w2 = l2 == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(l2 - merged);
                    for (int j = off; j < off + d; j++) {
                        float a = w1 == 0f ? 0f : w1 * w.o[j];
                        float bb = w2 == 0f ? 0f : w2 * w.dO[j];
                        w.o[j] = a + bb;
                    }
                    w.lse[i] = merged;
                }
                out.storeRows(b, h, r0, rows, d, w.o, 0, d);
                lse.storeVector(b, h, r0, rows, w.lse, 0);
            }
        });
    }
}
