package dev.corvus.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.attention.FlashAttention;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A sliding window means "drop keys older than the window", which only causal attention has:
 * ring, StarTrail and Ulysses refuse a window on non-causal attention by name, on every rank and
 * before any of them communicates (so no rank is left waiting), instead of ignoring it.
 */
class WindowRefusalTest {
    interface Call {
        void run(Communicator comm, Tensor q, Tensor k, Tensor v);
    }

    private static void refusedOnEveryRank(String scheme, Call call) {
        List<String> messages = InJvmCluster.run(2, ParallelHarness.TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                Tensor q = Tensor.randn(1, 1, 2, 4, 8), k = Tensor.randn(2, 1, 2, 4, 8), v = Tensor.randn(3, 1, 2, 4, 8);
                long before = comm.stats().totalBytes();
                try {
                    call.run(comm, q, k, v);
                    return "no refusal";
                } catch (IllegalArgumentException e) {
                    assertThat(comm.stats().totalBytes()).as(scheme + ": bytes sent before the refusal").isEqualTo(before);
                    return e.getMessage();
                }
            }
        });
        for (String m : messages) assertThat(m).as(scheme).contains("sliding window (3 positions) needs causal attention");
    }

    @Test
    void nonCausalAttentionWithAWindowIsRefused() {
        refusedOnEveryRank("ring forward", (c, q, k, v) -> RingAttention.forward(c, q, k, v, false, 3, 0.35f, 0f));
        refusedOnEveryRank("ring backward", (c, q, k, v) -> RingAttention.backward(c, q, k, v, q, Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 2, 4), q, false, 3, 0.35f, 0f));
        refusedOnEveryRank("startrail forward", (c, q, k, v) -> StarTrailAttention.forward(c, 1, q, k, v, false, 3, 0.35f, 0f));
        refusedOnEveryRank("startrail backward", (c, q, k, v) -> StarTrailAttention.backward(c, 1, q, k, v, q, Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 2, 4), q, false, 3, 0.35f, 0f));
        refusedOnEveryRank("ulysses forward", (c, q, k, v) -> UlyssesAttention.forward(c, q, k, v, false, 3, 0.35f, 0f));
        refusedOnEveryRank("ulysses backward", (c, q, k, v) -> UlyssesAttention.backward(c, q, k, v, q, Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 2, 4), q, false, 3, 0.35f, 0f));
    }

    @Test
    void causalAttentionWithAWindowRuns() {
        List<Integer> sizes = InJvmCluster.run(2, ParallelHarness.TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank-" + comm.rank())) {
                Tensor q = Tensor.randn(1, 1, 2, 4, 8), k = Tensor.randn(2, 1, 2, 4, 8), v = Tensor.randn(3, 1, 2, 4, 8);
                FlashAttention.Result r = RingAttention.forward(comm, q, k, v, true, 3, 0.35f, 0f);
                return r.out().size(2);
            }
        });
        assertThat(sizes).containsExactly(4, 4);
    }
}
