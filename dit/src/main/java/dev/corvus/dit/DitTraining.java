package dev.corvus.dit;

import dev.corvus.comm.Communicator;
import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.dit.VideoDiT.Weights;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.Tape;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The rectified-flow training step of a {@link VideoDiT}: for data x_1, noise x_0 and a time t
 * per clip, the model sees x_t = t·x_1 + (1 - t)·x_0 and is asked for the velocity x_1 - x_0;
 * the loss is the mean squared error over every value of the batch. The forward is recorded on a
 * {@link Tape} and the gradient of every parameter comes from the tape's backward (the registry
 * ops' rules, attention's through FlashAttention, the collectives' through their adjoints).
 *
 * <p><b>Sequence parallel.</b> Every rank passes the same replicated batch; the forward gathers
 * the full velocity on every rank, so each rank computes the same loss and the same seed, and the
 * gather's backward hands each rank the gradient of its own tokens only. A rank's parameter
 * gradients are then its share, and the step sums the shares with exactly one all-reduce over
 * every parameter gradient at once: no division by P, no second reduction of the replicated
 * conditioning path.
 */
public final class DitTraining {
    private DitTraining() {}

    /**
     * The loss of the batch and the gradient of every parameter, by {@link Weights#parameters()}
     * name, in the caller's scope; {@code activationBytes} is what the tape held for the backward
     * on this rank (the forward's activations, measured).
     */
    public record Step(double loss, Map<String, Tensor> gradients, long activationBytes) {}

    /** One batch: data and noise [B, T, H, W, Cin], a time in [0, 1] and a class per clip. */
    public record Batch(Tensor data, Tensor noise, float[] times, int[] classes) {
        public Batch {
            if (!Arrays.equals(data.shape(), noise.shape())) {
                throw new IllegalArgumentException("DitTraining: noise has shape " + Arrays.toString(noise.shape()) + ", expected the data's "
                        + Arrays.toString(data.shape()));
            }
            if (data.rank() != 5 || times.length != data.size(0)) {
                throw new IllegalArgumentException("DitTraining: " + times.length + " times for data of shape " + Arrays.toString(data.shape())
                        + "; expected [B, T, H, W, Cin] and one time per clip");
            }
            for (float t : times) {
                if (!(t >= 0 && t <= 1)) throw new IllegalArgumentException("DitTraining: time " + t + " is outside [0, 1]");
            }
        }

        /** x_t = t·x_1 + (1 - t)·x_0, per clip, in the current scope. */
        Tensor interpolated() {
            Tensor t = Tensor.of(times, times.length, 1, 1, 1, 1);
            return Ops.add(Ops.mul(data, t), Ops.mul(noise, Ops.sub(Tensor.full(1f, times.length, 1, 1, 1, 1), t)));
        }

        /** The rectified-flow target x_1 - x_0. */
        Tensor velocity() {
            return Ops.sub(data, noise);
        }
    }

    /** The loss and gradients on one device. */
    public static Step step(Weights weights, Batch batch) {
        return record(weights, batch, x -> VideoDiT.forward(weights, x, batch.times(), batch.classes(), null));
    }

    /**
     * The loss and gradients over {@code comm}'s ranks under {@code scheme}; every rank passes the
     * same batch and gets the same loss and the same (summed) gradients, equal to one device's.
     */
    public static Step step(Communicator comm, Scheme scheme, Weights weights, Batch batch) {
        Step local = record(weights, batch, x -> VideoDiT.forward(comm, scheme, weights, x, batch.times(), batch.classes(), null));
        sumOverRanks(comm, local.gradients());
        return local;
    }

    /** The loss alone, on one device (no tape): what finite differences and evaluation read. */
    public static double loss(Weights weights, Batch batch) {
        try (MemoryScope scope = MemoryScope.open("dit loss")) {
            Tensor v = VideoDiT.forward(weights, batch.interpolated(), batch.times(), batch.classes(), null);
            return meanSquare(Ops.sub(v, batch.velocity()).toFloatArray());
        }
    }

    private static Step record(Weights weights, Batch batch, java.util.function.UnaryOperator<Tensor> forward) {
        Map<String, Tensor> params = weights.parameters();
        Tensor[] wrt = params.values().toArray(Tensor[]::new);
        Tensor x = batch.interpolated(), target = batch.velocity();
        Tensor[] grads;
        double loss;
        long held;
        try (Tape tape = Tape.record()) {
            // the error is recorded (the model's output may be a view the tape cannot seed); the
            // loss's gradient with respect to it, 2 (v - target) / N, is the seed, so the mean
            // square needs no op of its own
            Tensor error = Ops.sub(forward.apply(x), target);
            held = MemoryScope.current().liveBytes(); // the tape's activation scope is current while it records
            float[] diff = error.toFloatArray();
            loss = meanSquare(diff);
            float k = 2f / diff.length;
            for (int i = 0; i < diff.length; i++) diff[i] *= k;
            grads = tape.backward(error, Tensor.of(diff, error.shape()), wrt);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        int i = 0;
        for (String name : params.keySet()) out.put(name, grads[i++]);
        return new Step(loss, out, held);
    }

    /**
     * Sums every gradient over the ranks with one all-reduce of all of them packed together, the
     * buffer padded to a multiple of P so every rank's chunk is equal
     * ({@link dev.corvus.parallel.CommVolume#dspGradientAllReduce}).
     */
    static void sumOverRanks(Communicator comm, Map<String, Tensor> grads) {
        int p = comm.size();
        if (p == 1) return;
        long total = grads.values().stream().mapToLong(Tensor::numel).sum();
        Tensor packed = Tensor.zeros(DType.F32, Math.toIntExact((total + p - 1) / p * p));
        long at = 0;
        for (Tensor g : grads.values()) {
            Ops.copyInto(g.reshape(Math.toIntExact(g.numel())), packed.narrow(0, Math.toIntExact(at), Math.toIntExact(g.numel())));
            at += g.numel();
        }
        comm.allReduce(packed);
        at = 0;
        for (Tensor g : grads.values()) {
            Ops.copyInto(packed.narrow(0, Math.toIntExact(at), Math.toIntExact(g.numel())).reshape(g.shape()), g);
            at += g.numel();
        }
    }

    static double meanSquare(float[] diff) {
        double s = 0;
        for (float d : diff) s += (double) d * d;
        return s / diff.length;
    }
}
