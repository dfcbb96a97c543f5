package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

/** RoPE with explicit frequencies: linear scale, per-pair factors (Llama 3, Phi-3) and a magnitude, on the active backend. */
class RopeScalingTest {
    /** Rotation of pair i at position p by p · scale · theta^(-2i/d) / factor_i, cos and sin times mag, in double. */
    private static float[] naive(float[] x, int positions, int rowsPerPosition, int d, int offset, double theta, double scale, float[] factors,
            double mag, RopeStyle style) {
        float[] out = x.clone();
        int half = d / 2;
        for (int r = 0; r < positions * rowsPerPosition; r++) {
            int pos = offset + r / rowsPerPosition;
            for (int i = 0; i < half; i++) {
                double angle = pos * scale * Math.pow(theta, -2.0 * i / d) / factors[i];
                int i0 = r * d + (style == RopeStyle.INTERLEAVED ? 2 * i : i), i1 = r * d + (style == RopeStyle.INTERLEAVED ? 2 * i + 1 : i + half);
                double a = x[i0], b = x[i1], c = Math.cos(angle) * mag, s = Math.sin(angle) * mag;
                out[i0] = (float) (a * c - b * s);
                out[i1] = (float) (a * s + b * c);
            }
        }
        return out;
    }

    @Test
    void scaledRopeMatchesTheNaiveRotationOnAwkwardSizes() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            for (int d : new int[] {2, 14, 64, 130}) {
                for (RopeStyle style : RopeStyle.values()) {
                    int positions = 13, heads = 3, offset = 1000;
                    float[] factors = new float[d / 2];
                    for (int i = 0; i < factors.length; i++) factors[i] = 1 + 7f * i / factors.length;
                    Tensor x = Tensor.randn(d, positions, heads, d);
                    double[] f = RopeTable.frequencies(d, 500000, 0.25, factors);
                    float[] got = Ops.rope(x, 0, offset, f, 1.2, style).toFloatArray();
                    float[] want = naive(x.toFloatArray(), positions, heads, d, offset, 500000, 0.25, factors, 1.2, style);
                    Close.assertAllClose("d " + d + " " + style, want, got, 1e-5, 1e-5);
                }
            }
        }
    }

    @Test
    void plainThetaIsTheUnscaledCaseBitForBit() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor x = Tensor.randn(3, 7, 2, 16);
            float[] plain = Ops.rope(x, 0, 5, 10000, RopeStyle.HALF_SPLIT).toFloatArray();
            float[] explicit = Ops.rope(x, 0, 5, RopeTable.frequencies(16, 10000, 1, null), 1, RopeStyle.HALF_SPLIT).toFloatArray();
            assertThat(explicit).containsExactly(plain);
        }
    }

    @Test
    void badFrequenciesAreRefused() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor x = Tensor.randn(3, 7, 16);
            assertThatThrownBy(() -> Ops.rope(x, 0, 0, new double[7], 1, RopeStyle.INTERLEAVED)).hasMessageContaining("7 frequencies for head dimension 16");
            assertThatThrownBy(() -> RopeTable.frequencies(16, 10000, 1, new float[3])).hasMessageContaining("3 frequency factors");
            assertThatThrownBy(() -> RopeTable.frequencies(16, 10000, 1, new float[8])).hasMessageContaining("frequency factor 0 is 0.0");
            assertThatThrownBy(() -> RopeTable.frequencies(16, -1, 1, null)).hasMessageContaining("theta -1.0");
        }
    }
}
