package dev.corvus.comm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The MPI communicator in this JVM alone: a plain {@code java} start is an MPI job of size 1
 * (Open MPI's singleton mode). The multi-process checks run under mpirun in
 * {@code scripts/mpi-tests.sh}. Skipped when libmpi is not installed.
 */
class MpiCommunicatorTest {
    private static String unavailable;

    @BeforeAll
    static void loadMpi() {
        try {
            Mpi.get();
        } catch (CommException e) {
            unavailable = e.getMessage();
        }
    }

    private static MpiCommunicator world(Duration timeout) {
        assumeTrue(unavailable == null, () -> "Open MPI not installed: " + unavailable);
        assumeTrue(!Communicators.launchedByMpi(), "runs as a singleton, not under mpirun");
        return MpiCommunicator.world(timeout);
    }

    @Test
    void aMissingLibraryNamesWhatToInstall() {
        assertThatThrownBy(() -> Mpi.load("libmpi-missing-for-test.so.99"))
                .isInstanceOf(CommException.class)
                .hasMessageContaining("cannot load libmpi-missing-for-test.so.99")
                .hasMessageContaining("apt-get install -y openmpi-bin libopenmpi-dev");
    }

    @Test
    void aPlainJavaStartIsAWorldOfOneAndCollectivesAreIdentities() {
        try (MpiCommunicator comm = world(Duration.ofSeconds(10)); MemoryScope s = MemoryScope.open()) {
            assertThat(comm.rank()).isZero();
            assertThat(comm.size()).isEqualTo(1);
            Tensor x = Tensor.randn(1, 2, 3, 4);
            float[] want = x.toFloatArray();

            Tensor gathered = Tensor.zeros(DType.F32, 2, 3, 4);
            comm.allGather(x, gathered, 1);
            assertThat(gathered.toFloatArray()).containsExactly(want);

            Tensor scattered = Tensor.zeros(DType.F32, 2, 3, 4);
            comm.reduceScatter(x, scattered, 2);
            assertThat(scattered.toFloatArray()).containsExactly(want);

            Tensor swapped = Tensor.zeros(DType.F32, 2, 3, 4);
            comm.allToAll(x, swapped, 2, 0);
            assertThat(swapped.toFloatArray()).containsExactly(want);

            Tensor half = x.to(DType.BF16);
            float[] halfWant = half.toFloatArray();
            comm.allReduce(half);
            assertThat(half.toFloatArray()).containsExactly(halfWant);
            comm.barrier();

            Tensor got = Tensor.zeros(DType.F32, 2, 3, 4);
            Communicator.Request r = comm.receive(got, 0, 5);
            comm.send(x, 0, 5).await();
            r.await();
            assertThat(got.toFloatArray()).containsExactly(want);
            assertThat(comm.stats().totalBytes()).as("nothing leaves a world of one").isZero();

            try (Communicator sub = comm.subGroup(0)) {
                assertThat(sub.size()).isEqualTo(1);
                assertThat(sub.stats()).isSameAs(comm.stats());
                sub.barrier();
            }
            assertThatThrownBy(() -> comm.subGroup(1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside [0, 1)");
        }
    }

    @Test
    void aReceiveNobodySendsTimesOutNamingTheOperationPeerAndTimeout() {
        try (MpiCommunicator comm = world(Duration.ofMillis(300)); MemoryScope s = MemoryScope.open()) {
            Communicator.Request r = comm.receive(Tensor.zeros(DType.F32, 4), 0, 77);
            long start = System.nanoTime();
            assertThatThrownBy(r::await).isInstanceOf(CommException.class)
                    .hasMessage("receive(source 0, tag 77) on rank 0 timed out after 300 ms waiting for rank 0");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            // A cancelled receive leaves the communicator usable.
            comm.barrier();
        }
    }

    @Test
    void aTimeoutOfAThousandYearsDoesNotOverflow() {
        Duration forever = Duration.ofDays(365L * 1000);
        try (MpiCommunicator comm = world(forever); MemoryScope s = MemoryScope.open()) {
            assertThat(comm.timeout()).isEqualTo(forever);
            Tensor got = Tensor.zeros(DType.F32, 2);
            Communicator.Request r = comm.receive(got, 0, 4);
            comm.send(Tensor.full(3, 2), 0, 4).await();
            r.await();
            comm.barrier();
            assertThat(got.toFloatArray()).containsExactly(3, 3);
        }
    }

    @Test
    void aMessageOfTheWrongSizeIsReported() {
        try (MpiCommunicator comm = world(Duration.ofSeconds(5)); MemoryScope s = MemoryScope.open()) {
            Communicator.Request r = comm.receive(Tensor.zeros(DType.F32, 4), 0, 3);
            comm.send(Tensor.zeros(DType.F32, 2), 0, 3).await();
            assertThatThrownBy(r::await).isInstanceOf(CommException.class)
                    .hasMessageContaining("the message from rank 0 holds 8 bytes but the receiving tensor has 16 bytes");
        }
    }

    @Test
    void selectionFollowsThePropertyThenTheLauncher() {
        String old = System.getProperty("corvus.comm");
        try {
            System.setProperty("corvus.comm", "local");
            assertThat(Communicators.choice()).isEqualTo("local");
            System.setProperty("corvus.comm", "MPI");
            assertThat(Communicators.choice()).isEqualTo("mpi");
            System.setProperty("corvus.comm", "nccl");
            assertThatThrownBy(Communicators::choice).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected mpi or local");
            System.clearProperty("corvus.comm");
            assertThat(Communicators.choice()).isEqualTo(Communicators.launchedByMpi() ? "mpi" : "local");
        } finally {
            if (old == null) System.clearProperty("corvus.comm"); else System.setProperty("corvus.comm", old);
        }
    }
}
