package dev.corvus.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Flash attention against the double-precision {@link ReferenceAttention} on sizes that are not
 * multiples of the tiles, grouped/multi-query heads, causal masks in both Nq/Nk directions,
 * fully masked rows, 16-bit and strided inputs, split-key accumulation, merge and decode.
 */
class FlashAttentionTest {
    enum Masking { FULL, CAUSAL, CAUSAL_SHIFTED }

    enum Layout { CONTIGUOUS, SEQ_MAJOR, D_STRIDED }

    /** One configuration; onePass null lets the backward choose its parallel scheme. */
    record Case(int batch, int hq, int hkv, int nq, int nk, int d, Masking masking, DType dtype, Layout layout, Boolean onePass) {
        Mask mask() {
            return switch (masking) {
                case FULL -> Mask.NONE;
                case CAUSAL -> Mask.causalBottomRight(nq, nk);
                // Queries start before the keys: the first 20 query rows see nothing.
                case CAUSAL_SHIFTED -> Mask.causal(100, 120);
            };
        }

        ReferenceAttention.Shape shape() {
            return new ReferenceAttention.Shape(batch, hq, hkv, nq, nk, d);
        }

        float scale() {
            return (float) (1 / Math.sqrt(d));
        }

        @Override
        public String toString() {
            return "B" + batch + " H" + hq + "/" + hkv + " Nq" + nq + " Nk" + nk + " D" + d + " " + masking + " " + dtype + " " + layout
                    + (onePass == null ? "" : onePass ? " one-pass" : " two-pass");
        }
    }

    static Stream<Case> cases() {
        DType f32 = DType.F32;
        Layout c = Layout.CONTIGUOUS;
        return Stream.of(
                new Case(1, 1, 1, 1, 1, 1, Masking.CAUSAL, f32, c, null),
                new Case(1, 1, 1, 7, 7, 8, Masking.CAUSAL, f32, c, null),
                new Case(2, 4, 2, 13, 13, 13, Masking.FULL, f32, c, null),
                new Case(1, 6, 1, 64, 64, 64, Masking.CAUSAL, f32, c, null),          // MQA
                new Case(1, 4, 4, 65, 65, 8, Masking.CAUSAL, f32, c, false),
                new Case(2, 4, 2, 130, 130, 13, Masking.CAUSAL, f32, c, null),
                new Case(1, 1, 1, 257, 257, 64, Masking.CAUSAL, f32, c, false),
                new Case(1, 2, 1, 257, 257, 8, Masking.CAUSAL, f32, c, true),
                new Case(1, 2, 1, 7, 130, 8, Masking.CAUSAL, f32, c, null),            // Nq < Nk
                new Case(1, 2, 2, 130, 65, 8, Masking.CAUSAL, f32, c, false),          // Nq > Nk: top rows see nothing
                new Case(2, 2, 1, 65, 40, 8, Masking.CAUSAL_SHIFTED, f32, c, null),  // fully masked rows
                new Case(1, 4, 2, 65, 130, 64, Masking.FULL, f32, c, true),
                new Case(1, 4, 2, 65, 65, 13, Masking.CAUSAL, DType.F16, c, null),
                new Case(2, 2, 1, 64, 130, 64, Masking.FULL, DType.BF16, c, null),
                new Case(1, 4, 2, 65, 65, 13, Masking.CAUSAL, f32, Layout.SEQ_MAJOR, null),
                new Case(2, 2, 2, 33, 70, 8, Masking.CAUSAL, DType.BF16, Layout.D_STRIDED, false));
    }

    private MemoryScope scope;

    @BeforeEach
    void open() {
        scope = MemoryScope.open("flash-test");
    }

    @AfterEach
    void close() {
        scope.close();
    }

    /** A [b, h, n, d] tensor of normal values in the requested dtype and layout. */
    static Tensor input(long seed, int b, int h, int n, int d, DType dtype, Layout layout) {
        Tensor t = switch (layout) {
            case CONTIGUOUS -> Tensor.randn(seed, b, h, n, d);
            case SEQ_MAJOR -> Tensor.randn(seed, b, n, h, d).transpose(1, 2);
            case D_STRIDED -> Tensor.randn(seed, b, h, d, n).transpose(2, 3);
        };
        if (dtype == DType.F32) return t;
        Tensor converted = Ops.convert(t, dtype); // contiguous
        return switch (layout) {
            case CONTIGUOUS -> converted;
            case SEQ_MAJOR -> Ops.convert(t.transpose(1, 2), dtype).transpose(1, 2);
            case D_STRIDED -> Ops.convert(t.transpose(2, 3), dtype).transpose(2, 3);
        };
    }

    static float[] toFloats(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    static double maxAbs(double[] a) {
        double m = 0;
        for (double x : a) if (Double.isFinite(x)) m = Math.max(m, Math.abs(x));
        return m;
    }

    /** Error allowed for a value summing {@code length} terms, relative to the largest value. */
    static void assertClose(String what, double[] expected, Tensor actual, int length) {
        float[] got = actual.toFloatArray();
        double abs = Close.reductionTolerance(length, 3e-6) * Math.max(1, maxAbs(expected));
        Close.assertAllClose(what, toFloats(expected), got, abs, 1e-4);
        for (float x : got) assertThat(Float.isNaN(x)).as(what + " has NaN").isFalse();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void forwardAndBackwardMatchReference(Case c) {
        Tensor q = input(1, c.batch, c.hq, c.nq, c.d, c.dtype, c.layout);
        Tensor k = input(2, c.batch, c.hkv, c.nk, c.d, c.dtype, c.layout);
        Tensor v = input(3, c.batch, c.hkv, c.nk, c.d, c.dtype, c.layout);
        Tensor dOut = Tensor.randn(4, c.batch, c.hq, c.nq, c.d);
        float[] qf = q.toFloatArray(), kf = k.toFloatArray(), vf = v.toFloatArray(), df = dOut.toFloatArray();
        Mask mask = c.mask();

        FlashAttention.Result r = FlashAttention.forward(q, k, v, mask, c.scale());
        ReferenceAttention.Forward ref = ReferenceAttention.forward(c.shape(), qf, kf, vf, mask, c.scale());
        assertClose(c + " out", ref.out(), r.out(), c.nk + c.d);
        assertClose(c + " lse", ref.lse(), r.lse(), c.d);

        Tensor delta = FlashAttention.delta(dOut, r.out());
        Tensor dq = Tensor.zeros(DType.F32, q.shape()), dk = Tensor.zeros(DType.F32, k.shape()), dv = Tensor.zeros(DType.F32, v.shape());
        FlashAttention.backwardAccumulate(q, k, v, dOut, r.lse(), delta, mask, c.scale(), 0f, dq, dk, dv, c.onePass);
        ReferenceAttention.Grads g = ReferenceAttention.backward(c.shape(), qf, kf, vf, df, mask, c.scale());
        int group = c.hq / c.hkv;
        assertClose(c + " dq", g.dq(), dq, c.nk + c.d);
        assertClose(c + " dk", g.dk(), dk, group * c.nq + c.d);
        assertClose(c + " dv", g.dv(), dv, group * c.nq + c.d);
    }

    @Test
    void backwardEqualsAccumulateFromZero() {
        Tensor q = Tensor.randn(1, 1, 2, 70, 16), k = Tensor.randn(2, 1, 1, 70, 16), v = Tensor.randn(3, 1, 1, 70, 16);
        Tensor dOut = Tensor.randn(4, 1, 2, 70, 16);
        Mask mask = Mask.causalBottomRight(70, 70);
        FlashAttention.Result r = FlashAttention.forward(q, k, v, mask, 0.25f);
        FlashAttention.Gradients g = FlashAttention.backward(q, k, v, r.out(), r.lse(), dOut, mask, 0.25f);
        ReferenceAttention.Grads ref = ReferenceAttention.backward(new ReferenceAttention.Shape(1, 2, 1, 70, 70, 16),
                q.toFloatArray(), k.toFloatArray(), v.toFloatArray(), dOut.toFloatArray(), mask, 0.25f);
        assertClose("dq", ref.dq(), g.dq(), 90);
        assertClose("dk", ref.dk(), g.dk(), 160);
        assertClose("dv", ref.dv(), g.dv(), 160);
    }

    @Test
    void fullyMaskedRowsGiveZeroOutputMinusInfLseAndZeroGradients() {
        int nq = 30, nk = 10, d = 8;
        Tensor q = Tensor.randn(1, 1, 1, nq, d), k = Tensor.randn(2, 1, 1, nk, d), v = Tensor.randn(3, 1, 1, nk, d);
        Mask mask = Mask.causal(0, 12); // query rows 0..11 see no key
        FlashAttention.Result r = FlashAttention.forward(q, k, v, mask, 0.3f);
        FlashAttention.Gradients g = FlashAttention.backward(q, k, v, r.out(), r.lse(), Tensor.randn(4, 1, 1, nq, d), mask, 0.3f);
        for (int i = 0; i < nq; i++) {
            boolean masked = i < 12;
            assertThat(r.lse().get(0, 0, i) == Float.NEGATIVE_INFINITY).as("row " + i).isEqualTo(masked);
            for (int j = 0; j < d; j++) {
                if (masked) {
                    assertThat(r.out().get(0, 0, i, j)).isZero();
                    assertThat(g.dq().get(0, 0, i, j)).isZero();
                }
            }
        }
        for (float x : g.dk().toFloatArray()) assertThat(Float.isFinite(x)).isTrue();
        for (float x : g.dv().toFloatArray()) assertThat(Float.isFinite(x)).isTrue();
    }

    @Test
    void backwardAccumulateOverTwoKeyBlocksSumsToTheFullGradient() {
        int b = 1, hq = 4, hkv = 2, nq = 90, nk = 150, d = 13, split = 70;
        float scale = 0.3f;
        Tensor q = Tensor.randn(1, b, hq, nq, d), k = Tensor.randn(2, b, hkv, nk, d), v = Tensor.randn(3, b, hkv, nk, d);
        Tensor dOut = Tensor.randn(4, b, hq, nq, d);
        Mask mask = Mask.causalBottomRight(nq, nk);
        FlashAttention.Result r = FlashAttention.forward(q, k, v, mask, scale);
        FlashAttention.Gradients whole = FlashAttention.backward(q, k, v, r.out(), r.lse(), dOut, mask, scale);

        Tensor delta = FlashAttention.delta(dOut, r.out());
        Tensor dq = Tensor.zeros(DType.F32, q.shape()), dk = Tensor.zeros(DType.F32, k.shape()), dv = Tensor.zeros(DType.F32, v.shape());
        int[][] blocks = {{0, split}, {split, nk - split}};
        for (int[] blk : blocks) {
            Mask part = Mask.causal(mask.queryStart(), mask.keyStart() + blk[0]);
            FlashAttention.backwardAccumulate(q, k.narrow(2, blk[0], blk[1]), v.narrow(2, blk[0], blk[1]), dOut, r.lse(), delta, part,
                    scale, dq, dk.narrow(2, blk[0], blk[1]), dv.narrow(2, blk[0], blk[1]));
        }
        Close.assertAllClose("dq", whole.dq().toFloatArray(), dq.toFloatArray(), 1e-5, 1e-4);
        Close.assertAllClose("dk", whole.dk().toFloatArray(), dk.toFloatArray(), 1e-5, 1e-4);
        Close.assertAllClose("dv", whole.dv().toFloatArray(), dv.toFloatArray(), 1e-5, 1e-4);
    }

    @Test
    void mergeOfTwoKeyHalvesEqualsTheWhole() {
        int b = 2, hq = 2, hkv = 1, nq = 40, nk = 100, d = 8, split = 45;
        Tensor q = Tensor.randn(1, b, hq, nq, d), k = Tensor.randn(2, b, hkv, nk, d), v = Tensor.randn(3, b, hkv, nk, d);
        // Queries at positions 30..69, keys at 50..149: rows 0..19 see no key at all, rows 20..64 only
        // the first half (the second half's partial is the -inf identity there).
        Mask mask = Mask.causal(30, 50);
        FlashAttention.Result whole = FlashAttention.forward(q, k, v, mask, 0.35f);
        FlashAttention.Result first = FlashAttention.forward(q, k.narrow(2, 0, split), v.narrow(2, 0, split), mask, 0.35f);
        FlashAttention.Result second = FlashAttention.forward(q, k.narrow(2, split, nk - split), v.narrow(2, split, nk - split),
                Mask.causal(30, 50 + split), 0.35f);
        FlashAttention.merge(first.out(), first.lse(), second.out(), second.lse());
        Close.assertAllClose("out", whole.out().toFloatArray(), first.out().toFloatArray(), 1e-5, 1e-4);
        Close.assertAllClose("lse", whole.lse().toFloatArray(), first.lse().toFloatArray(), 1e-5, 1e-5);
        assertThat(first.lse().get(0, 0, 0)).isEqualTo(Float.NEGATIVE_INFINITY);
    }

    @Test
    void mergeHandlesTheMinusInfinityIdentity() {
        Tensor out = Tensor.of(new float[] {1, 2, 0, 0, 0, 0}, 1, 1, 3, 2);
        Tensor lse = Tensor.of(new float[] {0.5f, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, 1, 1, 3);
        Tensor partOut = Tensor.of(new float[] {0, 0, 3, 4, 0, 0}, 1, 1, 3, 2);
        Tensor partLse = Tensor.of(new float[] {Float.NEGATIVE_INFINITY, 1.5f, Float.NEGATIVE_INFINITY}, 1, 1, 3);
        FlashAttention.merge(out, lse, partOut, partLse);
        assertThat(out.toFloatArray()).containsExactly(1, 2, 3, 4, 0, 0);
        assertThat(lse.toFloatArray()).containsExactly(0.5f, 1.5f, Float.NEGATIVE_INFINITY);
        // Equal halves: lse grows by log 2, the output is their average.
        Tensor o1 = Tensor.of(new float[] {2, 4}, 1, 1, 1, 2), l1 = Tensor.of(new float[] {3f}, 1, 1, 1);
        FlashAttention.merge(o1, l1, Tensor.of(new float[] {4, 0}, 1, 1, 1, 2), Tensor.of(new float[] {3f}, 1, 1, 1));
        assertThat(o1.toFloatArray()).containsExactly(3, 2);
        assertThat(l1.item()).isCloseTo((float) (3 + Math.log(2)), org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void decodeMatchesTheLastRowOfForward() {
        int b = 2, hq = 6, hkv = 2, capacity = 1200, d = 16;
        Tensor kCache = Tensor.randn(2, b, hkv, capacity, d), vCache = Tensor.randn(3, b, hkv, capacity, d);
        for (int length : new int[] {1, 7, 65, 1100}) {
            Tensor q = Tensor.randn(1, b, hq, length, d);
            Tensor k = kCache.narrow(2, 0, length), v = vCache.narrow(2, 0, length);
            FlashAttention.Result full = FlashAttention.forward(q, k, v, Mask.causalBottomRight(length, length), 0.25f);
            Tensor last = q.narrow(2, length - 1, 1);
            Tensor out = FlashAttention.decode(last, kCache, vCache, length, 0.25f);
            Close.assertAllClose("decode length " + length, full.out().narrow(2, length - 1, 1).toFloatArray(), out.toFloatArray(),
                    Close.reductionTolerance(length, 2e-6), 1e-4);
        }
        Tensor empty = FlashAttention.decode(Tensor.randn(1, b, hq, 1, d), kCache, vCache, 0, 0.25f);
        assertThat(empty.toFloatArray()).containsOnly(0f);
    }

    @Test
    void decodeSplitsALongCacheForFewHeads() {
        int capacity = 5000, d = 64, length = 4321;
        Tensor kCache = Tensor.randn(2, 1, 1, capacity, d).to(DType.BF16), vCache = Tensor.randn(3, 1, 1, capacity, d).to(DType.BF16);
        Tensor q = Tensor.randn(1, 1, 6, 1, d);
        Tensor out = FlashAttention.decode(q, kCache, vCache, length, 0.125f);
        ReferenceAttention.Forward ref = ReferenceAttention.forward(new ReferenceAttention.Shape(1, 6, 1, 1, length, d),
                q.toFloatArray(), kCache.narrow(2, 0, length).toFloatArray(), vCache.narrow(2, 0, length).toFloatArray(), Mask.NONE, 0.125f);
        assertClose("decode", ref.out(), out, length);
    }

    /** Sliding windows and soft-capping; window >= nk and softcap 0 are the plain cases they must reduce to. */
    static Stream<int[]> windowCases() {
        // {hq, hkv, nq, nk, d, window, softcap}
        return Stream.of(
                new int[] {1, 1, 1, 1, 1, 1, 0},
                new int[] {1, 1, 7, 7, 8, 1, 0},       // each query sees only itself
                new int[] {2, 1, 13, 13, 13, 5, 50},
                new int[] {4, 2, 65, 130, 8, 17, 0},   // Nq < Nk: the window slides inside the cache
                new int[] {2, 2, 130, 130, 16, 64, 30}, // window = one tile
                new int[] {1, 1, 257, 257, 13, 100, 0},
                new int[] {3, 1, 70, 70, 7, 200, 20},  // window wider than the sequence: plain causal
                new int[] {2, 1, 40, 40, 8, Integer.MAX_VALUE, 5});
    }

    /**
     * A windowed case {hq, hkv, nq, nk, d, window (MAX_VALUE: none), softcap}: the queries are the
     * last nq of nk positions and scaled by 3, so the scores reach where a small cap bends.
     */
    record WindowCase(int hq, int hkv, int nq, int nk, int d, long window, int softcap, Tensor q, Tensor k, Tensor v) {
        static WindowCase of(int[] p, long seed) {
            int hq = p[0], hkv = p[1], nq = p[2], nk = p[3], d = p[4];
            return new WindowCase(hq, hkv, nq, nk, d, p[5] == Integer.MAX_VALUE ? Mask.NO_WINDOW : p[5], p[6],
                    Ops.scale(Tensor.randn(seed, 1, hq, nq, d), 3f), Tensor.randn(seed + 1, 1, hkv, nk, d), Tensor.randn(seed + 2, 1, hkv, nk, d));
        }

        Mask mask() {
            return new Mask(true, nk - nq, 0, window);
        }

        float scale() {
            return (float) (1 / Math.sqrt(d));
        }

        ReferenceAttention.Shape shape() {
            return new ReferenceAttention.Shape(1, hq, hkv, nq, nk, d);
        }

        String label() {
            return "H" + hq + "/" + hkv + " Nq" + nq + " Nk" + nk + " D" + d + " window " + window + " softcap " + softcap;
        }
    }

    @ParameterizedTest(name = "{index}")
    @MethodSource("windowCases")
    void slidingWindowAndSoftcapMatchReference(int[] p) {
        WindowCase w = WindowCase.of(p, 11);
        int nq = w.nq(), nk = w.nk(), softcap = w.softcap();
        long window = w.window();
        Tensor q = w.q(), k = w.k(), v = w.v();
        Mask mask = w.mask();
        float scale = w.scale();
        FlashAttention.Result r = FlashAttention.forward(q, k, v, mask, scale, softcap);
        ReferenceAttention.Forward ref = ReferenceAttention.forward(w.shape(), q.toFloatArray(), k.toFloatArray(), v.toFloatArray(), mask, scale, softcap);
        String what = w.label();
        assertClose(what + " out", ref.out(), r.out(), nk + w.d());
        assertClose(what + " lse", ref.lse(), r.lse(), w.d());

        // decode of the last query: the window is the cache narrowed to its last `window` positions
        int from = (int) Math.max(0, nk - window);
        Tensor out = FlashAttention.decode(q.narrow(2, nq - 1, 1), k.narrow(2, from, nk - from), v.narrow(2, from, nk - from), nk - from,
                scale, softcap);
        Close.assertAllClose(what + " decode", r.out().narrow(2, nq - 1, 1).toFloatArray(), out.toFloatArray(),
                Close.reductionTolerance(nk, 2e-6), 1e-4);
    }

    /**
     * {hq, hkv, nq, nk, d, window (MAX_VALUE: none), softcap}: awkward lengths, windows of one
     * key, a few keys, a tile and wider than the sequence, a cap of 30 (mild) and 2 (tanh
     * saturates: scores are scaled by 3 below), GQA and MQA.
     */
    static Stream<int[]> windowBackwardCases() {
        return Stream.of(
                new int[] {1, 1, 1, 1, 8, 1, 0},
                new int[] {1, 1, 7, 7, 8, 1, 2},
                new int[] {2, 1, 7, 7, 48, 3, 30},
                new int[] {4, 2, 13, 13, 8, 3, 0},
                new int[] {4, 2, 13, 13, 48, 16, 2},
                new int[] {2, 2, 37, 37, 8, 16, 30},
                new int[] {3, 1, 37, 37, 48, 100, 2},    // window wider than the sequence
                new int[] {4, 2, 100, 100, 8, 16, 0},
                new int[] {2, 1, 100, 100, 48, 3, 30},
                new int[] {2, 1, 100, 100, 8, Integer.MAX_VALUE, 2},  // softcap alone
                new int[] {2, 2, 200, 200, 8, 70, 2},    // a window over two tiles: whole tiles skipped
                new int[] {2, 1, 37, 100, 8, 16, 30});   // Nq < Nk: the queries are the last 37 of 100
    }

    @ParameterizedTest(name = "{index}")
    @MethodSource("windowBackwardCases")
    void slidingWindowAndSoftcapBackwardMatchReference(int[] p) {
        WindowCase w = WindowCase.of(p, 21);
        int hq = w.hq(), hkv = w.hkv(), nk = w.nk(), d = w.d(), softcap = w.softcap();
        long window = w.window();
        Tensor q = w.q(), k = w.k(), v = w.v(), dOut = Tensor.randn(24, 1, hq, w.nq(), d);
        Mask mask = w.mask();
        float scale = w.scale();
        ReferenceAttention.Shape shape = w.shape();
        float[] qf = q.toFloatArray(), kf = k.toFloatArray(), vf = v.toFloatArray(), df = dOut.toFloatArray();
        FlashAttention.Result r = FlashAttention.forward(q, k, v, mask, scale, softcap);
        ReferenceAttention.Grads g = ReferenceAttention.backward(shape, qf, kf, vf, df, mask, scale, softcap);
        String what = w.label();
        int seen = (int) Math.min(nk, window), group = hq / hkv;
        for (Boolean onePass : new Boolean[] {true, false}) {
            Tensor delta = FlashAttention.delta(dOut, r.out());
            Tensor dq = Tensor.zeros(DType.F32, q.shape()), dk = Tensor.zeros(DType.F32, k.shape()), dv = Tensor.zeros(DType.F32, v.shape());
            FlashAttention.backwardAccumulate(q, k, v, dOut, r.lse(), delta, mask, scale, softcap, dq, dk, dv, onePass);
            String how = what + (onePass ? " one-pass" : " two-pass");
            assertClose(how + " dq", g.dq(), dq, seen + d);
            assertClose(how + " dk", g.dk(), dk, group * seen + d);
            assertClose(how + " dv", g.dv(), dv, group * seen + d);
        }
        FlashAttention.Gradients whole = FlashAttention.backward(q, k, v, r.out(), r.lse(), dOut, mask, scale, softcap);
        assertClose(what + " backward dq", g.dq(), whole.dq(), seen + d);
    }

    /**
     * Central differences of a scalar loss L = sum(out ∘ dOut) through the forward with a window
     * and a saturating cap, against the backward: checks the kernel against the forward it
     * differentiates, not only against the reference's formulas.
     */
    @Test
    void windowedSoftcappedBackwardMatchesFiniteDifferences() {
        int hq = 2, hkv = 1, n = 13, d = 8;
        float scale = (float) (1 / Math.sqrt(d)), softcap = 2f;
        Mask mask = Mask.slidingWindowBottomRight(n, n, 4);
        Tensor q = Ops.scale(Tensor.randn(31, 1, hq, n, d), 2f), k = Tensor.randn(32, 1, hkv, n, d), v = Tensor.randn(33, 1, hkv, n, d);
        Tensor dOut = Tensor.randn(34, 1, hq, n, d);
        FlashAttention.Result r = FlashAttention.forward(q, k, v, mask, scale, softcap);
        FlashAttention.Gradients g = FlashAttention.backward(q, k, v, r.out(), r.lse(), dOut, mask, scale, softcap);
        float[] dOf = dOut.toFloatArray();
        Tensor[] inputs = {q, k, v};
        Tensor[] grads = {g.dq(), g.dk(), g.dv()};
        String[] names = {"dq", "dk", "dv"};
        double eps = 1e-2;
        for (int t = 0; t < 3; t++) {
            float[] base = inputs[t].toFloatArray(), analytic = grads[t].toFloatArray();
            for (int i = 0; i < base.length; i += 5) {
                double[] loss = new double[2];
                for (int side = 0; side < 2; side++) {
                    float[] moved = base.clone();
                    moved[i] += (float) (side == 0 ? eps : -eps);
                    Tensor[] in = inputs.clone();
                    in[t] = Tensor.of(moved, inputs[t].shape());
                    float[] out = FlashAttention.forward(in[0], in[1], in[2], mask, scale, softcap).out().toFloatArray();
                    for (int j = 0; j < out.length; j++) loss[side] += (double) out[j] * dOf[j];
                }
                double numeric = (loss[0] - loss[1]) / (2 * eps);
                assertThat(analytic[i]).as(names[t] + "[" + i + "]").isCloseTo((float) numeric,
                        org.assertj.core.data.Offset.offset((float) (2e-3 + 2e-3 * Math.abs(numeric))));
            }
        }
    }

    @Test
    void windowedMasksAreChecked() {
        assertThatThrownBy(() -> new Mask(false, 0, 0, 4)).hasMessageContaining("causal");
        assertThatThrownBy(() -> Mask.slidingWindowBottomRight(3, 3, 0)).hasMessageContaining("window 0");
        Mask m = Mask.slidingWindowBottomRight(8, 8, 3);
        assertThat(m.visible(5, 3)).isTrue();
        assertThat(m.visible(5, 2)).isFalse();
        assertThat(m.visible(5, 6)).isFalse();
        Tensor q = Tensor.randn(1, 1, 1, 8, 4), k = Tensor.randn(2, 1, 1, 8, 4);
        assertThatThrownBy(() -> FlashAttention.forward(q, k, k, Mask.NONE, 0.5f, -1f)).hasMessageContaining("softcap");
    }

    @Test
    void argumentErrorsNameTheShapes() {
        Tensor q = Tensor.randn(1, 1, 6, 8, 16), k = Tensor.randn(2, 1, 4, 8, 16), v = Tensor.randn(3, 1, 4, 8, 16);
        assertThatThrownBy(() -> FlashAttention.forward(q, k, v, Mask.NONE, 1f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("query heads 6").hasMessageContaining("[1, 6, 8, 16]")
                .hasMessageContaining("kv heads 4").hasMessageContaining("[1, 4, 8, 16]");
        Tensor k2 = Tensor.randn(2, 1, 2, 8, 16);
        assertThatThrownBy(() -> FlashAttention.forward(q, k2, v, Mask.NONE, 1f)).hasMessageContaining("same shape");
        assertThatThrownBy(() -> FlashAttention.forward(q, k2, k2, Mask.NONE, Float.NaN)).hasMessageContaining("finite");
        assertThatThrownBy(() -> FlashAttention.forward(q.view(6, 8, 16), k2, k2, Mask.NONE, 1f))
                .hasMessageContaining("rank 4").hasMessageContaining("[6, 8, 16]");
        Tensor k3 = Tensor.randn(2, 1, 2, 8, 12);
        assertThatThrownBy(() -> FlashAttention.forward(q, k3, k3, Mask.NONE, 1f)).hasMessageContaining("head dimension D (16 vs 12)");
        Tensor k4 = Tensor.randn(2, 2, 2, 8, 16);
        assertThatThrownBy(() -> FlashAttention.forward(q, k4, k4, Mask.NONE, 1f)).hasMessageContaining("batch (1 vs 2)");
        assertThatThrownBy(() -> FlashAttention.decode(q, k2, k2, 3, 1f)).hasMessageContaining("one query row");
        Tensor q1 = q.narrow(2, 0, 1);
        assertThatThrownBy(() -> FlashAttention.decode(q1, k2, k2, 9, 1f)).hasMessageContaining("length 9");
    }
}
