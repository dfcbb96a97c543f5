package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdamWTest {
    /**
     * With a constant gradient g, Adam's bias-corrected moments are exactly g and g², so every
     * update is lr·g / (|g| + ε) (times the √bc2 rounding), after the decoupled decay p·(1 − lr·wd):
     * p_t = p_{t−1}·(1 − lr·wd) − lr·g / (|g| + ε). Computed here by hand, in double.
     */
    @Test
    void constantGradientFollowsTheClosedForm() {
        float lr = 0.01f, wd = 0.1f;
        float[] initial = {0.5f, -1.25f, 2f, 0f, 3f, -0.75f, 1e-3f};
        float[] grad = {0.2f, -0.1f, 1.5f, -3f, 1e-4f, 0.7f, -2f};
        try (Parameters params = Parameters.empty(); MemoryScope scope = MemoryScope.open()) {
            Parameter w = params.add("w", Tensor.of(initial, 7, 1), true);
            Parameter b = params.add("b", Tensor.of(initial, 7), false);
            try (AdamW adam = new AdamW(params, new AdamW.Options(0.9f, 0.999f, 1e-8f, wd))) {
                double[] pw = toDouble(initial), pb = toDouble(initial);
                for (int t = 1; t <= 5; t++) {
                    for (Parameter p : params.list()) Ops2.set(p.grad(), grad);
                    adam.update(lr);
                    for (int i = 0; i < 7; i++) {
                        double step = lr * grad[i] / (Math.abs(grad[i]) + 1e-8);
                        pw[i] = pw[i] * (1 - lr * wd) - step;
                        pb[i] = pb[i] - step;
                    }
                }
                assertThat(adam.step()).isEqualTo(5);
                float[] gotW = w.value().toFloatArray(), gotB = b.value().toFloatArray();
                for (int i = 0; i < 7; i++) {
                    assertThat((double) gotW[i]).as("w[%d]", i).isCloseTo(pw[i], offset(2e-6));
                    assertThat((double) gotB[i]).as("b[%d] (no decay)", i).isCloseTo(pb[i], offset(2e-6));
                }
            }
        }
    }

    /** A varying gradient against the textbook recurrence written out in double. */
    @Test
    void varyingGradientMatchesTheRecurrenceInDouble() {
        int n = 37;
        float lr = 3e-3f, b1 = 0.8f, b2 = 0.9f, eps = 1e-6f, wd = 0.05f;
        try (Parameters params = Parameters.empty(); MemoryScope scope = MemoryScope.open()) {
            Parameter w = params.add("w", Tensor.randn(1, n), true);
            double[] p = toDouble(w.value().toFloatArray()), m = new double[n], v = new double[n];
            try (AdamW adam = new AdamW(params, new AdamW.Options(b1, b2, eps, wd))) {
                for (int t = 1; t <= 6; t++) {
                    float[] g = Tensor.randn(100 + t, n).toFloatArray();
                    Ops2.set(w.grad(), g);
                    adam.update(lr);
                    for (int i = 0; i < n; i++) {
                        p[i] *= 1 - (double) lr * wd;
                        m[i] = b1 * m[i] + (1 - b1) * g[i];
                        v[i] = b2 * v[i] + (1 - b2) * (double) g[i] * g[i];
                        double mhat = m[i] / (1 - Math.pow(b1, t)), vhat = v[i] / (1 - Math.pow(b2, t));
                        p[i] -= lr * mhat / (Math.sqrt(vhat) + eps);
                    }
                }
                float[] got = w.value().toFloatArray();
                for (int i = 0; i < n; i++) assertThat((double) got[i]).as("p[%d]", i).isCloseTo(p[i], offset(1e-5 * (1 + Math.abs(p[i]))));
            }
        }
    }

    /**
     * Against torch.optim.AdamW itself: the parameters after each of six steps, with and without
     * weight decay, as scripts/adamw-fixture.py wrote them (torch 2.13 CPU). torch mixes the first
     * moment with lerp, so float rounding differs: within 1e-6 relative, plus 1e-8 absolute (a
     * three-hundred-thousandth of the 3e-3 step) for parameters near zero.
     */
    @Test
    void matchesTorchAdamWStepByStep() throws java.io.IOException {
        List<String> lines;
        try (var in = AdamWTest.class.getResourceAsStream("adamw-torch.txt")) {
            lines = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().filter(l -> !l.startsWith("#")).toList();
        }
        int n = 37;
        float[] initial = new float[n];
        for (int i = 0; i < n; i++) initial[i] = (float) (Math.sin(0.37 * i) * 0.8);
        try (Parameters params = Parameters.empty(); MemoryScope scope = MemoryScope.open()) {
            Parameter decay = params.add("decay", Tensor.of(initial, n), true), plain = params.add("plain", Tensor.of(initial, n), false);
            try (AdamW adam = new AdamW(params, new AdamW.Options(0.85f, 0.98f, 1e-7f, 0.1f))) {
                int line = 0;
                for (int t = 1; t <= 6; t++) {
                    float[] g = new float[n];
                    for (int i = 0; i < n; i++) g[i] = (float) (Math.cos(0.11 * i + t) * (1 + 0.5 * t));
                    Ops2.set(decay.grad(), g);
                    Ops2.set(plain.grad(), g);
                    adam.update(3e-3f);
                    for (Parameter p : List.of(decay, plain)) {
                        String[] f = lines.get(line++).split(" ");
                        assertThat(f[0] + " " + f[1]).isEqualTo(p.name() + " " + t);
                        float[] got = p.value().toFloatArray();
                        for (int i = 0; i < n; i++) {
                            float expected = Float.parseFloat(f[2 + i]);
                            assertThat(got[i]).as("%s[%d] after step %d", p.name(), i, t).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-6f * Math.abs(expected) + 1e-8f));
                        }
                    }
                }
            }
        }
    }

    @Test
    void aFrozenParameterIsNeitherUpdatedNorDecayed() {
        try (Parameters params = Parameters.empty(); MemoryScope scope = MemoryScope.open()) {
            Parameter frozen = params.add("frozen", Tensor.randn(1, 5, 3), true).freeze();
            Parameter live = params.add("live", Tensor.randn(2, 5, 3), true);
            float[] before = frozen.value().toFloatArray(), liveBefore = live.value().toFloatArray();
            Ops2.set(frozen.grad(), Tensor.randn(3, 15).toFloatArray());
            Ops2.set(live.grad(), Tensor.randn(4, 15).toFloatArray());
            try (AdamW adam = new AdamW(params, AdamW.Options.defaults())) {
                adam.update(0.1f);
            }
            assertThat(frozen.value().toFloatArray()).containsExactly(before);
            assertThat(live.value().toFloatArray()).isNotEqualTo(liveBefore);
        }
    }

    @Test
    void badOptionsAreRefusedByName() {
        assertThatThrownBy(() -> new AdamW.Options(1f, 0.9f, 1e-8f, 0f)).hasMessageContaining("beta1 1.0");
        assertThatThrownBy(() -> new AdamW.Options(0.9f, 0.9f, 0f, 0f)).hasMessageContaining("eps 0.0");
        assertThatThrownBy(() -> new AdamW.Options(0.9f, 0.9f, 1e-8f, -1f)).hasMessageContaining("weight decay -1.0");
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
