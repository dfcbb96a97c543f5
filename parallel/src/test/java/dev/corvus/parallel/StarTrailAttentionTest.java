package dev.corvus.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.CommException;
import dev.corvus.comm.CommStats;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.RankFailureException;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** StarTrail equals single-device attention, sends exactly the modelled bytes, balances causal work and fails fast. */
class StarTrailAttentionTest {
    /** P in {2, 4, 8, 16}, every valid team size, causal and full; causal cases use grouped key/value heads. */
    static Stream<Arguments> cases() {
        List<Arguments> list = new ArrayList<>();
        for (int p : new int[] {2, 4, 8, 16}) {
            for (int c = 1; c * c <= p; c++) {
                if (p % (c * c) != 0) continue;
                list.add(Arguments.of(p, c, true, 4, 2));
                list.add(Arguments.of(p, c, false, 2, 2));
            }
        }
        return list.stream();
    }

    @ParameterizedTest(name = "P={0}, C={1}, causal={2}, heads {3}/{4}")
    @MethodSource("cases")
    void equalsSingleDeviceAttentionAndSendsTheModelledBytes(int p, int c, boolean causal, int heads, int kvHeads) {
        int b = 1, d = 8, n = 2 * p * 4;
        float scale = (float) (1 / Math.sqrt(d));
        try (MemoryScope s = MemoryScope.open()) {
            Tensor q = Tensor.randn(11, b, heads, n, d), k = Tensor.randn(12, b, kvHeads, n, d);
            Tensor v = Tensor.randn(13, b, kvHeads, n, d), dOut = Tensor.randn(14, b, heads, n, d);
            Mask mask = causal ? Mask.causal(0, 0) : Mask.NONE;
            FlashAttention.Result single = FlashAttention.forward(q, k, v, mask, scale);
            FlashAttention.Gradients grads = FlashAttention.backward(q, k, v, single.out(), single.lse(), dOut, mask, scale);

            ParallelHarness.Gathered got = ParallelHarness.run(ParallelHarness.starTrail(c), p, q, k, v, dOut, causal, scale);
            String what = "startrail P=" + p + " C=" + c;
            double tol = Close.reductionTolerance(n, 2e-6);
            Close.assertAllClose(what + " out", single.out().toFloatArray(), got.out().toFloatArray(), tol, 1e-4);
            Close.assertAllClose(what + " lse", single.lse().toFloatArray(), got.lse().toFloatArray(), tol, 1e-5);
            Close.assertAllClose(what + " dq", grads.dq().toFloatArray(), got.dq().toFloatArray(), tol * 4, 1e-3);
            Close.assertAllClose(what + " dk", grads.dk().toFloatArray(), got.dk().toFloatArray(), tol * 4, 1e-3);
            Close.assertAllClose(what + " dv", grads.dv().toFloatArray(), got.dv().toFloatArray(), tol * 4, 1e-3);

            CommVolume.Problem problem = new CommVolume.Problem(b, heads, kvHeads, n, d, p);
            assertThat(got.forwardBytes()).as("forward bytes per rank").containsExactly(CommVolume.starTrailForward(problem, c));
            assertThat(got.backwardBytes()).as("backward bytes per rank").containsExactly(CommVolume.starTrailBackward(problem, c));

            if (c == 1) {
                ParallelHarness.Gathered ring = ParallelHarness.run(ParallelHarness.RING, p, q, k, v, dOut, causal, scale);
                Close.assertAllClose(what + " vs ring out", ring.out().toFloatArray(), got.out().toFloatArray(), 1e-6, 1e-5);
                Close.assertAllClose(what + " vs ring lse", ring.lse().toFloatArray(), got.lse().toFloatArray(), 1e-6, 1e-5);
                assertThat(got.forwardBytes()).containsOnly(CommVolume.ringForward(problem));
            }
        }
    }

    @ParameterizedTest(name = "P={0}")
    @ValueSource(ints = {4, 16, 64})
    void placementCountedTheRingPartIsOneCthOfTheRing(int p) {
        CommVolume.Problem x = new CommVolume.Problem(1, 4, 4, 2 * p * 4, 8, p);
        for (int c = 2; c * c <= p; c++) {
            if (p % (c * c) != 0) continue;
            StarTrailTopology topo = new StarTrailTopology(p, c);
            long[] fwd = CommVolume.starTrailForward(x, c);
            for (int r = 0; r < p; r++) {
                long collectives = (c - 1) * (x.qBytes() + 2 * x.kvBytes()) + (long) (c - 1) * c * x.rowBytes() + (c - 1) * x.qBytes();
                long p2p = fwd[r] - collectives;
                long expected = topo.placementTarget(r) == r ? (topo.ringLength() - 1) * 2L * c * x.kvBytes() : 2L * p * x.kvBytes() / c;
                assertThat(p2p).as("P=%d C=%d rank %d", p, c, r).isEqualTo(expected);
            }
        }
    }

    /**
     * Under zigzag every rank does the same causal work at every iteration: counting a query-key
     * pair on the diagonal (same position) as half, the work is exactly half of the dense
     * team-by-team block. Raw visible pairs exceed that half only by the diagonal's half (C·chunk
     * pairs) on the ranks that hold their own team's keys, which for 1 < C need not be all ranks at
     * one iteration (unlike the ring, where all do so at step 0): papers.md 2.5's "exactly equal"
     * holds for the kernel work, not for the raw pair count.
     */
    @ParameterizedTest(name = "P={0}")
    @ValueSource(ints = {1, 2, 4, 8, 16, 64})
    void zigzagBalancesCausalWorkAtEveryIteration(int p) {
        int len = 3, n = 2 * p * len;
        for (int c = 1; c * c <= p; c++) {
            if (p % (c * c) != 0) continue;
            StarTrailTopology topo = new StarTrailTopology(p, c);
            long dense = (long) (2 * c * len) * (2 * c * len);
            for (int i = 0; i < topo.ringLength(); i++) {
                long minVisible = Long.MAX_VALUE, maxVisible = Long.MIN_VALUE;
                for (int r = 0; r < p; r++) {
                    SequenceLayout queries = StarTrailAttention.teamLayout(n, topo, topo.team(r), true);
                    SequenceLayout keys = StarTrailAttention.teamLayout(n, topo, topo.heldTeam(r, i), true);
                    long visible = 0, strict = 0;
                    for (SequenceLayout.Chunk qc : queries.chunks()) {
                        for (SequenceLayout.Chunk kc : keys.chunks()) {
                            visible += SequenceLayout.visiblePairs(qc, kc, true);
                            // Keys strictly before the query: shift the keys one position later.
                            strict += SequenceLayout.visiblePairs(qc, new SequenceLayout.Chunk(kc.localStart(), kc.globalStart() + 1, kc.length()), true);
                        }
                    }
                    assertThat(visible + strict).as("P=%d C=%d rank %d iteration %d: twice the work", p, c, r, i).isEqualTo(dense);
                    long diagonal = topo.heldTeam(r, i) == topo.team(r) ? (long) c * len : 0;
                    assertThat(visible).as("P=%d C=%d rank %d iteration %d: visible pairs", p, c, r, i).isEqualTo(dense / 2 + diagonal);
                    minVisible = Math.min(minVisible, visible);
                    maxVisible = Math.max(maxVisible, visible);
                }
                assertThat(maxVisible - minVisible).as("P=%d C=%d iteration %d", p, c, i).isLessThanOrEqualTo((long) c * len);
            }
        }
    }

    @Test
    void aRankFailingMidRingMakesItsPeersFailFastNamingIt() {
        int p = 16, c = 2, failing = 3, n = 2 * p * 2, d = 4;
        Duration timeout = Duration.ofSeconds(30);
        Map<Integer, Throwable> errors = new ConcurrentHashMap<>();
        long start = System.nanoTime();
        assertThatThrownBy(() -> InJvmCluster.run(p, timeout, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                SequenceLayout layout = StarTrailAttention.layout(n, comm.rank(), p, true);
                Tensor q = layout.shard(Tensor.randn(1, 1, 2, n, d), 2), k = layout.shard(Tensor.randn(2, 1, 2, n, d), 2);
                // Placement is two sends; the failing rank dies on its second ring hop.
                Communicator mine = comm.rank() == failing ? new FailingCommunicator(comm, 4) : comm;
                StarTrailAttention.forward(mine, c, q, k, k, true, 0.5f);
                comm.barrier();
                return null;
            } catch (Throwable e) {
                errors.put(comm.rank(), e);
                throw e;
            }
        })).isInstanceOfSatisfying(RankFailureException.class, e -> assertThat(e.rank()).isEqualTo(failing));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        assertThat(errors.get(failing)).hasMessageContaining("injected");
        assertThat(errors).hasSize(p);
        errors.forEach((rank, e) -> {
            if (rank != failing) assertThat(e).as("rank %d", rank).isInstanceOf(CommException.class).hasMessageContaining("rank " + failing);
        });
    }
}
