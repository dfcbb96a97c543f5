package dev.corvus.dit;

import dev.corvus.dit.LayerBackward.Grads;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The token-wise backward helpers against central finite differences of a double-precision
 * forward, every coordinate of every input, on tiny shapes: L = Σ R ∘ layer(x) for a fixed random
 * R, so dL/d(output) = R.
 */
class LayerBackwardTest {
    static final double H = 1e-6, ATOL = 2e-5, RTOL = 1e-4;

    /** L as a function of the layer's inputs (x, then weight and bias), in double. */
    private interface Loss {
        double at(double[][] in);
    }

    @Test
    void linearGradientsMatchFiniteDifferences() {
        int k = 4, n = 5;
        int[] xShape = {2, 3, k};
        try (MemoryScope scope = MemoryScope.open("linear")) {
            double[][] in = {random(1, 24, 1), random(2, n * k, 0.5), random(3, n, 0.5)};
            double[] r = random(4, 2 * 3 * n, 1);
            Loss loss = p -> {
                double l = 0;
                for (int t = 0; t < 6; t++) {
                    for (int o = 0; o < n; o++) {
                        double y = p[2][o];
                        for (int i = 0; i < k; i++) y += p[0][t * k + i] * p[1][o * k + i];
                        l += r[t * n + o] * y;
                    }
                }
                return l;
            };
            Grads g = LayerBackward.linear(tensor(in[0], xShape), tensor(in[1], n, k), tensor(r, 2, 3, n));
            check("linear", loss, in, g.dx(), g.dWeight(), g.dBias());
        }
    }

    @Test
    void layernormGradientsMatchFiniteDifferences() {
        int c = 6;
        float eps = 1e-5f;
        try (MemoryScope scope = MemoryScope.open("layernorm")) {
            // Rows with a spread of scales and offsets, so the normalisation matters.
            double[] x = random(5, 2 * 3 * c, 1);
            for (int t = 0; t < 6; t++) for (int i = 0; i < c; i++) x[t * c + i] = (float) (x[t * c + i] * (0.5 + t) + t - 2);
            double[][] in = {x, random(6, c, 0.3), random(7, c, 0.3)};
            for (int i = 0; i < c; i++) in[1][i] = (float) (in[1][i] + 1);
            double[] r = random(8, 2 * 3 * c, 1);
            Loss loss = p -> {
                double l = 0;
                for (int t = 0; t < 6; t++) {
                    double mean = 0, var = 0;
                    for (int i = 0; i < c; i++) mean += p[0][t * c + i] / c;
                    for (int i = 0; i < c; i++) var += (p[0][t * c + i] - mean) * (p[0][t * c + i] - mean) / c;
                    double rstd = 1 / Math.sqrt(var + eps);
                    for (int i = 0; i < c; i++) l += r[t * c + i] * ((p[0][t * c + i] - mean) * rstd * p[1][i] + p[2][i]);
                }
                return l;
            };
            Grads g = LayerBackward.layernorm(tensor(in[0], 2, 3, c), tensor(in[1], c), eps, tensor(r, 2, 3, c));
            check("layernorm", loss, in, g.dx(), g.dWeight(), g.dBias());
        }
    }

    @Test
    void geluTanhGradientMatchesFiniteDifferences() {
        double[] u = random(9, 4 * 7, 2);
        u[0] = 0;
        u[1] = -4;
        u[2] = 4;
        double[] r = random(10, 4 * 7, 1);
        double k = Math.sqrt(2 / Math.PI);
        Loss loss = p -> {
            double l = 0;
            for (int i = 0; i < r.length; i++) {
                double x = p[0][i];
                l += r[i] * 0.5 * x * (1 + Math.tanh(k * (x + 0.044715 * x * x * x)));
            }
            return l;
        };
        try (MemoryScope scope = MemoryScope.open("gelu")) {
            check("geluTanh", loss, new double[][] {u}, LayerBackward.geluTanh(tensor(u, 4, 7), tensor(r, 4, 7)));
        }
    }

    /** Compares each analytic gradient with the central difference of {@code loss} in every coordinate of its input. */
    private static void check(String what, Loss loss, double[][] in, Tensor... grads) {
        for (int a = 0; a < in.length; a++) {
            double[] fd = new double[in[a].length];
            for (int i = 0; i < fd.length; i++) {
                double keep = in[a][i];
                in[a][i] = keep + H;
                double plus = loss.at(in);
                in[a][i] = keep - H;
                double minus = loss.at(in);
                in[a][i] = keep;
                fd[i] = (plus - minus) / (2 * H);
            }
            Close.assertAllClose(what + " gradient of input " + a, toFloats(fd), grads[a].toFloatArray(), ATOL, RTOL);
        }
    }

    private static double[] random(long seed, int n, double std) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] v = new double[n];
        // Round to float so the double forward sees exactly what the float layers see.
        for (int i = 0; i < n; i++) v[i] = (float) (std * rnd.nextGaussian());
        return v;
    }

    private static Tensor tensor(double[] v, int... shape) {
        return Tensor.of(toFloats(v), shape);
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }
}
