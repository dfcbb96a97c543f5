package dev.corvus.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import dev.corvus.comm.CommException;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.RankFailureException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every scheme equals single-device flash attention (output, lse, gradients) and sends exactly the modelled bytes. */
class SequenceParallelTest {
    private static void assertMatches(String what, FlashAttention.Result single, FlashAttention.Gradients grads, ParallelHarness.Gathered got, int n) {
        double tol = Close.reductionTolerance(n, 2e-6);
        Close.assertAllClose(what + " out", single.out().toFloatArray(), got.out().toFloatArray(), tol, 1e-4);
        Close.assertAllClose(what + " lse", single.lse().toFloatArray(), got.lse().toFloatArray(), tol, 1e-5);
        Close.assertAllClose(what + " dq", grads.dq().toFloatArray(), got.dq().toFloatArray(), tol * 4, 1e-3);
        Close.assertAllClose(what + " dk", grads.dk().toFloatArray(), got.dk().toFloatArray(), tol * 4, 1e-3);
        Close.assertAllClose(what + " dv", grads.dv().toFloatArray(), got.dv().toFloatArray(), tol * 4, 1e-3);
    }

    @ParameterizedTest(name = "{0} ranks, causal={1}, heads {2}/{3}")
    @CsvSource({"1,true,2,2", "2,true,2,1", "2,false,2,2", "4,true,4,2", "4,false,4,4", "8,true,8,8", "8,false,8,2"})
    void ringAndUlyssesEqualSingleDeviceAttention(int p, boolean causal, int heads, int kvHeads) {
        int b = 1, d = 16, n = 2 * p * 6;
        float scale = (float) (1 / Math.sqrt(d));
        try (MemoryScope s = MemoryScope.open()) {
            Tensor q = Tensor.randn(1, b, heads, n, d), k = Tensor.randn(2, b, kvHeads, n, d);
            Tensor v = Tensor.randn(3, b, kvHeads, n, d), dOut = Tensor.randn(4, b, heads, n, d);
            Mask mask = causal ? Mask.causal(0, 0) : Mask.NONE;
            FlashAttention.Result single = FlashAttention.forward(q, k, v, mask, scale);
            FlashAttention.Gradients grads = FlashAttention.backward(q, k, v, single.out(), single.lse(), dOut, mask, scale);
            CommVolume.Problem problem = new CommVolume.Problem(b, heads, kvHeads, n, d, p);

            ParallelHarness.Gathered ring = ParallelHarness.run(ParallelHarness.RING, p, q, k, v, dOut, causal, scale);
            assertMatches("ring", single, grads, ring, n);
            assertThat(ring.forwardBytes()).as("ring forward bytes per rank").containsOnly(CommVolume.ringForward(problem));
            assertThat(ring.backwardBytes()).as("ring backward bytes per rank").containsOnly(CommVolume.ringBackward(problem));

            if (heads % p == 0 && kvHeads % p == 0) {
                ParallelHarness.Gathered ulysses = ParallelHarness.run(ParallelHarness.ULYSSES, p, q, k, v, dOut, causal, scale);
                assertMatches("ulysses", single, grads, ulysses, n);
                assertThat(ulysses.forwardBytes()).containsOnly(CommVolume.ulyssesForward(problem));
                assertThat(ulysses.backwardBytes()).containsOnly(CommVolume.ulyssesBackward(problem));
            }
        }
    }

    @Test
    void aRankFailingMidRingMakesItsPeersFailFastNamingIt() {
        int p = 8, failing = 5, n = 2 * p * 2, d = 4;
        Map<Integer, Throwable> errors = new ConcurrentHashMap<>();
        long start = System.nanoTime();
        assertThatThrownBy(() -> InJvmCluster.run(p, Duration.ofSeconds(30), comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                SequenceLayout layout = RingAttention.layout(n, comm.rank(), p, true);
                Tensor q = layout.shard(Tensor.randn(1, 1, 2, n, d), 2), k = layout.shard(Tensor.randn(2, 1, 2, n, d), 2);
                // Each hop sends two chunks of k and two of v: the failing rank dies on its third hop.
                Communicator mine = comm.rank() == failing ? new FailingCommunicator(comm, 8) : comm;
                RingAttention.forward(mine, q, k, k, true, 0.5f);
                comm.barrier();
                return null;
            } catch (Throwable e) {
                errors.put(comm.rank(), e);
                throw e;
            }
        })).isInstanceOfSatisfying(RankFailureException.class, e -> assertThat(e.rank()).isEqualTo(failing));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        assertThat(errors).hasSize(p);
        errors.forEach((rank, e) -> {
            if (rank != failing) assertThat(e).as("rank %d", rank).isInstanceOf(CommException.class).hasMessageContaining("rank " + failing);
        });
    }
}
