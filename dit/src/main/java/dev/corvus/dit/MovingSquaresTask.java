package dev.corvus.dit;

import dev.corvus.dit.DitTraining.Batch;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The DiT's training task: a fixed, seeded set of {@link MovingSquares} clips in [-1, 1], class c
 * holding c + 1 squares, and rectified-flow batches drawn from it (clips, times uniform in [0, 1]
 * and Gaussian noise, all from one seeded stream, so every rank that draws with the same seed
 * gets the same batch).
 *
 * @param frames frames per clip
 * @param size   pixels per side
 * @param clips  clips per class in the set
 * @param classes classes (1, 2, ... squares)
 */
public record MovingSquaresTask(int frames, int size, int clips, int classes) {
    public MovingSquaresTask {
        if (clips < 1) throw new IllegalArgumentException("MovingSquaresTask: clips = " + clips + " must be at least 1");
        if (classes < 1) throw new IllegalArgumentException("MovingSquaresTask: classes = " + classes + " must be at least 1");
        MovingSquares.generate(0, frames, size, 0); // its checks of frames and size
    }

    /** The clips of class {@code c}, [frames, size, size, 3] each, in {@code scope}. */
    public List<Tensor> clipsOf(int c, MemoryScope scope) {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < clips; i++) out.add(MovingSquares.generate(seedOf(c, i), frames, size, c + 1).latent(scope));
        return out;
    }

    private static long seedOf(int c, int i) {
        return 1000L * c + i;
    }

    /** A source of batches of {@code batch} clips from {@code seed}; the set itself lives in {@code scope}. */
    public Sampler sampler(int batch, long seed, MemoryScope scope) {
        if (batch < 1) throw new IllegalArgumentException("MovingSquaresTask: batch = " + batch + " must be at least 1");
        List<List<Tensor>> set = new ArrayList<>();
        for (int c = 0; c < classes; c++) set.add(clipsOf(c, scope));
        return new Sampler(set, batch, new SplittableRandom(seed));
    }

    /** Draws batches; the tensors of each batch are allocated in the current scope. */
    public static final class Sampler {
        private final List<List<Tensor>> set;
        private final int batch;
        private final SplittableRandom rnd;

        private Sampler(List<List<Tensor>> set, int batch, SplittableRandom rnd) {
            this.set = set;
            this.batch = batch;
            this.rnd = rnd;
        }

        public Batch next() {
            Tensor[] data = new Tensor[batch];
            float[] times = new float[batch];
            int[] classes = new int[batch];
            for (int b = 0; b < batch; b++) {
                classes[b] = rnd.nextInt(set.size());
                List<Tensor> clips = set.get(classes[b]);
                data[b] = clips.get(rnd.nextInt(clips.size())).unsqueeze(0);
                times[b] = (float) rnd.nextDouble();
            }
            Tensor x1 = batch == 1 ? data[0].contiguous() : Ops.concat(0, data);
            return new Batch(x1, Tensor.randn(rnd.nextLong(), x1.shape()), times, classes);
        }
    }
}
