package dev.corvus.train;

import dev.corvus.comm.CommException;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.Communicators;
import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The sequence-parallel training checks across processes, one rank per process: run by
 * {@code scripts/mpi-tests.sh} as {@code mpirun -np 4 java ... SequenceParallelMpiMain}. Every
 * process computes the one-device step itself from the same seeds, then takes its share of the
 * sequence-parallel step over the MPI communicator: for the tiny GQA decoders of
 * {@link SequenceParallelGradientsTest} (also its sliding-window, soft-capped one with a classifier
 * bias) and each scheme (ring, StarTrail with every valid team size, Ulysses where the heads
 * split), the loss and every gradient must equal the one device's
 * and the bytes {@link SequenceParallelGradients#expectedBytes}, also with checkpointed blocks and
 * gradient buckets that cut parameters; then two whole {@link Trainer}
 * steps (StarTrail, or ring where no team of 2 fits) must leave the one device's parameters, the
 * same on every rank. Rank 0 prints one line per check (failed on any rank = FAIL) and
 * "N passed, M failed"; the exit code is 1 on any failure.
 */
public final class SequenceParallelMpiMain {
    private SequenceParallelMpiMain() {}

    private interface Check {
        void run(Communicator comm) throws Exception;
    }

    public static void main(String[] args) throws Exception {
        Duration timeout = Duration.ofSeconds(Long.getLong("corvus.mpi.timeoutSeconds", 60));
        Communicator comm = Communicators.fromEnvironment(timeout);
        int p = comm.size();
        List<String> names = new ArrayList<>();
        List<Check> checks = new ArrayList<>();
        // the two plain families, then the sliding-window, soft-capped one with a classifier bias (its windows cross the
        // zigzag chunks' boundaries and skip whole chunk pairs, which changes no byte sent)
        LlamaConfig sliding = SequenceParallelGradientsTest.SLIDING_SOFTCAP;
        Map<LlamaConfig, Function<MemoryScope, LlamaWeights>> families = new LinkedHashMap<>();
        families.put(SequenceParallelGradientsTest.GQA_INTERLEAVED, SequenceParallelGradientsTest.weights(SequenceParallelGradientsTest.GQA_INTERLEAVED));
        families.put(SequenceParallelGradientsTest.GQA_HALF_SPLIT, SequenceParallelGradientsTest.weights(SequenceParallelGradientsTest.GQA_HALF_SPLIT));
        families.put(sliding, SequenceParallelGradientsTest.withBias(sliding));
        families.forEach((config, weights) -> {
            for (SequenceParallelScheme scheme : SequenceParallelScheme.values()) {
                if (scheme == SequenceParallelScheme.ULYSSES && config.heads() % p != 0) continue;
                for (int c : scheme.teamSizes(p)) {
                    names.add("gradients " + config.ropeStyle() + (config == sliding ? " sliding+softcap+bias " : " ") + scheme.label(c) + " P=" + p);
                    checks.add(cm -> gradients(cm, config, weights, scheme, c));
                }
            }
        });
        SequenceParallelScheme trainerScheme = SequenceParallelScheme.STARTRAIL.teamSizes(p).contains(2) ? SequenceParallelScheme.STARTRAIL : SequenceParallelScheme.RING;
        int trainerTeam = trainerScheme == SequenceParallelScheme.STARTRAIL ? 2 : 1;
        names.add("trainer steps " + trainerScheme.label(trainerTeam) + " P=" + p);
        checks.add(cm -> trainerSteps(cm, trainerScheme, trainerTeam));

        int passed = 0, failed = 0;
        for (int i = 0; i < checks.size(); i++) {
            long start = System.nanoTime();
            String error = null;
            try (MemoryScope scope = MemoryScope.open("check")) {
                checks.get(i).run(comm);
            } catch (CommException e) {
                System.out.println("rank " + comm.rank() + ": " + names.get(i) + " FAILED with " + e); // the communicator may be unusable
                System.out.flush();
                System.exit(2);
            } catch (Throwable e) {
                error = e.toString();
            }
            if (error != null) System.out.println("rank " + comm.rank() + ": " + names.get(i) + " FAILED: " + error);
            boolean ok;
            try (MemoryScope scope = MemoryScope.open("verdict")) {
                Tensor bad = Tensor.ofInts(scope, new int[] {error == null ? 0 : 1}, 1);
                comm.allReduce(bad);
                ok = bad.toIntArray()[0] == 0;
            }
            if (ok) passed++; else failed++;
            if (comm.rank() == 0) {
                System.out.println(String.format("%s %s (%d ranks, %.0f ms)", ok ? "PASS" : "FAIL", names.get(i), p, (System.nanoTime() - start) / 1e6));
            }
        }
        if (comm.rank() == 0) System.out.println(passed + " passed, " + failed + " failed");
        System.out.flush();
        comm.close();
        System.exit(failed == 0 ? 0 : 1);
    }

    private static void gradients(Communicator comm, LlamaConfig config, Function<MemoryScope, LlamaWeights> weights, SequenceParallelScheme scheme,
            int teamSize) {
        int[] sequence = SequenceParallelGradientsTest.sequence(config, 38, config.vocabSize());
        SequenceParallelHarness.Step ref = SequenceParallelHarness.reference(config, weights, sequence,
                SequenceParallelGradientsTest.CHUNK_ROWS);
        float[][] plain = null;
        // the default buckets (one for these tiny models), then checkpointed blocks with 1000-element buckets, which cut parameters
        for (boolean checkpoint : new boolean[] {false, true}) {
            long bucket = checkpoint ? 1000 : GradientBuckets.DEFAULT_BUCKET_ELEMENTS;
            String what = "rank " + comm.rank() + (checkpoint ? " checkpointed, buckets of 1000" : "");
            try (MemoryScope scope = MemoryScope.open("rank"); Parameters p = Parameters.of(config, weights.apply(scope))) {
                SequenceParallelGradients g = new SequenceParallelGradients(comm, scheme, teamSize, SequenceParallelGradientsTest.CHUNK_ROWS, checkpoint, bucket);
                p.zeroGrads();
                long before = comm.stats().totalBytes();
                CrossEntropy.Loss l = g.combine(g.accumulate(sequence, p), p);
                long bytes = comm.stats().totalBytes() - before;
                require(l.tokens() == ref.tokens(), what + ": tokens " + l.tokens() + ", one device " + ref.tokens());
                require(Math.abs(l.sum() - ref.lossSum()) <= 1e-5 * ref.tokens() * (1 + Math.abs(ref.lossSum() / ref.tokens())), what + ": loss " + l.sum() + ", one device " + ref.lossSum());
                float[][] grads = SequenceParallelHarness.grads(p);
                SequenceParallelHarness.assertClose(what, p.list(), ref.grads(), grads, 37, 5e-7);
                if (plain == null) plain = grads;
                // MPI may sum the ranks' terms in another order for another message size: equal to rounding, not bitwise
                else SequenceParallelHarness.assertClose(what + " against not checkpointed", p.list(), plain, grads, 37, 1e-7);
                long expected = SequenceParallelGradients.expectedBytes(config, p.list(), scheme, teamSize, comm.size(), comm.rank(), sequence.length, 1, bucket);
                require(bytes == expected, what + " sent " + bytes + " bytes, expected " + expected);
            }
        }
    }

    private static void trainerSteps(Communicator comm, SequenceParallelScheme scheme, int teamSize) throws Exception {
        LlamaConfig config = SequenceParallelTrainingTest.CONFIG;
        Trainer.Options options = new Trainer.Options(2, 0.5, LearningRateSchedule.warmupCosine(3e-3f, 3e-4f, 1, 4), new AdamW.Options(0.9f, 0.95f, 1e-8f, 0.01f),
                0, null, 0);
        float[][] reference, mine;
        try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(config, GgufExportTest.randomWeights(scope, config, 42));
                Trainer<int[]> t = new Trainer<>(p, new SequenceParallelTrainingTest.FixedSequences(SequenceParallelTrainingTest.data()), new DecoderGradients(5), null, options)) {
            t.runUntil(2);
            reference = SequenceParallelTrainingTest.values(p);
        }
        List<Parameter> names;
        try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(config, GgufExportTest.randomWeights(scope, config, 42));
                Trainer<int[]> t = new Trainer<>(p, new SequenceParallelTrainingTest.FixedSequences(SequenceParallelTrainingTest.data()),
                        new SequenceParallelGradients(comm, scheme, teamSize, 5), null, options)) {
            t.runUntil(2);
            mine = SequenceParallelTrainingTest.values(p);
            names = p.list();
            SequenceParallelHarness.assertClose("rank " + comm.rank() + " parameters", names, reference, mine, 38, 1e-5);
            // every rank the same bits: compare a checksum of the parameters over the group
            long hash = java.util.Arrays.deepHashCode(mine);
            Tensor mineHash = Tensor.ofInts(scope, new int[] {(int) hash}, 1), all = Tensor.zeros(scope, dev.corvus.tensor.DType.I32, comm.size());
            comm.allGather(mineHash, all, 0);
            for (int h : all.toIntArray()) require(h == (int) hash, "rank " + comm.rank() + ": the ranks' parameters differ after the steps");
        }
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new AssertionError(message);
    }
}
