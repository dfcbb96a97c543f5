package dev.corvus.tensor.testing;

import static org.assertj.core.api.Assertions.fail;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.Tape;
import java.lang.foreign.ValueLayout;
import java.util.function.Function;

/**
 * Checks a tape's gradients against central finite differences. The scalar differentiated is
 * L = Σ f(inputs) ∘ R for fixed random weights R, so every output element matters with a
 * different weight; L and the difference quotients are formed in double from the F32 forward.
 *
 * <p>Tolerance: the F32 forward rounds each output by about 6e-8 relative, so a difference
 * quotient over step h carries an error of about 6e-8 · Σ|f ∘ R| · (reduction factor) / h; the
 * step's own truncation error is O(h²). The bound is that, plus a relative term, so it tightens
 * with smaller problems and a wrong rule (an O(1) error per element) fails.
 */
public final class GradCheck {
    private GradCheck() {}

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Check with step 1e-2, relative tolerance 2e-3 and reduction factor 1. */
    public static void check(String what, Function<Tensor[], Tensor> f, Tensor... inputs) {
        check(what, 1e-2, 2e-3, 1, f, inputs);
    }

    /**
     * Every element of every input (contiguous F32 host tensors, perturbed in place and restored):
     * the tape's gradient of L against (L(x+h) - L(x-h)) / 2h.
     *
     * @param reduction how many F32 additions an output element accumulates (scales the rounding allowance)
     */
    public static void check(String what, double h, double relTol, int reduction, Function<Tensor[], Tensor> f, Tensor... inputs) {
        for (Tensor t : inputs) {
            if (t.dtype() != DType.F32 || !t.isContiguous()) throw new IllegalArgumentException("GradCheck: inputs must be contiguous F32, got " + t);
        }
        float[][] analytic = new float[inputs.length][];
        float[] weights;
        try (MemoryScope scope = MemoryScope.open("gradcheck analytic"); Tape tape = Tape.record()) {
            Tensor out = f.apply(inputs);
            Tensor seed = Tensor.randn(scope, 0x5eedL + out.numel(), 1f, out.shape());
            weights = seed.toFloatArray();
            Tensor[] grads = tape.backward(out, seed, inputs);
            for (int i = 0; i < inputs.length; i++) analytic[i] = grads[i].toFloatArray();
        }
        double magnitude = Math.abs(loss(f, inputs, weights)[1]);
        double rounding = 6e-8 * Math.max(1, Math.sqrt(reduction)) * Math.max(1, magnitude) / h;
        for (int i = 0; i < inputs.length; i++) {
            Tensor x = inputs[i];
            for (int e = 0; e < x.numel(); e++) {
                long at = x.byteOffset() + 4L * e;
                float saved = x.segment().get(F32, at);
                x.segment().set(F32, at, (float) (saved + h));
                double plus = loss(f, inputs, weights)[0];
                x.segment().set(F32, at, (float) (saved - h));
                double minus = loss(f, inputs, weights)[0];
                x.segment().set(F32, at, saved);
                double step = ((double) (float) (saved + h) - (float) (saved - h));
                double numeric = (plus - minus) / step;
                double a = analytic[i][e];
                double allowed = 4 * rounding + relTol * (Math.abs(numeric) + Math.abs(a)) + 10 * h * h;
                if (!(Math.abs(a - numeric) <= allowed)) {
                    fail(what + ": input " + i + " " + dev.corvus.tensor.Shapes.str(x.shape()) + " element " + e + ": tape gradient " + a
                            + ", finite difference " + numeric + " (|diff| " + Math.abs(a - numeric) + " > " + allowed + ")");
                }
            }
        }
    }

    /** Names of the registered ops (those on this class path) with no backward rule that are not marked non-differentiable. */
    public static java.util.List<String> opsWithoutBackward() {
        java.util.List<String> missing = new java.util.ArrayList<>();
        for (dev.corvus.tensor.op.OpDef<?> op : dev.corvus.tensor.op.OpRegistry.all()) if (op.backward() == null && op.differentiable()) missing.add(op.name());
        return missing;
    }

    /** {Σ f ∘ R, Σ |f ∘ R|} in double over the finite outputs, with no tape. */
    private static double[] loss(Function<Tensor[], Tensor> f, Tensor[] inputs, float[] weights) {
        try (MemoryScope scope = MemoryScope.open("gradcheck forward")) {
            float[] out = f.apply(inputs).toFloatArray();
            double sum = 0, abs = 0;
            for (int i = 0; i < out.length; i++) {
                if (!Float.isFinite(out[i])) continue; // a masked log-probability: -inf whatever the inputs, a constant
                sum += (double) out[i] * weights[i];
                abs += Math.abs((double) out[i] * weights[i]);
            }
            return new double[] {sum, abs};
        }
    }
}
