package dev.corvus.vector;

import static dev.corvus.vector.Fixtures.ROWS;
import static dev.corvus.vector.Fixtures.SCALAR;
import static dev.corvus.vector.Fixtures.SPECIALS;
import static dev.corvus.vector.Fixtures.VECTOR;
import static dev.corvus.vector.Fixtures.assertSameFloats;
import static dev.corvus.vector.Fixtures.floats;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

/** binary, unary and scale against the scalar backend. */
@SuppressWarnings("try") // scopes are opened for the tensors they hold, not referenced by name
class VectorBackendElementwiseTest {

    /** Binary ops are single float operations: results must be identical, NaN and -0 included. */
    @Test
    void binaryMatchesExactlyForEveryTiling() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int rows : ROWS) {
                for (int n : Close.AWKWARD) {
                    Tensor a = Tensor.of(Fixtures.withSpecials(n + rows, rows * n, 2, SPECIALS), rows, n);
                    Tensor same = Tensor.of(Fixtures.withSpecials(n * 7L + rows, rows * n, 2, SPECIALS), rows, n);
                    Tensor row = Tensor.of(Fixtures.withSpecials(n * 3L, n, 2, SPECIALS), n);
                    Tensor scalar = Tensor.of(new float[] {-1.75f});
                    for (BinaryOp op : BinaryOp.values()) {
                        for (Tensor b : new Tensor[] {same, row, scalar}) {
                            Tensor e = Tensor.zeros(DType.F32, rows, n), v = Tensor.zeros(DType.F32, rows, n);
                            SCALAR.binary(op, a, b, e);
                            VECTOR.binary(op, a, b, v);
                            assertSameFloats(op + " " + rows + "x" + n + " by " + b.numel(), floats(e), floats(v));
                        }
                    }
                }
            }
        }
    }

    @Test
    void scaleMatchesExactly() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : Close.AWKWARD) {
                Tensor x = Tensor.of(Fixtures.withSpecials(n, 17 * n, 2, SPECIALS), 17, n);
                for (float f : new float[] {0.125f, -3f, 0f, Float.NaN}) {
                    Tensor e = Tensor.zeros(DType.F32, 17, n), v = Tensor.zeros(DType.F32, 17, n);
                    SCALAR.scale(x, f, e);
                    VECTOR.scale(x, f, v);
                    assertSameFloats("scale " + f + " n=" + n, floats(e), floats(v));
                }
            }
        }
    }

    /** Absolute and relative tolerance per op: exact where the op is a float operation, a few ulps for exp-based ones. */
    private static double[] tolerance(UnaryOp op) {
        return switch (op) {
            case NEG, RELU -> new double[] {0, 0};
            case EXP, TANH, SILU, GELU_TANH -> new double[] {1e-7, 2e-6};
            case GELU_ERF -> new double[] {1e-6, 2e-6};
        };
    }

    @Test
    void unaryMatchesWithinUlps() {
        float[] specials = {0f, -0f, 80f, -80f, 88f, -88f, -100f, 100f, 1e-40f, -1e-40f, Float.MIN_VALUE, 1e13f, -1e13f, 1e30f,
            -1e30f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 5f, -5f, 10f, -10f};
        try (MemoryScope s = MemoryScope.open()) {
            for (int rows : ROWS) {
                for (int n : Close.AWKWARD) {
                    Tensor x = Tensor.of(Fixtures.withSpecials(n * 5L + rows, rows * n, 3, specials), rows, n);
                    for (UnaryOp op : UnaryOp.values()) {
                        Tensor e = Tensor.zeros(DType.F32, rows, n), v = Tensor.zeros(DType.F32, rows, n);
                        SCALAR.unary(op, x, e);
                        VECTOR.unary(op, x, v);
                        double[] tol = tolerance(op);
                        if (tol[0] == 0 && tol[1] == 0) assertSameFloats(op + " n=" + n, floats(e), floats(v));
                        else Close.assertAllClose(op + " " + rows + "x" + n, floats(e), floats(v), tol[0], tol[1]);
                    }
                }
            }
        }
    }

    /**
     * A dense sweep of the activations built on approximations: the worst error, absolute where
     * |y| <= 1 and relative above (an ulp of 20 is already 1.9e-6), stays under 1e-6.
     */
    @Test
    void activationsStayWithinOneMillionth() {
        int n = 40 * 1024;
        float[] xs = new float[n];
        for (int i = 0; i < n; i++) xs[i] = -20f + 40f * i / n;
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.of(xs, n);
            for (UnaryOp op : new UnaryOp[] {UnaryOp.GELU_ERF, UnaryOp.GELU_TANH, UnaryOp.SILU, UnaryOp.TANH, UnaryOp.EXP}) {
                Tensor e = Tensor.zeros(DType.F32, n), v = Tensor.zeros(DType.F32, n);
                SCALAR.unary(op, x, e);
                VECTOR.unary(op, x, v);
                float[] ef = floats(e), vf = floats(v);
                double worst = 0;
                float at = 0;
                for (int i = 0; i < n; i++) {
                    double err = Math.abs((double) ef[i] - vf[i]) / Math.max(1, Math.abs(ef[i]));
                    if (err > worst) {
                        worst = err;
                        at = xs[i];
                    }
                }
                assertThat(worst).as("%s worst error on [-20, 20] (at x = %s)", op, at).isLessThan(1e-6);
            }
        }
    }
}
