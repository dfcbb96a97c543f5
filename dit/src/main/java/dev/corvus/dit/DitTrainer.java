package dev.corvus.dit;

import dev.corvus.comm.Communicator;
import dev.corvus.dit.DitTraining.Batch;
import dev.corvus.dit.DitTraining.Step;
import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.dit.VideoDiT.Weights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.train.AdamW;
import dev.corvus.train.Parameter;
import dev.corvus.train.Parameters;
import java.util.List;
import java.util.Map;

/**
 * Trains a {@link VideoDiT} in place: each step takes {@link DitTraining}'s gradients (one device
 * or summed over the ranks), clips their global norm, takes one {@link AdamW} step on F32 master
 * copies and writes the masters back into the model's weights. Under sequence parallelism every
 * rank holds its own trainer over its own copy of the weights; the gradients every rank gets are
 * the same, so the copies stay equal without any broadcast.
 */
public final class DitTrainer implements AutoCloseable {
    private final Weights weights;
    private final Parameters parameters = Parameters.empty();
    private final AdamW optimiser;
    private final double clipNorm;
    private long lastActivationBytes;

    /**
     * @param clipNorm the global gradient norm above which gradients are scaled down (positive)
     */
    public DitTrainer(Weights weights, AdamW.Options options, double clipNorm) {
        if (!(clipNorm > 0)) throw new IllegalArgumentException("DitTrainer: clipNorm = " + clipNorm + " must be positive");
        this.weights = weights;
        this.clipNorm = clipNorm;
        weights.parameters().forEach(parameters::add);
        this.optimiser = new AdamW(parameters, options);
    }

    public Weights weights() {
        return weights;
    }

    /** One step on one device at learning rate {@code lr}; returns the batch's loss before the update. */
    public double step(Batch batch, float lr) {
        try (MemoryScope scope = MemoryScope.open("dit step")) {
            return update(DitTraining.step(weights, batch), lr);
        }
    }

    /** One step over {@code comm}'s ranks under {@code scheme}; every rank calls it with the same batch. */
    public double step(Communicator comm, Scheme scheme, Batch batch, float lr) {
        try (MemoryScope scope = MemoryScope.open("dit step")) {
            return update(DitTraining.step(comm, scheme, weights, batch), lr);
        }
    }

    /** The activations the last step's tape held for its backward on this rank, in bytes. */
    public long lastActivationBytes() {
        return lastActivationBytes;
    }

    private double update(Step step, float lr) {
        lastActivationBytes = step.activationBytes();
        if (!Double.isFinite(step.loss())) throw new IllegalStateException("DitTrainer: the loss is " + step.loss() + "; lower the learning rate");
        List<Parameter> list = parameters.list();
        Map<String, Tensor> values = weights.parameters();
        for (Parameter p : list) Ops.copyInto(step.gradients().get(p.name()), p.grad());
        parameters.clipGradNorm(clipNorm);
        optimiser.update(lr);
        for (Parameter p : list) Ops.copyInto(p.value(), values.get(p.name()));
        return step.loss();
    }

    /** Frees the optimiser's moments and the master copies (the weights stay). */
    @Override
    public void close() {
        optimiser.close();
        parameters.close();
    }
}
