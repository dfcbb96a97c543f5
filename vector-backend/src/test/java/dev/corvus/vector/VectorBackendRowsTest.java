package dev.corvus.vector;

import static dev.corvus.vector.Fixtures.ROWS;
import static dev.corvus.vector.Fixtures.SCALAR;
import static dev.corvus.vector.Fixtures.VECTOR;
import static dev.corvus.vector.Fixtures.assertSameFloats;
import static dev.corvus.vector.Fixtures.floats;
import static dev.corvus.vector.Fixtures.ints;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.RopeTable;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Row kernels against the scalar backend, with tolerances that grow with the row length. */
@SuppressWarnings("try") // scopes are opened for the tensors they hold, not referenced by name
class VectorBackendRowsTest {

    @Test
    void softmaxAndLogSoftmaxWithAndWithoutCausalMask() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int rows : ROWS) {
                for (int c : Close.AWKWARD) {
                    float[] data = Fixtures.normal(rows * 100L + c, rows * c, 4);
                    // One row of extremes, one with -inf entries: still finite after subtracting the max.
                    for (int j = 0; j < c; j++) data[j] = (j % 2 == 0 ? 80f : -80f) + j * 1e-3f;
                    if (rows > 1) data[c + c / 2] = Float.NEGATIVE_INFINITY;
                    Tensor x = Tensor.of(data, rows, c);
                    for (boolean causal : new boolean[] {false, true}) {
                        for (boolean log : new boolean[] {false, true}) {
                            Tensor e = Tensor.zeros(DType.F32, rows, c), v = Tensor.zeros(DType.F32, rows, c);
                            // queries = rows: one [queries, keys] block; more queries than keys masks rows fully.
                            SCALAR.softmax(x, e, rows, causal, log);
                            VECTOR.softmax(x, v, rows, causal, log);
                            String what = (log ? "log" : "") + "softmax causal=" + causal + " " + rows + "x" + c;
                            double rel = Close.reductionTolerance(c, 2e-7) + 1e-6;
                            Close.assertAllClose(what, floats(e), floats(v), log ? 1e-6 : 1e-9, rel);
                        }
                    }
                }
            }
        }
    }

    @Test
    void causalSoftmaxOverSeveralBlocks() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.randn(8, 2, 3, 5, 9); // [batch, heads, queries 5, keys 9]
            for (boolean log : new boolean[] {false, true}) {
                Tensor e = Tensor.zeros(DType.F32, x.shape()), v = Tensor.zeros(DType.F32, x.shape());
                SCALAR.softmax(x, e, 5, true, log);
                VECTOR.softmax(x, v, 5, true, log);
                Close.assertAllClose("causal blocks", floats(e), floats(v), 1e-6, 1e-6);
            }
        }
    }

    @Test
    void softmaxPropagatesNaNAndAllMinusInfinity() {
        try (MemoryScope s = MemoryScope.open()) {
            float ninf = Float.NEGATIVE_INFINITY;
            Tensor x = Tensor.of(new float[] {1, Float.NaN, 3, ninf, ninf, ninf, 1, 2, Float.POSITIVE_INFINITY}, 3, 3);
            for (boolean log : new boolean[] {false, true}) {
                Tensor e = Tensor.zeros(DType.F32, 3, 3), v = Tensor.zeros(DType.F32, 3, 3);
                SCALAR.softmax(x, e, 1, false, log);
                VECTOR.softmax(x, v, 1, false, log);
                assertSameFloats("specials log=" + log, floats(e), floats(v));
            }
        }
    }

    @Test
    void rmsnormAndLayernorm() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int rows : ROWS) {
                for (int c : Close.AWKWARD) {
                    Tensor w = Tensor.of(Fixtures.normal(c, c, 1), c), b = Tensor.of(Fixtures.normal(c + 1, c, 1), c);
                    // Rows away from zero test the mean's precision; a constant row has zero variance.
                    float[] data = Fixtures.normal(rows * 7L + c, rows * c, 1.5);
                    if (rows > 1) for (int j = 0; j < c; j++) data[c + j] += 40f;
                    if (rows > 2) for (int j = 0; j < c; j++) data[2 * c + j] = 3f;
                    Tensor x = Tensor.of(data, rows, c);
                    double rel = Close.reductionTolerance(c, 2e-7) + 1e-6;
                    for (Tensor weight : new Tensor[] {null, w}) {
                        Tensor e = Tensor.zeros(DType.F32, rows, c), v = Tensor.zeros(DType.F32, rows, c);
                        SCALAR.rmsnorm(x, weight, 1e-5f, e);
                        VECTOR.rmsnorm(x, weight, 1e-5f, v);
                        Close.assertAllClose("rmsnorm " + rows + "x" + c, floats(e), floats(v), 1e-6, rel);
                        for (Tensor bias : new Tensor[] {null, b}) {
                            e = Tensor.zeros(DType.F32, rows, c);
                            v = Tensor.zeros(DType.F32, rows, c);
                            SCALAR.layernorm(x, weight, bias, 1e-5f, e);
                            VECTOR.layernorm(x, weight, bias, 1e-5f, v);
                            Close.assertAllClose("layernorm " + rows + "x" + c, floats(e), floats(v), Close.reductionTolerance(c, 2e-7) * 4, rel);
                        }
                    }
                }
            }
        }
    }

    /** Rope uses the same float products and sums as the scalar loop: bit-identical. */
    @Test
    void ropeBothStylesBitExact() {
        int[] dims = {2, 4, 6, 8, 14, 16, 18, 30, 32, 34, 64, 96, 128, 130, 256};
        try (MemoryScope s = MemoryScope.open()) {
            for (int d : dims) {
                for (int rowsPerPosition : new int[] {1, 3}) {
                    int positions = 7, rows = positions * rowsPerPosition * 2; // wraps around the table once
                    RopeTable table = RopeTable.of(5, positions, d, 10000.0);
                    Tensor x = Tensor.of(Fixtures.normal(d * 13L + rowsPerPosition, rows * d, 2), rows, d);
                    for (RopeStyle style : RopeStyle.values()) {
                        Tensor e = Tensor.zeros(DType.F32, rows, d), v = Tensor.zeros(DType.F32, rows, d);
                        SCALAR.rope(x, e, table, rowsPerPosition, style);
                        VECTOR.rope(x, v, table, rowsPerPosition, style);
                        assertSameFloats("rope " + style + " d=" + d + " rpp=" + rowsPerPosition, floats(e), floats(v));
                    }
                }
            }
        }
    }

    @Test
    void embeddingDecodesEveryTableType() {
        try (MemoryScope s = MemoryScope.open()) {
            int vocab = 50;
            Tensor ids = Tensor.ofInts(new int[] {0, 49, 3, 3, 17, 0, 25, 48, 1, 2, 49, 7, 7, 30, 12, 11, 4, 9, 41, 22, 6}, 3, 7);
            for (int d : Close.AWKWARD) {
                Tensor f32 = Tensor.of(Fixtures.withSpecials(d, vocab * d, 1, Fixtures.SPECIALS), vocab, d);
                for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, DType.Q8_0}) {
                    if (t == DType.Q8_0 && d % 32 != 0) continue;
                    Tensor table = Tensor.zeros(t, vocab, d);
                    SCALAR.copy(f32, table);
                    Tensor e = Tensor.zeros(DType.F32, 3, 7, d), v = Tensor.zeros(DType.F32, 3, 7, d);
                    SCALAR.embedding(table, ids, e);
                    VECTOR.embedding(table, ids, v);
                    assertSameFloats("embedding " + t + " d=" + d, floats(e), floats(v));
                }
            }
            // A Q8_0 table wide enough to split across tasks.
            Tensor big = Tensor.zeros(DType.Q8_0, vocab, 4096);
            SCALAR.copy(Tensor.randn(3, vocab, 4096), big);
            Tensor e = Tensor.zeros(DType.F32, 3, 7, 4096), v = Tensor.zeros(DType.F32, 3, 7, 4096);
            SCALAR.embedding(big, ids, e);
            VECTOR.embedding(big, ids, v);
            assertSameFloats("embedding Q8_0 d=4096", floats(e), floats(v));
        }
    }

    @Test
    void reductions() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int rows : ROWS) {
                for (int c : Close.AWKWARD) {
                    float[] data = Fixtures.normal(rows * 11L + c, rows * c, 3);
                    if (rows > 1) data[c + c / 2] = Float.NaN; // row 1: MAX must be NaN
                    if (rows > 2) java.util.Arrays.fill(data, 2 * c, 3 * c, Float.NEGATIVE_INFINITY);
                    Tensor x = Tensor.of(data, rows, c);
                    for (ReduceOp op : ReduceOp.values()) {
                        Tensor e = Tensor.zeros(DType.F32, rows), v = Tensor.zeros(DType.F32, rows);
                        SCALAR.reduce(op, x, e);
                        VECTOR.reduce(op, x, v);
                        String what = op + " " + rows + "x" + c;
                        if (op == ReduceOp.MAX) assertSameFloats(what, floats(e), floats(v));
                        else Close.assertAllClose(what, floats(e), floats(v), Close.reductionTolerance(c, 3e-7) * 3, 1e-6);
                    }
                }
            }
        }
    }

    @Test
    void argmaxTakesTheFirstMaxAndTheFirstNaN() {
        try (MemoryScope s = MemoryScope.open()) {
            SplittableRandom r = new SplittableRandom(21);
            for (int c : Close.AWKWARD) {
                int rows = 8;
                float[] data = Fixtures.normal(c, rows * c, 1);
                // Row 1: the max repeated; row 2: two NaNs; row 3: -0 then +0 only; row 4: all -inf;
                // row 5: +inf late; row 6: NaN in the tail; row 7: max in the last element.
                int p = r.nextInt(c), q = r.nextInt(c);
                data[c + p] = 9f;
                data[c + q] = 9f;
                data[2 * c + Math.max(p, q)] = Float.NaN;
                data[2 * c + Math.min(p, q)] = Float.NaN;
                for (int j = 0; j < c; j++) data[3 * c + j] = j % 2 == 0 ? -0f : 0f;
                for (int j = 0; j < c; j++) data[4 * c + j] = Float.NEGATIVE_INFINITY;
                data[5 * c + c - 1 - p] = Float.POSITIVE_INFINITY;
                data[6 * c + c - 1] = Float.NaN;
                data[7 * c + c - 1] = 100f;
                Tensor x = Tensor.of(data, rows, c);
                Tensor e = Tensor.zeros(DType.I32, rows), v = Tensor.zeros(DType.I32, rows);
                SCALAR.argmax(x, e);
                VECTOR.argmax(x, v);
                assertThat(ints(v)).as("argmax c=%d", c).containsExactly(ints(e));
            }
            // Many rows of random data, split across tasks.
            Tensor x = Tensor.randn(4, 300, 257);
            Tensor e = Tensor.zeros(DType.I32, 300), v = Tensor.zeros(DType.I32, 300);
            SCALAR.argmax(x, e);
            VECTOR.argmax(x, v);
            assertThat(ints(v)).containsExactly(ints(e));
        }
    }
}
