package dev.corvus.vector;

import static dev.corvus.vector.Fixtures.ROWS;
import static dev.corvus.vector.Fixtures.SCALAR;
import static dev.corvus.vector.Fixtures.VECTOR;
import static dev.corvus.vector.Fixtures.assertSameBytes;
import static dev.corvus.vector.Fixtures.assertSameFloats;
import static dev.corvus.vector.Fixtures.floats;
import static dev.corvus.vector.Fixtures.shorts;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** copy(): every conversion must give the scalar backend's bytes exactly, on every layout path. */
@SuppressWarnings("try") // scopes are opened for the tensors they hold, not referenced by name
class VectorBackendConversionsTest {
    private static final int[] Q8_LENGTHS = {32, 64, 96, 160, 1056, 4128};

    /** Copies src into fresh tensors of dtype (shape of src) with both backends; returns {scalar, vector}. */
    private static Tensor[] both(Tensor src, DType dtype) {
        Tensor e = Tensor.zeros(dtype, src.shape()), a = Tensor.zeros(dtype, src.shape());
        SCALAR.copy(src, e);
        VECTOR.copy(src, a);
        return new Tensor[] {e, a};
    }

    private static void check(String what, Tensor src, DType dtype) {
        Tensor[] r = both(src, dtype);
        assertSameBytes(what + " " + src + " -> " + dtype, r[0], r[1]);
    }

    /** Floats that stress BF16 rounding: ties both ways, just off ties, NaN payloads, overflow to inf. */
    private static float[] bf16Edges(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] lows = {0x8000, 0x7fff, 0x8001, 0x0000, 0xffff, 0x4000};
        float[] v = Fixtures.normal(seed, n, 10);
        int[] special = {0x7f800001, 0x7fc00000, 0xff800001, 0x7fffffff, 0xffffffff, 0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x00008000,
            0x80018000, 0x7f800000, 0xff800000, 0x80000000, 0x00000001};
        for (int i = 0; i < n; i++) {
            if (i % 3 == 0) v[i] = Float.intBitsToFloat((r.nextInt() & 0xffff0000) | lows[r.nextInt(lows.length)]);
            if (i % 7 == 1) v[i] = Float.intBitsToFloat(special[r.nextInt(special.length)]);
        }
        return v;
    }

    @Test
    void everyF16AndBf16PatternWidensExactly() {
        try (MemoryScope s = MemoryScope.open()) {
            short[] all = new short[65536];
            for (int i = 0; i < all.length; i++) all[i] = (short) i;
            for (DType t : new DType[] {DType.F16, DType.BF16}) {
                Tensor src = shorts(t, all, 256, 256);
                Tensor[] r = both(src, DType.F32);
                // Raw bits, NaN payloads included.
                assertSameBytes(t + " -> F32", r[0], r[1]);
                // Narrowing those floats back must return every non-NaN pattern unchanged.
                Tensor back = Tensor.zeros(t, 256, 256);
                VECTOR.copy(r[1], back);
                short[] round = back.segment().toArray(ValueLayout.JAVA_SHORT_UNALIGNED);
                for (int i = 0; i < all.length; i++) {
                    float f = r[1].segment().getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    if (!Float.isNaN(f)) assertThat(round[i]).as("%s pattern %04x", t, i).isEqualTo(all[i]);
                }
            }
        }
    }

    @Test
    void narrowingToF16AndBf16MatchesBitForBit() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int rows : ROWS) {
                for (int n : Close.AWKWARD) {
                    Tensor x = Tensor.of(bf16Edges(n * 31L + rows, rows * n), rows, n);
                    check("edges", x, DType.BF16);
                    check("edges", x, DType.F16);
                    Tensor y = Tensor.of(Fixtures.withSpecials(n, rows * n, 3, Fixtures.SPECIALS), rows, n);
                    check("normal", y, DType.BF16);
                    check("normal", y, DType.F16);
                }
            }
        }
    }

    @Test
    void f16AndBf16ConvertIntoEachOther() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.of(bf16Edges(5, 3 * 257), 3, 257);
            Tensor h = Tensor.zeros(DType.F16, 3, 257), b = Tensor.zeros(DType.BF16, 3, 257);
            SCALAR.copy(x, h);
            SCALAR.copy(x, b);
            check("f16", h, DType.BF16);
            check("bf16", b, DType.F16);
        }
    }

    /** Blocks that hit every branch of the Q8_0 rule. */
    private static float[] q8Data(long seed, int rows, int n) {
        float[] v = Fixtures.normal(seed, rows * n, 2);
        int blocks = v.length / 32;
        for (int b = 0; b < blocks; b++) {
            int o = b * 32;
            switch (b % 9) {
                case 1 -> java.util.Arrays.fill(v, o, o + 32, 0f); // scale 0: inverse 0
                case 2 -> {
                    // amax 127 gives scale 1: exact half-way values round away from zero.
                    for (int i = 0; i < 32; i++) v[o + i] = (i - 16) + 0.5f;
                    v[o] = 127f;
                    v[o + 1] = 0.49999997f; // roundf gives 0; adding 0.5f in float would give 1
                    v[o + 2] = -0.49999997f;
                    v[o + 3] = -0f;
                }
                case 3 -> v[o + 5] = Float.NaN;
                case 4 -> v[o + 7] = Float.NEGATIVE_INFINITY;
                case 5 -> {
                    for (int i = 0; i < 32; i++) v[o + i] *= 1e-39f; // subnormal block: scale underflows, inverse overflows
                }
                case 6 -> {
                    for (int i = 0; i < 32; i++) v[o + i] = Float.MIN_VALUE * (i - 16);
                }
                case 7 -> {
                    for (int i = 0; i < 32; i++) v[o + i] *= 1e30f; // huge values
                }
                default -> { }
            }
        }
        return v;
    }

    @Test
    void q8QuantizeGivesTheScalarBytesAndDequantizeItsFloats() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int rows : ROWS) {
                for (int n : Q8_LENGTHS) {
                    Tensor x = Tensor.of(q8Data(rows * 1000L + n, rows, n), rows, n);
                    Tensor[] q = both(x, DType.Q8_0);
                    assertSameBytes("quantize " + rows + "x" + n, q[0], q[1]);
                    Tensor[] d = both(q[0], DType.F32);
                    assertSameFloats("dequantize " + rows + "x" + n, floats(d[0]), floats(d[1]));
                }
            }
        }
    }

    @Test
    void q8DequantizesArbitraryBlocks() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor q = Tensor.zeros(DType.Q8_0, 17, 96);
            SplittableRandom r = new SplittableRandom(3);
            long bytes = DType.Q8_0.byteSize(q.numel());
            for (long i = 0; i < bytes; i++) q.segment().set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
            Tensor[] d = both(q, DType.F32);
            assertSameFloats("random blocks", floats(d[0]), floats(d[1]));
        }
    }

    @Test
    void sameTypeCopiesAreByteCopies() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.of(Fixtures.normal(1, 3 * 65, 1), 3, 65);
            check("f32", x, DType.F32);
            check("i32", Tensor.ofInts(new int[] {1, -2, 3, Integer.MIN_VALUE, 5, 6}, 2, 3), DType.I32);
            Tensor q = Tensor.zeros(DType.Q8_0, 2, 64);
            SCALAR.copy(Tensor.of(Fixtures.normal(2, 128, 1), 2, 64), q);
            check("q8", q, DType.Q8_0);
            check("scalar", Tensor.of(new float[] {4f}), DType.BF16);
        }
    }

    /** Views that exercise the row path (last dimension contiguous) and the element path. */
    @Test
    void viewsCopyLikeTheReference() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor base = Tensor.of(bf16Edges(9, 37 * 100), 37, 100);
            Tensor row = Tensor.randn(4, 1, 33), col = Tensor.randn(5, 7, 1);
            Tensor cube = Tensor.randn(6, 5, 6, 40);
            Tensor[] views = {
                base.t(), // element path
                base.narrow(1, 3, 64), // rows path
                base.narrow(0, 2, 17).narrow(1, 1, 97),
                row.expand(7, 33), // outer stride 0: rows path
                col.expand(7, 33), // last stride 0: element path
                cube.permute(1, 0, 2), // rows of 40 in a shuffled order
                cube.permute(2, 1, 0),
                base.select(1, 5), // one strided column
            };
            for (Tensor v : views) {
                for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) check("view", v, t);
            }
            // Strided sources of other dtypes.
            Tensor h = Tensor.zeros(DType.F16, 37, 100), b = Tensor.zeros(DType.BF16, 37, 100);
            SCALAR.copy(base, h);
            SCALAR.copy(base, b);
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                check("f16 transposed", h.t(), t);
                check("bf16 narrowed", b.narrow(1, 7, 50), t);
            }
            check("i32 transposed", Tensor.ofInts(new int[] {1, 2, 3, 4, 5, 6}, 2, 3).t(), DType.I32);
        }
    }

    @Test
    void q8FromViewsAndFromQ8Views() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.of(q8Data(11, 6, 160), 6, 160);
            check("narrowed F32 rows", x.narrow(1, 3, 96), DType.Q8_0); // rows path, unaligned F32 side
            check("transposed F32", Tensor.of(q8Data(12, 64, 5), 64, 5).t(), DType.Q8_0); // reference fallback
            Tensor q = Tensor.zeros(DType.Q8_0, 6, 160);
            SCALAR.copy(x, q);
            check("Q8 column blocks", q.narrow(1, 32, 64), DType.F32);
            check("Q8 rows", q.narrow(0, 1, 4), DType.F32);
            check("Q8 transposed", q.t(), DType.F32);
        }
    }

    @Test
    void copiesIntoAView() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor src = Tensor.of(bf16Edges(13, 9 * 33), 9, 33);
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                Tensor e = Tensor.zeros(t, 9, 50), a = Tensor.zeros(t, 9, 50);
                SCALAR.copy(src, e.narrow(1, 5, 33));
                VECTOR.copy(src, a.narrow(1, 5, 33));
                assertSameBytes("into narrowed " + t, e, a);
                Tensor et = Tensor.zeros(t, 33, 9), at = Tensor.zeros(t, 33, 9);
                SCALAR.copy(src, et.t());
                VECTOR.copy(src, at.t());
                assertSameBytes("into transposed " + t, et, at);
            }
        }
    }
}
