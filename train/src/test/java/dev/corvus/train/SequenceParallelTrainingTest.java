package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.corvus.comm.CommException;
import dev.corvus.comm.CommStats;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.RankFailureException;
import dev.corvus.model.LlamaConfig;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whole {@link Trainer} steps with {@link SequenceParallelGradients}: on 4 in-JVM ranks the
 * parameters after the steps equal one device's (and are the same bits on every rank); a rank
 * that dies mid-step stops every rank with an error naming it within the timeout, and the last
 * checkpoint stays loadable; schemes that cannot run a configuration say why.
 */
class SequenceParallelTrainingTest {
    @TempDir Path dir;

    static final LlamaConfig CONFIG = SequenceParallelGradientsTest.GQA_INTERLEAVED;

    /** The same sequences in the same order on every rank, as a data source with the same seed gives them. */
    static final class FixedSequences implements DataSource<int[]> {
        private final List<int[]> sequences;
        private long index;

        FixedSequences(List<int[]> sequences) {
            this.sequences = sequences;
        }

        @Override
        public int[] next() {
            return sequences.get((int) (index++ % sequences.size()));
        }

        @Override
        public Position position() {
            return new Position(0, index);
        }

        @Override
        public void seek(Position position) {
            index = position.index();
        }

        @Override
        public long seed() {
            return 5;
        }
    }

    static List<int[]> data() {
        List<int[]> list = new ArrayList<>();
        for (int i = 0; i < 4; i++) list.add(SequenceParallelGradientsTest.sequence(CONFIG, 30 + 3 * i, 100 + i)); // 29..38 positions
        return list;
    }

    /** Two micro-batches per step, clipping at a norm the gradients exceed (so the global norm matters), warm-up then cosine. */
    Trainer.Options options(long checkpointEvery) {
        return new Trainer.Options(2, 0.5, LearningRateSchedule.warmupCosine(3e-3f, 3e-4f, 1, 4), new AdamW.Options(0.9f, 0.95f, 1e-8f, 0.01f),
                checkpointEvery, dir.resolve("sp.ckpt"), 0);
    }

    static float[][] values(Parameters p) {
        List<Parameter> list = p.list();
        float[][] v = new float[list.size()][];
        for (int i = 0; i < v.length; i++) v[i] = list.get(i).value().toFloatArray();
        return v;
    }

    @Test
    void trainerStepsOnFourRanksEqualOneDevice() throws IOException {
        int steps = 2;
        float[][] reference;
        List<Trainer.StepRecord> referenceRecords;
        try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(CONFIG, GgufExportTest.randomWeights(scope, CONFIG, 42));
                Trainer<int[]> t = new Trainer<>(p, new FixedSequences(data()), new DecoderGradients(5), null, options(0))) {
            referenceRecords = t.runUntil(steps);
            reference = values(p);
        }
        for (SequenceParallelScheme scheme : SequenceParallelScheme.values()) {
            int c = scheme == SequenceParallelScheme.STARTRAIL ? 2 : 1;
            record Result(float[][] values, List<Trainer.StepRecord> records) {}
            List<Result> ranks = InJvmCluster.run(4, SequenceParallelHarness.TIMEOUT, comm -> {
                try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(CONFIG, GgufExportTest.randomWeights(scope, CONFIG, 42));
                        Trainer<int[]> t = new Trainer<>(p, new FixedSequences(data()), new SequenceParallelGradients(comm, scheme, c, 5), null, options(0))) {
                    List<Trainer.StepRecord> records = List.copyOf(t.runUntil(steps));
                    return new Result(values(p), records);
                }
            });
            String what = scheme.label(c) + " on 4 ranks";
            for (int r = 0; r < 4; r++) {
                assertThat(ranks.get(r).values()).as(what + ": rank " + r + " holds rank 0's parameters").isDeepEqualTo(ranks.getFirst().values());
                for (int s = 0; s < steps; s++) {
                    Trainer.StepRecord mine = ranks.get(r).records().get(s), one = referenceRecords.get(s);
                    assertThat(mine.tokens()).isEqualTo(one.tokens());
                    assertThat(mine.trainLoss()).as(what + " step " + (s + 1) + " loss").isCloseTo(one.trainLoss(), org.assertj.core.data.Offset.offset(1e-5));
                    assertThat(mine.gradNorm()).as(what + " step " + (s + 1) + " global norm").isCloseTo(one.gradNorm(), org.assertj.core.data.Offset.offset(1e-5 * one.gradNorm()));
                    assertThat(one.gradNorm()).as("clipping is active").isGreaterThan(0.5);
                }
            }
            try (MemoryScope scope = MemoryScope.open(); Parameters names = Parameters.of(CONFIG, GgufExportTest.randomWeights(scope, CONFIG, 42))) {
                // AdamW normalises each step to about lr per element, so parameters differ by rounding of the gradients divided by their moments
                SequenceParallelHarness.assertClose(what + " parameters after " + steps + " steps", names.list(), reference, ranks.getFirst().values(), 38, 1e-5);
            }
        }
    }

    @Test
    void schemesRefuseWhatTheyCannotRunAndSayWhy() {
        LlamaConfig sixHeads = new LlamaConfig(24, 40, 1, 6, 3, 29, 64, 10000f, 1e-5f, dev.corvus.tensor.RopeStyle.INTERLEAVED, true);
        Throwable t = catchThrowable(() -> SequenceParallelHarness.parallel(sixHeads, s -> GgufExportTest.randomWeights(s, sixHeads, 1),
                SequenceParallelGradientsTest.sequence(sixHeads, 20, 1), SequenceParallelScheme.ULYSSES, 1, 4, 5));
        assertThat(t).isInstanceOf(RankFailureException.class).rootCause()
                .hasMessageContaining("ulysses on 4 ranks needs the query heads divisible by the ranks; the model has 6 heads");
        assertThatThrownBy(() -> InJvmCluster.run(8, SequenceParallelHarness.TIMEOUT, comm -> new SequenceParallelGradients(comm, SequenceParallelScheme.STARTRAIL, 4, 5)))
                .rootCause().hasMessageContaining("startrail on 8 ranks: team size 4 is not valid").hasMessageContaining("valid team sizes are [1, 2]");
        assertThatThrownBy(() -> InJvmCluster.run(2, SequenceParallelHarness.TIMEOUT, comm -> new SequenceParallelGradients(comm, SequenceParallelScheme.RING, 2, 5)))
                .rootCause().hasMessageContaining("ring: a team size applies to startrail only, got 2");
        assertThatThrownBy(() -> SequenceParallelScheme.parse("star")).hasMessageContaining("unknown sequence-parallel scheme 'star'; expected ring, startrail or ulysses");
        assertThat(SequenceParallelScheme.STARTRAIL.teamSizes(16)).containsExactly(1, 2, 4);
    }

    @Test
    void aRankThatDiesMidStepStopsEveryRankWithinTheTimeoutAndTheLastCheckpointLoads() throws IOException {
        Duration timeout = Duration.ofSeconds(20);
        Map<Integer, Throwable> peers = new ConcurrentHashMap<>();
        float[][][] afterFirstStep = new float[1][][];
        AtomicBoolean armed = new AtomicBoolean();
        long t0 = System.nanoTime();
        Throwable thrown = catchThrowable(() -> InJvmCluster.run(4, timeout, root -> {
            // rank 2's fifth send of step 2 throws: mid-forward, while its peers wait on the ring for its blocks
            Communicator comm = root.rank() == 2 ? new DyingCommunicator(root, armed, 5) : root;
            try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(CONFIG, GgufExportTest.randomWeights(scope, CONFIG, 42));
                    Trainer<int[]> t = new Trainer<>(p, new FixedSequences(data()), new SequenceParallelGradients(comm, SequenceParallelScheme.RING, 1, 5), null,
                            options(comm.rank() == 0 ? 1 : 0))) { // one writer of the (shared) checkpoint
                t.onStep(r -> {
                    if (comm.rank() == 0) afterFirstStep[0] = values(p);
                    armed.set(true);
                });
                t.runUntil(3);
                return null;
            } catch (RuntimeException e) {
                if (comm.rank() != 2) peers.put(comm.rank(), e);
                throw e;
            }
        }));
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        assertThat(thrown).isInstanceOf(RankFailureException.class).hasMessageContaining("rank 2 failed").hasMessageContaining("rank 2 died at send 5");
        assertThat(elapsed).as("every rank stopped").isLessThan(timeout);
        assertThat(peers.keySet()).containsExactlyInAnyOrder(0, 1, 3);
        for (Throwable e : peers.values()) assertThat(e).isInstanceOf(CommException.class).hasMessageContaining("rank 2 failed");
        // the checkpoint of step 1 (written by rank 0 before rank 2 died) restores exactly the parameters after it
        try (MemoryScope scope = MemoryScope.open(); Parameters p = Parameters.of(CONFIG, GgufExportTest.randomWeights(scope, CONFIG, 7));
                AdamW adam = new AdamW(p, options(0).adam())) {
            TrainingCheckpoint.State state = TrainingCheckpoint.load(dir.resolve("sp.ckpt"), p, adam);
            assertThat(state.step()).isEqualTo(1);
            assertThat(values(p)).isDeepEqualTo(afterFirstStep[0]);
        }
    }

    /** A rank's communicator that throws on its {@code failAt}-th send after {@code armed} is set. */
    static final class DyingCommunicator implements Communicator {
        private final Communicator inner;
        private final AtomicBoolean armed;
        private final int failAt;
        private final AtomicInteger sends = new AtomicInteger();

        DyingCommunicator(Communicator inner, AtomicBoolean armed, int failAt) {
            this.inner = inner;
            this.armed = armed;
            this.failAt = failAt;
        }

        @Override
        public Request send(Tensor data, int dest, int tag) {
            if (armed.get() && sends.incrementAndGet() == failAt) throw new IllegalStateException("rank " + rank() + " died at send " + failAt);
            return inner.send(data, dest, tag);
        }

        @Override public int rank() { return inner.rank(); }
        @Override public int size() { return inner.size(); }
        @Override public Duration timeout() { return inner.timeout(); }
        @Override public CommStats stats() { return inner.stats(); }
        @Override public Request receive(Tensor into, int source, int tag) { return inner.receive(into, source, tag); }
        @Override public void allGather(Tensor local, Tensor out, int dim) { inner.allGather(local, out, dim); }
        @Override public void reduceScatter(Tensor in, Tensor out, int dim) { inner.reduceScatter(in, out, dim); }
        @Override public void allToAll(Tensor in, Tensor out, int scatterDim, int gatherDim) { inner.allToAll(in, out, scatterDim, gatherDim); }
        @Override public void allReduce(Tensor data) { inner.allReduce(data); }
        @Override public void barrier() { inner.barrier(); }
        @Override public Communicator subGroup(int... ranks) { return inner.subGroup(ranks); }
        @Override public void close() { inner.close(); }
    }
}
