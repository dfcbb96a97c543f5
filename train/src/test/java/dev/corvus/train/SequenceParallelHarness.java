package dev.corvus.train;

import static org.assertj.core.api.Assertions.fail;

import dev.corvus.comm.InJvmCluster;
import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.MemoryScope;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;

/**
 * One sequence-parallel gradient step on P in-JVM ranks, and the one-device step it must equal:
 * each rank builds the same parameters from the same seed, so nothing crosses threads but messages.
 */
final class SequenceParallelHarness {
    private SequenceParallelHarness() {}

    static final Duration TIMEOUT = Duration.ofSeconds(60);

    /** A step's loss, gradients (in the parameters' order) and the bytes the rank sent. */
    record Step(double lossSum, long tokens, float[][] grads, long bytes) {}

    /** The single-device step: {@link DecoderGradients} on the whole sequence. */
    static Step reference(LlamaConfig config, Function<MemoryScope, LlamaWeights> weights, int[] sequence, int chunkRows) {
        try (MemoryScope scope = MemoryScope.open("reference"); Parameters p = Parameters.of(config, weights.apply(scope))) {
            p.zeroGrads();
            CrossEntropy.Loss l = new DecoderGradients(chunkRows).accumulate(sequence, p);
            return new Step(l.sum(), l.tokens(), grads(p), 0);
        }
    }

    /** Every rank's step: accumulate, then the trainer's combine (all-reduce of the gradients, the global loss). */
    static List<Step> parallel(LlamaConfig config, Function<MemoryScope, LlamaWeights> weights, int[] sequence, SequenceParallelScheme scheme, int teamSize,
            int ranks, int chunkRows) {
        return parallel(config, weights, sequence, scheme, teamSize, ranks, chunkRows, false, GradientBuckets.DEFAULT_BUCKET_ELEMENTS);
    }

    /** As {@link #parallel(LlamaConfig, Function, int[], SequenceParallelScheme, int, int, int)}, with checkpointed blocks or not and the gradients' bucket. */
    static List<Step> parallel(LlamaConfig config, Function<MemoryScope, LlamaWeights> weights, int[] sequence, SequenceParallelScheme scheme, int teamSize,
            int ranks, int chunkRows, boolean checkpointBlocks, long bucketElements) {
        return InJvmCluster.run(ranks, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank " + comm.rank()); Parameters p = Parameters.of(config, weights.apply(scope))) {
                SequenceParallelGradients g = new SequenceParallelGradients(comm, scheme, teamSize, chunkRows, checkpointBlocks, bucketElements);
                p.zeroGrads();
                long before = comm.stats().totalBytes();
                CrossEntropy.Loss l = g.combine(g.accumulate(sequence, p), p);
                long bytes = comm.stats().totalBytes() - before;
                return new Step(l.sum(), l.tokens(), grads(p), bytes);
            }
        });
    }

    static float[][] grads(Parameters p) {
        List<Parameter> list = p.list();
        float[][] g = new float[list.size()][];
        for (int i = 0; i < g.length; i++) g[i] = list.get(i).grad().toFloatArray();
        return g;
    }

    /**
     * Asserts that {@code actual}'s gradients equal the reference's within a tolerance that grows
     * with the sequence length n (each is a sum over n rows, taken in another order): element e
     * of a tensor may differ by perToken·n·(|reference_e| + rms(reference tensor)), the rms term
     * standing for the cancellation in an element whose terms are as large as the tensor's typical
     * element. Returns the largest |actual − reference| / (|reference| + rms) seen.
     */
    static double assertClose(String what, List<Parameter> params, float[][] reference, float[][] actual, int n, double perToken) {
        double allowed = perToken * n, worst = 0;
        for (int i = 0; i < reference.length; i++) {
            float[] r = reference[i], a = actual[i];
            double squares = 0;
            for (float x : r) squares += (double) x * x;
            double rms = Math.sqrt(squares / r.length);
            for (int e = 0; e < r.length; e++) {
                double err = Math.abs(a[e] - r[e]) / (Math.abs(r[e]) + rms + Double.MIN_NORMAL);
                worst = Math.max(worst, err);
                if (!(err <= allowed)) {
                    fail(what + ": " + params.get(i).name() + " element " + e + ": " + a[e] + ", one device " + r[e] + " (tensor rms " + rms + "; allowed "
                            + allowed + " of |one device| + rms, got " + err + ")");
                }
            }
        }
        return worst;
    }

    /** The largest relative L2 error ||actual - reference|| / ||reference|| over the tensors, and which tensor it is. */
    static String worstRelativeL2(List<Parameter> params, float[][] reference, float[][] actual) {
        double worst = -1;
        String at = "";
        for (int i = 0; i < reference.length; i++) {
            double diff = 0, norm = 0;
            for (int e = 0; e < reference[i].length; e++) {
                diff += Math.pow(actual[i][e] - reference[i][e], 2);
                norm += Math.pow(reference[i][e], 2);
            }
            double rel = Math.sqrt(diff / Math.max(norm, Double.MIN_NORMAL));
            if (rel > worst) {
                worst = rel;
                at = params.get(i).name();
            }
        }
        return String.format(java.util.Locale.ROOT, "%.2e (%s)", worst, at);
    }
}
