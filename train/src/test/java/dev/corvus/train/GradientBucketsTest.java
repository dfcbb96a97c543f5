package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.comm.InJvmCluster;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The bucketed gradient all-reduce against one all-reduce per parameter, on 2, 3 and 4 in-JVM
 * ranks with parameters of awkward sizes (1, 7, 13, 64, a prime 251, 15): the sums are the same
 * bits for every bucket size (1 element, every parameter in place in 1-element pieces; 5, so
 * parameters larger than a bucket go in place in pieces and the 1 alone is packed; 90, packs of
 * several and 251 in pieces; exactly the largest parameter; the total, one packed bucket of all;
 * more than the total), the bytes every rank sends equal {@link GradientBuckets#bytes}, and the
 * calls made are the plan's, counted by hand.
 */
class GradientBucketsTest {
    static final int[][] SHAPES = {{1}, {7}, {13}, {8, 8}, {251}, {3, 5}};
    static final int TOTAL = 1 + 7 + 13 + 64 + 251 + 15;

    /** Rank r's gradients: seeded by r, with values of mixed magnitude so the order of the sum would show. */
    static Parameters parameters(int rank) {
        Parameters p = Parameters.empty();
        SplittableRandom random = new SplittableRandom(1000 + rank);
        try (MemoryScope scope = MemoryScope.open("initial values")) {
            for (int i = 0; i < SHAPES.length; i++) {
                int[] shape = SHAPES[i];
                int n = 1;
                for (int d : shape) n *= d;
                Parameter param = p.add("p" + i, Tensor.zeros(scope, DType.F32, shape));
                float[] g = new float[n];
                for (int e = 0; e < n; e++) g[e] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-3, 4)));
                Ops.copyInto(Tensor.of(scope, g, shape), param.grad());
            }
        }
        return p;
    }

    record Result(float[][] grads, long bytes, long calls) {}

    static List<Result> run(int ranks, long bucket) {
        return InJvmCluster.run(ranks, Duration.ofSeconds(60), comm -> {
            try (Parameters p = parameters(comm.rank())) {
                long before = comm.stats().totalBytes();
                long calls = GradientBuckets.allReduce(comm, p.list(), bucket);
                return new Result(SequenceParallelHarness.grads(p), comm.stats().totalBytes() - before, calls);
            }
        });
    }

    @Test
    void everyBucketSizeGivesThePerParameterSumsBitForBit() {
        for (int ranks : new int[] {2, 3, 4}) {
            List<Result> reference = run(ranks, GradientBuckets.PER_PARAMETER);
            List<Parameter> params;
            try (Parameters p = parameters(0)) {
                params = p.list();
                // the sums are real sums, not the inputs: check one element against the ranks' own values
                float expected = 0;
                for (int r = 0; r < ranks; r++) {
                    try (Parameters pr = parameters(r)) {
                        expected += pr.list().get(4).grad().toFloatArray()[100];
                    }
                }
                assertThat(reference.getFirst().grads()[4][100]).isEqualTo(expected);
            }
            for (int r = 0; r < ranks; r++) {
                assertThat(reference.get(r).bytes()).isEqualTo(GradientBuckets.bytes(params, GradientBuckets.PER_PARAMETER, ranks, r));
                assertThat(reference.get(r).calls()).isEqualTo(SHAPES.length);
            }
            // calls by hand: 1: every element; 5: [1] packed, then 7, 13, 64, 251, 15 in ceil(n/5) pieces; 90: [1 7 13 64], 251 in 3, [15];
            // 251: [1 7 13 64], 251 whole, [15]; TOTAL and beyond: one bucket of all
            long[][] bucketsAndCalls = {{1, TOTAL}, {5, 1 + 2 + 3 + 13 + 51 + 3}, {90, 1 + 3 + 1}, {251, 3}, {TOTAL, 1}, {TOTAL + 100, 1}};
            for (long[] bc : bucketsAndCalls) {
                long bucket = bc[0];
                List<Result> bucketed = run(ranks, bucket);
                for (int r = 0; r < ranks; r++) {
                    String what = ranks + " ranks, buckets of " + bucket + ", rank " + r;
                    for (int i = 0; i < SHAPES.length; i++) {
                        assertThat(bucketed.get(r).grads()[i]).as(what + ": p" + i).containsExactly(reference.get(r).grads()[i]);
                    }
                    assertThat(bucketed.get(r).bytes()).as(what + ": bytes").isEqualTo(GradientBuckets.bytes(params, bucket, ranks, r));
                    assertThat(bucketed.get(r).calls()).as(what + ": calls").isEqualTo(bc[1]).isEqualTo(GradientBuckets.calls(params, bucket));
                }
            }
        }
    }

    @Test
    void theByteFormulaCountsEachBucketsChunks() {
        try (Parameters p = parameters(0)) {
            List<Parameter> params = p.list();
            // one bucket of all 351 elements on 4 ranks: rank 3's chunk is [263, 351), 88 elements
            long own = 4L * (351 - 351 * 3 / 4);
            assertThat(GradientBuckets.bytes(params, TOTAL, 4, 3)).isEqualTo(4L * TOTAL - own + 3 * own);
            // buckets of 251 on 3 ranks: calls of 85, 251 and 15 elements; rank 1's chunks are 28, 84 and 5 elements
            assertThat(GradientBuckets.bytes(params, 251, 3, 1)).isEqualTo((4L * 85 - 4 * 28 + 2 * 4 * 28) + (4L * 251 - 4 * 84 + 2 * 4 * 84) + (4L * 15 - 4 * 5 + 2 * 4 * 5));
            // on 2 ranks every all-reduce of n elements sends 4n bytes, however it is cut
            assertThat(GradientBuckets.bytes(params, 1, 2, 1)).isEqualTo(4L * TOTAL).isEqualTo(GradientBuckets.bytes(params, GradientBuckets.PER_PARAMETER, 2, 0));
            // buckets of 1 element on 4 ranks: each element is the chunk of rank 3 alone (elements [0,0), [0,0), [0,0), [0,1))
            assertThat(GradientBuckets.bytes(params, 1, 4, 3)).isEqualTo(3L * 4 * TOTAL);
            assertThat(GradientBuckets.bytes(params, 1, 4, 0)).isEqualTo(4L * TOTAL);
        }
    }

    @Test
    void aNegativeBucketIsRefusedByName() {
        try (Parameters p = parameters(0)) {
            assertThatThrownBy(() -> GradientBuckets.calls(p.list(), -1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("gradient bucket of -1 elements");
        }
        assertThatThrownBy(() -> GradientBuckets.elementsOfMib(-2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-2.0 MiB");
        assertThat(GradientBuckets.elementsOfMib(25)).isEqualTo(GradientBuckets.DEFAULT_BUCKET_ELEMENTS);
        assertThat(GradientBuckets.elementsOfMib(0)).isEqualTo(GradientBuckets.PER_PARAMETER);
    }
}
