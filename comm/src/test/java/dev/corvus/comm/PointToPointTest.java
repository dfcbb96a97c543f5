package dev.corvus.comm;

import static dev.corvus.comm.CommTesting.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.comm.Communicator.Request;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PointToPointTest {

    @Test
    void messagesMatchBySourceAndTagInFifoOrder() {
        List<List<Float>> got = InJvmCluster.run(3, TIMEOUT, comm -> {
            List<Float> seen = new ArrayList<>();
            try (MemoryScope scope = MemoryScope.open("rank")) {
                if (comm.rank() != 2) {
                    for (int i = 0; i < 5; i++) {
                        comm.send(Tensor.full(100 * comm.rank() + i, 2), 2, 1);
                        comm.send(Tensor.full(100 * comm.rank() + 50 + i, 2), 2, 2);
                    }
                } else {
                    Tensor into = Tensor.zeros(DType.F32, 2);
                    int[][] order = {{1, 2}, {0, 2}, {0, 1}, {1, 1}};   // (source, tag), each drained in turn
                    for (int[] st : order) {
                        for (int i = 0; i < 5; i++) {
                            comm.receive(into, st[0], st[1]).await();
                            seen.add(into.get(0));
                        }
                    }
                }
            }
            return seen;
        });
        List<Float> want = new ArrayList<>();
        for (int base : new int[] {150, 50, 0, 100}) for (int i = 0; i < 5; i++) want.add((float) (base + i));
        assertThat(got.get(2)).containsExactlyElementsOf(want);
    }

    @Test
    void receivesPostedBeforeTheSendsMatchInPostingOrder() {
        List<float[]> got = InJvmCluster.run(2, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                if (comm.rank() == 1) {
                    Tensor a = Tensor.zeros(DType.F32, 3), b = Tensor.zeros(DType.F32, 3);
                    Request ra = comm.receive(a, 0, 7);
                    Request rb = comm.receive(b, 0, 7);
                    comm.send(Tensor.full(0, 1), 0, 99);   // go
                    rb.await();
                    ra.await();
                    ra.await();   // idempotent
                    return new float[] {a.get(0), b.get(0)};
                }
                comm.receive(Tensor.zeros(DType.F32, 1), 1, 99).await();
                comm.send(Tensor.full(1, 3), 1, 7);
                comm.send(Tensor.full(2, 3), 1, 7);
                return null;
            }
        });
        assertThat(got.get(1)).containsExactly(1f, 2f);
    }

    @Test
    void sendIsBufferedAndTheReceiverOwnsItsCopy() {
        List<float[]> got = InJvmCluster.run(2, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                if (comm.rank() == 0) {
                    Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
                    comm.send(x, 1, 0).await();
                    fill(x, -1);           // overwrite at once: the message already holds the old bytes
                    comm.barrier();
                    return x.toFloatArray();
                }
                comm.barrier();
                Tensor y = Tensor.zeros(DType.F32, 4);   // same bytes, another shape: fine
                comm.receive(y, 0, 0).await();
                return y.toFloatArray();
            }
        });
        assertThat(got.get(0)).containsOnly(-1f);
        assertThat(got.get(1)).containsExactly(1, 2, 3, 4);
    }

    private static void fill(Tensor x, float v) {
        try (MemoryScope s = MemoryScope.open()) {
            dev.corvus.tensor.Ops.copyInto(Tensor.full(v, x.shape()), x);
        }
    }

    @Test
    void sendToSelfIsDeliveredAndCountsNothing() {
        List<Float> got = InJvmCluster.run(2, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                comm.send(Tensor.full(comm.rank() + 5, 4), comm.rank(), 3);
                Tensor back = Tensor.zeros(DType.F32, 4);
                comm.receive(back, comm.rank(), 3).await();
                assertThat(comm.stats().totalBytes()).isZero();
                return back.get(3);
            }
        });
        assertThat(got).containsExactly(5f, 6f);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void ringPassReturnsEveryBlockHome(int p) {
        List<float[]> got = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                int next = (comm.rank() + 1) % comm.size(), prev = (comm.rank() - 1 + comm.size()) % comm.size();
                Tensor cur = Tensor.of(new float[] {comm.rank(), comm.rank() * 2f, 0}, 3);
                Tensor nxt = Tensor.zeros(DType.F32, 3);
                float seenSum = 0;
                for (int step = 0; step < comm.size(); step++) {
                    Request r = comm.receive(nxt, prev, step);
                    comm.send(cur, next, step);
                    r.await();
                    seenSum += nxt.get(0);
                    Tensor t = cur;
                    cur = nxt;
                    nxt = t;
                }
                float[] v = cur.toFloatArray();
                v[2] = seenSum;
                return v;
            }
        });
        for (int r = 0; r < p; r++) assertThat(got.get(r)).containsExactly(r, 2f * r, p * (p - 1) / 2f);
    }

    @Test
    void sizeMismatchNamesBothSizes() {
        List<Communicator> comms = InJvmCluster.create(2, TIMEOUT);
        try (MemoryScope scope = MemoryScope.open("test")) {
            comms.get(0).send(Tensor.zeros(DType.F32, 8), 1, 0);
            Request r = comms.get(1).receive(Tensor.zeros(DType.F32, 2, 2), 0, 0);
            assertThatThrownBy(r::await).isInstanceOf(CommException.class)
                    .hasMessageContaining("receive(source 0, tag 0)")
                    .hasMessageContaining("32 bytes (F32 [8])")
                    .hasMessageContaining("16 bytes (F32 [2, 2])");
            comms.get(0).send(Tensor.zeros(DType.F32, 4), 1, 1);
            assertThatThrownBy(() -> comms.get(1).receive(Tensor.zeros(DType.BF16, 8), 0, 1).await())
                    .isInstanceOf(CommException.class).hasMessageContaining("F32 [4]").hasMessageContaining("BF16 [8]");
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    @Test
    void receiveWithNoSenderTimesOutNamingOpPeerAndTimeout() {
        List<Communicator> comms = InJvmCluster.create(2, Duration.ofMillis(300));
        try (MemoryScope scope = MemoryScope.open("test")) {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> comms.get(0).receive(Tensor.zeros(DType.F32, 2), 1, 5).await())
                    .isInstanceOf(CommException.class)
                    .hasMessageContaining("receive(source 1, tag 5)")
                    .hasMessageContaining("rank 1")
                    .hasMessageContaining("300 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(290));
            // The timed-out receive was withdrawn: a later message goes to the next receive.
            comms.get(1).send(Tensor.full(4, 2), 0, 5);
            Tensor into = Tensor.zeros(DType.F32, 2);
            comms.get(0).receive(into, 1, 5).await();
            assertThat(into.get(0)).isEqualTo(4f);
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    @Test
    void badArgumentsAreRejectedUpFront() {
        List<Communicator> comms = InJvmCluster.create(2, TIMEOUT);
        try (MemoryScope scope = MemoryScope.open("test")) {
            Communicator c = comms.get(0);
            assertThatThrownBy(() -> c.send(Tensor.zeros(DType.F32, 2), 2, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rank 2 is outside [0, 2)");
            Tensor nc = Tensor.zeros(DType.F32, 2, 3).t();
            assertThatThrownBy(() -> c.send(nc, 1, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not contiguous");
            assertThatThrownBy(() -> c.receive(nc, 1, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not contiguous");
        } finally {
            comms.forEach(Communicator::close);
        }
    }
}
