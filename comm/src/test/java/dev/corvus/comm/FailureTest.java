package dev.corvus.comm;

import static dev.corvus.comm.CommTesting.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class FailureTest {

    @Test
    void aRankThatThrowsMidRingFailsItsPeersFast() {
        Map<Integer, Throwable> peers = new ConcurrentHashMap<>();
        Map<Integer, String> threads = new ConcurrentHashMap<>();
        long t0 = System.nanoTime();
        Throwable thrown = catchThrowable(() -> InJvmCluster.run(4, TIMEOUT, comm -> {
            threads.put(comm.rank(), Thread.currentThread().getName());
            try (MemoryScope scope = MemoryScope.open("rank")) {
                int next = (comm.rank() + 1) % 4, prev = (comm.rank() + 3) % 4;
                Tensor cur = Tensor.full(comm.rank(), 8), nxt = Tensor.zeros(DType.F32, 8);
                for (int step = 0; step < 4; step++) {
                    if (comm.rank() == 2 && step == 2) throw new IllegalStateException("boom");
                    var r = comm.receive(nxt, prev, step);
                    comm.send(cur, next, step);
                    r.await();
                    Tensor t = cur;
                    cur = nxt;
                    nxt = t;
                }
                comm.allGather(cur, Tensor.zeros(DType.F32, 32), 0);
                return null;
            } catch (CommException e) {
                peers.put(comm.rank(), e);
                throw e;
            }
        }));
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        assertThat(thrown).isInstanceOf(RankFailureException.class).hasMessage("rank 2 failed: boom")
                .hasCauseInstanceOf(IllegalStateException.class);
        assertThat(((RankFailureException) thrown).rank()).isEqualTo(2);
        assertThat(elapsed).isLessThan(Duration.ofSeconds(10));
        assertThat(peers.keySet()).containsExactlyInAnyOrder(0, 1, 3);
        for (Throwable e : peers.values()) {
            assertThat(e).isInstanceOf(RankFailureException.class).hasMessageStartingWith("rank 2 failed: boom");
            assertThat(((RankFailureException) e).rank()).isEqualTo(2);
        }
        assertThat(threads).containsEntry(0, "corvus-rank-0").containsEntry(3, "corvus-rank-3");
    }

    @Test
    void aRankThatThrowsBeforeACollectiveFailsTheOthersInsideIt() {
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> InJvmCluster.run(8, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                if (comm.rank() == 5) {
                    Thread.sleep(50);   // let the others block first
                    throw new RuntimeException("disk full");
                }
                comm.allReduce(Tensor.full(1, 16));
                return null;
            }
        })).isInstanceOf(RankFailureException.class).hasMessage("rank 5 failed: disk full")
                .satisfies(e -> assertThat(e.getSuppressed()).hasSize(7)
                        .allSatisfy(s -> assertThat(s).hasMessageContaining("rank 5 failed: disk full").hasMessageContaining("allReduce")));
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void aPeerThatReturnsWithoutJoiningTheCollectiveFailsItFast() {
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> InJvmCluster.run(3, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                if (comm.rank() == 1) return null;   // forgets the barrier: closes its communicator
                comm.barrier();
                return null;
            }
        })).isInstanceOf(CommException.class).hasMessageContaining("barrier").hasMessageContaining("rank 1 closed its communicator");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void messagesSentBeforeClosingAreStillDelivered() {
        List<Float> got = InJvmCluster.run(2, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                if (comm.rank() == 0) {
                    comm.send(Tensor.full(7, 2), 1, 0);
                    return null;   // closes at once
                }
                Thread.sleep(50);
                Tensor into = Tensor.zeros(DType.F32, 2);
                comm.receive(into, 0, 0).await();
                return into.get(1);
            }
        });
        assertThat(got.get(1)).isEqualTo(7f);
    }

    @Test
    void abortWithoutTheLauncherFailsLaterCalls() {
        List<Communicator> comms = InJvmCluster.create(3, TIMEOUT);
        ((InJvmCommunicator) comms.get(1)).abort(new IllegalStateException("out of memory"));
        assertThatThrownBy(() -> comms.get(0).barrier()).isInstanceOf(RankFailureException.class)
                .hasMessageStartingWith("rank 1 failed: out of memory");
        try (MemoryScope scope = MemoryScope.open("test")) {
            assertThatThrownBy(() -> comms.get(2).send(Tensor.zeros(DType.F32, 1), 0, 0))
                    .isInstanceOf(RankFailureException.class).hasMessageContaining("rank 1 failed");
        }
        comms.forEach(Communicator::close);
    }

    @Test
    void collectiveTimeoutNamesTheMissingPeer() {
        List<Communicator> comms = InJvmCluster.create(2, Duration.ofMillis(300));
        try (MemoryScope scope = MemoryScope.open("test")) {
            assertThatThrownBy(() -> comms.get(0).allGather(Tensor.zeros(DType.F32, 2), Tensor.zeros(DType.F32, 4), 0))
                    .isInstanceOf(CommException.class).hasMessageContaining("allGather").hasMessageContaining("timed out after 300 ms")
                    .hasMessageContaining("rank 1");
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    @Test
    void mismatchedCollectivesAndShapesAreReported() {
        assertThatThrownBy(() -> InJvmCluster.run(2, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                if (comm.rank() == 0) comm.allGather(Tensor.zeros(DType.F32, 2), Tensor.zeros(DType.F32, 4), 0);
                else comm.barrier();
                return null;
            }
        })).isInstanceOf(CommException.class).hasMessageContaining("collective mismatch");
        assertThatThrownBy(() -> InJvmCluster.run(2, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                int rows = comm.rank() == 0 ? 2 : 3;
                comm.allGather(Tensor.zeros(DType.F32, rows, 3), Tensor.zeros(DType.F32, 2 * rows, 3), 0);
                return null;
            }
        })).isInstanceOf(CommException.class).hasMessageContaining("rank 0 passed local F32 [2, 3] along dim 0")
                .hasMessageContaining("rank 1 passed local F32 [3, 3] along dim 0").hasMessageContaining("same dtype, shapes and dims");
    }

    @Test
    void shapesAreValidatedUpFrontWithClearMessages() {
        List<Communicator> comms = InJvmCluster.create(2, TIMEOUT);
        Communicator c = comms.get(0);
        try (MemoryScope scope = MemoryScope.open("test")) {
            assertThatThrownBy(() -> c.allGather(Tensor.zeros(DType.F32, 2, 8), Tensor.zeros(DType.F32, 2, 8), 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("allGather: out [2, 8] must be 2 x local [2, 8] along dim 0");
            assertThatThrownBy(() -> c.reduceScatter(Tensor.zeros(DType.F32, 5, 8), Tensor.zeros(DType.F32, 2, 8), 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("reduceScatter: dim 0 of in [5, 8] has size 5, which is not divisible by the group size 2");
            assertThatThrownBy(() -> c.reduceScatter(Tensor.zeros(DType.F32, 4, 8), Tensor.zeros(DType.F32, 4, 4), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out [4, 4] must be in [4, 8] / 2 along dim 0, i.e. [2, 8]");
            assertThatThrownBy(() -> c.allToAll(Tensor.zeros(DType.F32, 2, 3, 4), Tensor.zeros(DType.F32, 2, 3, 4), 2, 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 6, 2]");
            assertThatThrownBy(() -> c.allToAll(Tensor.zeros(DType.F32, 2, 3, 4), Tensor.zeros(DType.F32, 2, 6, 2), 1, 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not divisible by the group size 2");
            assertThatThrownBy(() -> c.allGather(Tensor.zeros(DType.F32, 2), Tensor.zeros(DType.BF16, 4), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("local is F32 but out is BF16");
            assertThatThrownBy(() -> c.allReduce(Tensor.zeros(DType.Q8_0, 32)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot sum Q8_0");
            assertThatThrownBy(() -> c.allGather(Tensor.zeros(DType.F32, 2), Tensor.zeros(DType.F32, 4), 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of range");
            // Nothing was sent: the peer sees no stray message.
            assertThat(c.stats().totalBytes()).isZero();
        } finally {
            comms.forEach(Communicator::close);
        }
    }
}
