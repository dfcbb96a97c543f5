package dev.corvus.train;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * A linear regression y = x·w* + b* + noise, with its squared-error gradient written by hand: a
 * problem on which the training loop can be seen to work without any autodiff.
 */
final class ToyRegression {
    static final int DIM = 13;
    final float[][] x;
    final float[] y;
    final int trainSamples;

    ToyRegression(int samples, int trainSamples, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] w = new double[DIM];
        for (int k = 0; k < DIM; k++) w[k] = r.nextDouble(-2, 2);
        x = new float[samples][DIM];
        y = new float[samples];
        for (int i = 0; i < samples; i++) {
            double t = 0.5;
            for (int k = 0; k < DIM; k++) t += w[k] * (x[i][k] = (float) r.nextGaussian());
            y[i] = (float) (t + 0.01 * r.nextGaussian());
        }
        this.trainSamples = trainSamples;
    }

    /** Parameters w [1, DIM] (with weight decay) and b [1] (without), initialised at random. */
    Parameters parameters(long seed) {
        Parameters p = Parameters.empty();
        try (MemoryScope scope = MemoryScope.open()) {
            p.add("w", Tensor.randn(scope, seed, 0.1f, 1, DIM));
            p.add("b", Tensor.randn(scope, seed + 1, 0.1f, 1));
        }
        return p;
    }

    /** Σ (x·w + b − y)² over the batch's samples, adding its gradient into w and b. */
    CrossEntropy.Loss accumulate(int[] batch, Parameters params) {
        return loss(batch, params, true);
    }

    CrossEntropy.Loss validation(Parameters params) {
        int[] held = new int[x.length - trainSamples];
        for (int i = 0; i < held.length; i++) held[i] = trainSamples + i;
        return loss(held, params, false);
    }

    private CrossEntropy.Loss loss(int[] batch, Parameters params, boolean gradients) {
        MemorySegment w = UpdateKernels.memory(params.get("w").value()), b = UpdateKernels.memory(params.get("b").value());
        MemorySegment gw = UpdateKernels.memory(params.get("w").grad()), gb = UpdateKernels.memory(params.get("b").grad());
        double sum = 0;
        for (int i : batch) {
            float pred = b.getAtIndex(UpdateKernels.F32, 0);
            for (int k = 0; k < DIM; k++) pred += w.getAtIndex(UpdateKernels.F32, k) * x[i][k];
            float residual = pred - y[i];
            sum += (double) residual * residual;
            if (!gradients) continue;
            for (int k = 0; k < DIM; k++) gw.setAtIndex(UpdateKernels.F32, k, gw.getAtIndex(UpdateKernels.F32, k) + 2 * residual * x[i][k]);
            gb.setAtIndex(UpdateKernels.F32, 0, gb.getAtIndex(UpdateKernels.F32, 0) + 2 * residual);
        }
        return new CrossEntropy.Loss(sum, batch.length);
    }

    /** Batches of sample indices over the training samples, reshuffled each pass by the seed. */
    final class Batches implements DataSource<int[]> {
        private final int size;
        private final long seed;
        private long epoch, index;
        private int[] order;

        Batches(int size, long seed) {
            this.size = size;
            this.seed = seed;
            order = order(0);
        }

        private int[] order(long pass) {
            int[] o = new int[trainSamples];
            for (int i = 0; i < o.length; i++) o[i] = i;
            TokenDataset.shuffle(o, new SplittableRandom(seed + 31 * pass));
            return o;
        }

        @Override
        public int[] next() {
            if ((index + 1) * size > trainSamples) {
                epoch++;
                index = 0;
                order = order(epoch);
            }
            int[] batch = java.util.Arrays.copyOfRange(order, (int) index * size, (int) (index + 1) * size);
            index++;
            return batch;
        }

        @Override
        public Position position() {
            return new Position(epoch, index);
        }

        @Override
        public void seek(Position p) {
            epoch = p.epoch();
            index = p.index();
            order = order(epoch);
        }

        @Override
        public long seed() {
            return seed;
        }
    }
}
