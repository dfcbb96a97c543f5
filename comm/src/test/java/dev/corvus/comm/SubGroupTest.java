package dev.corvus.comm;

import static dev.corvus.comm.CommTesting.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class SubGroupTest {

    /** The WallFacer layout for P = 8, C = 2: teams {0,1},{2,3},.. and strided rings {0,2,4,6},{1,3,5,7}. */
    @Test
    void teamsAndRingsRunConcurrentlyWithoutMixing() {
        int rounds = 20;
        List<float[][]> got = InJvmCluster.run(8, TIMEOUT, world -> {
            int r = world.rank();
            Communicator team = world.subGroup(r / 2 * 2, r / 2 * 2 + 1);
            Communicator ring = world.subGroup(r % 2, r % 2 + 2, r % 2 + 4, r % 2 + 6);
            assertThat(team.rank()).isEqualTo(r % 2);
            assertThat(ring.rank()).isEqualTo(r / 2);
            assertThat(team.size()).isEqualTo(2);
            assertThat(ring.size()).isEqualTo(4);
            // Each group on its own thread, both at once, same tags in both.
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<float[]> teamWork = pool.submit(work(team, r, rounds));
                Future<float[]> ringWork = pool.submit(work(ring, r, rounds));
                float[][] res = {teamWork.get(), ringWork.get()};
                world.barrier();
                return res;
            } finally {
                pool.shutdownNow();
            }
        });
        for (int r = 0; r < 8; r++) {
            int[] team = {r / 2 * 2, r / 2 * 2 + 1};
            int[] ring = {r % 2, r % 2 + 2, r % 2 + 4, r % 2 + 6};
            assertThat(got.get(r)[0]).as("team of %d", r).containsExactly(expected(team, r, rounds));
            assertThat(got.get(r)[1]).as("ring of %d", r).containsExactly(expected(ring, r, rounds));
        }
    }

    /** Per round: allReduce of the world rank, allGather of world ranks, a ring shift with tag 0. */
    private static Callable<float[]> work(Communicator g, int worldRank, int rounds) {
        return () -> {
            try (MemoryScope scope = MemoryScope.open("group")) {
                float[] out = new float[3 + g.size()];
                for (int i = 0; i < rounds; i++) {
                    Tensor x = Tensor.full(worldRank + i, 3);
                    g.allReduce(x);
                    Tensor all = Tensor.zeros(DType.F32, g.size());
                    g.allGather(Tensor.full(worldRank, 1), all, 0);
                    Tensor recv = Tensor.zeros(DType.F32, 1);
                    var req = g.receive(recv, (g.rank() - 1 + g.size()) % g.size(), 0);
                    g.send(Tensor.full(worldRank * 10 + i, 1), (g.rank() + 1) % g.size(), 0);
                    req.await();
                    out[0] = x.get(0);
                    out[1] = recv.get(0);
                    out[2] = i;
                    System.arraycopy(all.toFloatArray(), 0, out, 3, g.size());
                }
                return out;
            }
        };
    }

    private static float[] expected(int[] members, int worldRank, int rounds) {
        int me = 0;
        while (members[me] != worldRank) me++;
        int prev = members[(me - 1 + members.length) % members.length];
        int last = rounds - 1;
        float sum = 0;
        for (int m : members) sum += m + last;
        float[] out = new float[3 + members.length];
        out[0] = sum;
        out[1] = prev * 10 + last;
        out[2] = last;
        for (int i = 0; i < members.length; i++) out[3 + i] = members[i];
        return out;
    }

    @Test
    void rankNumberingFollowsTheListAndNests() {
        List<float[]> got = InJvmCluster.run(4, TIMEOUT, world -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Communicator rev = world.subGroup(3, 2, 1, 0);
                assertThat(rev.rank()).isEqualTo(3 - world.rank());
                Tensor all = Tensor.zeros(DType.F32, 4);
                rev.allGather(Tensor.full(world.rank(), 1), all, 0);
                // A sub-group of the reversed group: its ranks 0 and 2, i.e. world ranks 3 and 1.
                if (world.rank() % 2 == 1) {
                    Communicator odd = rev.subGroup(2, 0);
                    assertThat(odd.size()).isEqualTo(2);
                    Tensor pair = Tensor.zeros(DType.F32, 2);
                    odd.allGather(Tensor.full(world.rank(), 1), pair, 0);
                    float[] a = all.toFloatArray(), b = pair.toFloatArray();
                    return new float[] {a[0], a[1], a[2], a[3], b[0], b[1]};
                }
                return all.toFloatArray();
            }
        });
        assertThat(got.get(0)).containsExactly(3, 2, 1, 0);
        assertThat(got.get(1)).containsExactly(3, 2, 1, 0, 1, 3);
        assertThat(got.get(3)).containsExactly(3, 2, 1, 0, 1, 3);
    }

    @Test
    void repeatedSubGroupsOfTheSameRanksGetSeparateMailboxes() {
        List<float[]> got = InJvmCluster.run(2, TIMEOUT, world -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Communicator a = world.subGroup(0, 1), b = world.subGroup(0, 1);
                int other = 1 - world.rank();
                b.send(Tensor.full(20 + world.rank(), 1), other, 0);
                a.send(Tensor.full(10 + world.rank(), 1), other, 0);
                Tensor ra = Tensor.zeros(DType.F32, 1), rb = Tensor.zeros(DType.F32, 1), rw = Tensor.zeros(DType.F32, 1);
                world.send(Tensor.full(30 + world.rank(), 1), other, 0);
                a.receive(ra, other, 0).await();
                world.receive(rw, other, 0).await();
                b.receive(rb, other, 0).await();
                return new float[] {ra.get(0), rb.get(0), rw.get(0)};
            }
        });
        assertThat(got.get(0)).containsExactly(11, 21, 31);
        assertThat(got.get(1)).containsExactly(10, 20, 30);
    }

    @Test
    void subGroupTrafficIsCountedInTheRootStats() {
        List<Long> bytes = InJvmCluster.run(4, TIMEOUT, world -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Communicator pair = world.subGroup(world.rank() / 2 * 2, world.rank() / 2 * 2 + 1);
                assertThat(pair.stats()).isSameAs(world.stats());
                Tensor out = Tensor.zeros(DType.F32, 2, 5);
                pair.allGather(Tensor.zeros(DType.F32, 1, 5), out, 0);     // (2-1) x 20 bytes
                world.allGather(Tensor.zeros(DType.F32, 1, 5), Tensor.zeros(DType.F32, 4, 5), 0); // (4-1) x 20
                return world.stats().bytes(OpKind.ALL_GATHER);
            }
        });
        assertThat(bytes).containsOnly(20L + 60L);
    }

    @Test
    void aRankOutsideTheListIsRejected() {
        List<Communicator> comms = InJvmCluster.create(4, TIMEOUT);
        Communicator c = comms.get(2);
        assertThatThrownBy(() -> c.subGroup(0, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("rank 2 is not in [0, 1]");
        assertThatThrownBy(() -> c.subGroup(2, 2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("twice");
        assertThatThrownBy(() -> c.subGroup(2, 4)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside [0, 4)");
        assertThatThrownBy(() -> c.subGroup()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
        comms.forEach(Communicator::close);
    }

    @Test
    void singletonSubGroupsAreFree() {
        List<Long> got = InJvmCluster.run(3, TIMEOUT, world -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Communicator me = world.subGroup(world.rank());
                Tensor x = Tensor.full(world.rank(), 4);
                me.allReduce(x);
                Tensor out = Tensor.zeros(DType.F32, 4);
                me.allGather(x, out, 0);
                me.barrier();
                assertThat(out.toFloatArray()).containsOnly((float) world.rank());
                return world.stats().totalBytes();
            }
        });
        assertThat(got).containsOnly(0L);
    }

    @Test
    void subGroupsMadePerCallAreForgottenOnceEveryMemberClosedThem() {
        List<Integer> counts = InJvmCluster.run(4, TIMEOUT, comm -> {
            for (int call = 0; call < 50; call++) {
                int[] team = comm.rank() < 2 ? new int[] {0, 1} : new int[] {2, 3};
                try (Communicator sub = comm.subGroup(team)) {
                    sub.barrier();
                }
            }
            comm.barrier();
            return ((InJvmCommunicator) comm).clusterState().groupCount();
        });
        // Only the root group is left: 100 team groups came and went.
        assertThat(counts).containsOnly(1);
    }
}
