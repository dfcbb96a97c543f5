package dev.corvus.dit;

import dev.corvus.comm.Communicator;
import dev.corvus.dit.VideoDiT.Init;
import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.dit.VideoDiT.Weights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.train.AdamW;
import java.util.Arrays;

/**
 * Times training steps of a {@link VideoDiT} on one rank of a group (every rank calls it): seeded
 * random data, the median step time after one warm-up step, the bytes every step sent (the same
 * each step, else -1) against {@link DitVolume}, and the activations the tape held. What
 * {@code corvus dit} prints and the throughput script tabulates.
 */
public final class DitBenchmark {
    private DitBenchmark() {}

    /**
     * One rank's measurement.
     *
     * @param stepMillis      median wall time of a step (forward, backward, all-reduce, AdamW), warm-up excluded
     * @param bytesPerStep    bytes this rank sent in each step (-1 when steps differed)
     * @param modelBytes      {@link DitVolume#trainingStep}'s bytes for this rank
     * @param activationBytes the most activation bytes a step's tape held for its backward
     * @param parameters      values in the model
     */
    public record Result(int rank, double stepMillis, long bytesPerStep, long modelBytes, long activationBytes, long parameters) {}

    /** {@code steps} timed training steps (plus one warm-up when steps > 1) of clips of {@code batch}. */
    public static Result measure(Communicator comm, DitConfig cfg, Scheme scheme, int batch, int steps, long seed) {
        if (steps < 1) throw new IllegalArgumentException("DitBenchmark: steps = " + steps + " must be at least 1");
        try (MemoryScope scope = MemoryScope.open("dit benchmark rank " + comm.rank())) {
            Weights w = VideoDiT.initialise(cfg, seed, Init.ADALN_ZERO, scope);
            long parameters = w.parameters().values().stream().mapToLong(Tensor::numel).sum();
            int total = steps > 1 ? steps + 1 : steps;
            double[] millis = new double[total];
            long bytes = Long.MIN_VALUE, activations = 0;
            try (DitTrainer trainer = new DitTrainer(w, new AdamW.Options(0.9f, 0.99f, 1e-8f, 0f), 1.0)) {
                for (int i = 0; i < total; i++) {
                    try (MemoryScope step = MemoryScope.open("dit benchmark step")) {
                        DitTraining.Batch b = randomBatch(cfg, batch, seed * 7919 + i);
                        comm.barrier();
                        long before = comm.stats().totalBytes(), t0 = System.nanoTime();
                        if (comm.size() == 1) trainer.step(b, 1e-4f);
                        else trainer.step(comm, scheme, b, 1e-4f);
                        millis[i] = (System.nanoTime() - t0) / 1e6;
                        long sent = comm.stats().totalBytes() - before;
                        bytes = bytes == Long.MIN_VALUE || bytes == sent ? sent : -1;
                        activations = Math.max(activations, trainer.lastActivationBytes());
                    }
                }
            }
            double[] timed = Arrays.copyOfRange(millis, total - steps, total);
            Arrays.sort(timed);
            double median = steps % 2 == 1 ? timed[steps / 2] : (timed[steps / 2 - 1] + timed[steps / 2]) / 2;
            return new Result(comm.rank(), median, bytes, DitVolume.trainingStep(cfg, scheme, batch, comm.size(), parameters), activations,
                    parameters);
        }
    }

    /** Seeded Gaussian data and noise, times spread over (0, 1), classes in turn. */
    static DitTraining.Batch randomBatch(DitConfig cfg, int batch, long seed) {
        int[] shape = {batch, cfg.frames(), cfg.height(), cfg.width(), cfg.channels()};
        float[] times = new float[batch];
        int[] classes = new int[batch];
        for (int b = 0; b < batch; b++) {
            times[b] = (b + 0.5f) / batch;
            classes[b] = b % cfg.classes();
        }
        return new DitTraining.Batch(Tensor.randn(seed, shape), Tensor.randn(seed ^ 0x5DEECE66DL, shape), times, classes);
    }
}
