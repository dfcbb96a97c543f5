package dev.corvus.train;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW (Loshchilov and Hutter): Adam with bias correction and weight decay decoupled from the
 * gradient, exactly as PyTorch's {@code torch.optim.AdamW} computes it (see
 * {@link UpdateKernels#adamw}). The first and second moments of every parameter live off-heap in
 * a scope this optimiser owns ({@link #close()} frees them); weight decay applies only to the
 * parameters whose {@link Parameter#decay()} is set (by default not norms and biases), and frozen
 * parameters ({@link Parameter#freeze()}) are not updated at all.
 */
public final class AdamW implements AutoCloseable {
    /**
     * Hyper-parameters; PyTorch's defaults are {@code new Options(0.9f, 0.999f, 1e-8f, 0.01f)}.
     *
     * @param beta1       decay of the first moment, in [0, 1)
     * @param beta2       decay of the second moment, in [0, 1)
     * @param eps         added to the root of the second moment, positive
     * @param weightDecay decoupled decay per unit learning rate, non-negative
     */
    public record Options(float beta1, float beta2, float eps, float weightDecay) {
        public Options {
            if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("AdamW beta1 " + beta1 + " must be in [0, 1)");
            if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("AdamW beta2 " + beta2 + " must be in [0, 1)");
            if (!(eps > 0) || Float.isInfinite(eps)) throw new IllegalArgumentException("AdamW eps " + eps + " must be a positive number");
            if (!(weightDecay >= 0) || Float.isInfinite(weightDecay)) throw new IllegalArgumentException("AdamW weight decay " + weightDecay + " must be >= 0");
        }

        /** PyTorch's defaults: β1 0.9, β2 0.999, ε 1e-8, weight decay 0.01. */
        public static Options defaults() {
            return new Options(0.9f, 0.999f, 1e-8f, 0.01f);
        }
    }

    private final Parameters parameters;
    private final Options options;
    private final MemoryScope scope = MemoryScope.detached("AdamW moments");
    private final List<Tensor> first = new ArrayList<>(), second = new ArrayList<>();
    private long step;

    /** An optimiser over every parameter of {@code parameters}, moments zero, at step 0. */
    public AdamW(Parameters parameters, Options options) {
        this.parameters = parameters;
        this.options = options;
        for (Parameter p : parameters.list()) {
            first.add(Tensor.zeros(scope, DType.F32, p.shape()));
            second.add(Tensor.zeros(scope, DType.F32, p.shape()));
        }
    }

    public Options options() {
        return options;
    }

    /** Updates taken so far (the t of the bias correction is step() + 1 in the next update). */
    public long step() {
        return step;
    }

    /**
     * One update of every parameter from its gradient with learning rate {@code lr}. The
     * gradients are read, not cleared.
     */
    public void update(float lr) {
        if (!(lr >= 0) || Float.isInfinite(lr)) throw new IllegalArgumentException("AdamW learning rate " + lr + " must be >= 0");
        step++;
        // the corrections in double then rounded, as PyTorch computes them in Python floats
        double bc1 = 1 - Math.pow(options.beta1, step), bc2 = 1 - Math.pow(options.beta2, step);
        float stepSize = (float) (lr / bc1), sqrtBc2 = (float) Math.sqrt(bc2);
        List<Parameter> list = parameters.list();
        for (int i = 0; i < list.size(); i++) {
            Parameter p = list.get(i);
            if (!p.trainable()) continue;
            float decayFactor = p.decay() ? (float) (1 - (double) lr * options.weightDecay) : 1f;
            UpdateKernels.adamw(p.valueMemory(), p.gradMemory(), UpdateKernels.memory(first.get(i)), UpdateKernels.memory(second.get(i)), p.numel(),
                    options.beta1, options.beta2, options.eps, decayFactor, stepSize, sqrtBc2);
        }
    }

    /** The first moment of parameter {@code index} (in {@link Parameters#list()} order), for checkpoints. */
    Tensor firstMoment(int index) {
        return first.get(index);
    }

    /** The second moment of parameter {@code index}, for checkpoints. */
    Tensor secondMoment(int index) {
        return second.get(index);
    }

    /** Sets the step count, when the moments were restored from a checkpoint. */
    void restoreStep(long step) {
        if (step < 0) throw new IllegalArgumentException("AdamW step " + step + " is negative");
        this.step = step;
    }

    /** Frees the moments. */
    @Override
    public void close() {
        scope.close();
    }
}
