package dev.corvus.dit;

import dev.corvus.comm.Communicator;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;

/**
 * Fixed-step Euler sampling of a rectified flow: from seeded Gaussian noise x_0 at t = 0, N steps
 * of x_{t+dt} = x_t + dt · v(x_t, t, class) with dt = 1/N reach a sample x_1 at t = 1 (the data
 * end; a trained v is E[data - noise | x_t]). Each step's temporaries live in a scope of their own
 * and are freed before the next, so memory stays at one forward's worth.
 */
public final class RectifiedFlowSampler {
    private RectifiedFlowSampler() {}

    /** The velocity field: a model forward on one device or over a group of ranks. */
    @FunctionalInterface
    public interface Velocity {
        /** v(x, t, class) for x [B, T, H, W, Cin], t and class per clip; the result has x's shape. */
        Tensor at(Tensor x, float[] times, int[] classes);
    }

    /** The model on one device. */
    public static Velocity of(VideoDiT.Weights weights) {
        return (x, t, c) -> VideoDiT.forward(weights, x, t, c, null);
    }

    /** The model over {@code comm}'s ranks under {@code scheme}; every rank gets the full velocity, so every rank holds the same sample. */
    public static Velocity of(Communicator comm, VideoDiT.Scheme scheme, VideoDiT.Weights weights) {
        return (x, t, c) -> VideoDiT.forward(comm, scheme, weights, x, t, c, null);
    }

    /**
     * Samples one clip per class: noise [B, T, H, W, Cin] from {@code seed} (B = classes.length),
     * then {@code steps} Euler steps. The result is allocated in {@code scope}.
     */
    public static Tensor sample(Velocity velocity, DitConfig config, int[] classes, int steps, long seed, MemoryScope scope) {
        if (steps < 1) throw new IllegalArgumentException("RectifiedFlowSampler: steps = " + steps + " must be at least 1");
        if (classes.length < 1) throw new IllegalArgumentException("RectifiedFlowSampler: no classes to sample");
        Tensor x = Tensor.randn(scope, seed, 1f, classes.length, config.frames(), config.height(), config.width(), config.channels());
        float dt = 1f / steps;
        for (int i = 0; i < steps; i++) {
            float[] t = new float[classes.length];
            Arrays.fill(t, i * dt);
            try (MemoryScope step = MemoryScope.open("euler-step")) {
                Ops.copyInto(Ops.add(x, Ops.scale(velocity.at(x, t, classes), dt)), x);
            }
        }
        return x;
    }
}
