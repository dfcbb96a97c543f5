package dev.corvus.comm;

import static dev.corvus.comm.CommTesting.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * Ranks that disagree on a collective's arguments must all fail with an error naming the
 * collective and both ranks' arguments, even when the byte counts agree, and leave the group
 * usable; the MPI counterpart is {@link MpiMismatchMain}. Before signatures travelled with the
 * messages, only byte counts were compared, and [2, 3] against [3, 2], or different dims,
 * "succeeded" with scrambled results.
 */
class InJvmAgreementTest {

    private interface Call {
        void run(Communicator comm, boolean odd);
    }

    /** In each case the last rank passes something else; the strings are what every rank's message must name. */
    static Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        for (int p : new int[] {2, 3, 4}) {
            String odd = "rank " + (p - 1) + " passed ";
            all.add(Arguments.of("allReduce [2, 3] vs [3, 2]", p,
                    (Call) (c, o) -> c.allReduce(Tensor.zeros(DType.F32, o ? new int[] {3, 2} : new int[] {2, 3})),
                    new String[] {"allReduce", "rank 0 passed data F32 [2, 3]", odd + "data F32 [3, 2]"}));
            all.add(Arguments.of("allGather along different dims", p,
                    (Call) (c, o) -> c.allGather(Tensor.zeros(DType.F32, 2, 2), o ? Tensor.zeros(DType.F32, 2, 2 * p) : Tensor.zeros(DType.F32, 2 * p, 2), o ? 1 : 0),
                    new String[] {"allGather", "rank 0 passed local F32 [2, 2] along dim 0", odd + "local F32 [2, 2] along dim 1"}));
            all.add(Arguments.of("allGather, same bytes in another shape", p,
                    (Call) (c, o) -> {
                        int[] s = o ? new int[] {3, 2} : new int[] {2, 3};
                        c.allGather(Tensor.zeros(DType.F32, s), Tensor.zeros(DType.F32, p * s[0], s[1]), 0);
                    },
                    new String[] {"allGather", "rank 0 passed local F32 [2, 3] along dim 0", odd + "local F32 [3, 2] along dim 0"}));
            all.add(Arguments.of("allToAll with different shapes", p,
                    (Call) (c, o) -> {
                        int[] in = o ? new int[] {p, 3, 2} : new int[] {p, 2, 3};
                        c.allToAll(Tensor.zeros(DType.F32, in), Tensor.zeros(DType.F32, 1, in[1] * p, in[2]), 0, 1);
                    },
                    new String[] {"allToAll", "rank 0 passed in F32 [" + p + ", 2, 3] scattered along dim 0 and gathered along dim 1",
                            odd + "in F32 [" + p + ", 3, 2]"}));
            all.add(Arguments.of("reduceScatter with another dtype", p,
                    (Call) (c, o) -> {
                        DType dt = o ? DType.F16 : DType.F32;
                        c.reduceScatter(Tensor.zeros(dt, 2 * p), Tensor.zeros(dt, 2), 0);
                    },
                    new String[] {"reduceScatter", "rank 0 passed in F32 [" + 2 * p + "]", odd + "in F16 [" + 2 * p + "]"}));
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0}, P = {1}")
    @MethodSource("cases")
    void everyRankReportsTheDisagreementAndTheGroupStaysUsable(String name, int p, Call call, String[] mustName) throws Exception {
        List<Object> got = onEveryRank(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Throwable error = null;
                try {
                    call.run(comm, comm.rank() == p - 1);
                } catch (Throwable e) {
                    error = e;
                }
                // Nothing of the failed call is left in flight: the next collective pairs up.
                Tensor ones = Tensor.full(1, 5);
                comm.allReduce(ones);
                return new Object[] {error, ones.toFloatArray()};
            }
        });
        for (int r = 0; r < p; r++) {
            Object[] res = (Object[]) got.get(r);
            assertThat((Throwable) res[0]).as("rank %d", r).isInstanceOf(CommException.class);
            assertThat(((Throwable) res[0]).getMessage()).as("rank %d", r).contains(mustName).contains("no data was moved");
            assertThat((float[]) res[1]).as("rank %d's next allReduce", r).containsOnly(p);
        }
    }

    @Test
    void theOutputIsNotWrittenWhenTheRanksDisagree() throws Exception {
        List<Object> got = onEveryRank(2, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Tensor data = Tensor.full(7, comm.rank() == 0 ? new int[] {2, 3} : new int[] {3, 2});
                try {
                    comm.allReduce(data);
                } catch (CommException expected) {
                    // checked below
                }
                return data.toFloatArray();
            }
        });
        assertThat((float[]) got.get(0)).containsOnly(7);
        assertThat((float[]) got.get(1)).containsOnly(7);
    }

    @Test
    void subGroupsOfTheSameRanksInAnotherOrderAreAMismatchNotATimeout() throws Exception {
        long start = System.nanoTime();
        List<Object> got = onEveryRank(2, TIMEOUT, world -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Communicator sub = world.rank() == 0 ? world.subGroup(0, 1) : world.subGroup(1, 0);
                sub.allReduce(Tensor.full(1, 2));
                return null;
            } catch (CommException e) {
                return e;
            }
        });
        for (int r = 0; r < 2; r++) {
            assertThat(got.get(r)).as("rank %d", r).isInstanceOf(CommException.class);
            assertThat(((Throwable) got.get(r)).getMessage()).as("rank %d", r)
                    .contains("subGroup(0, 1)", "subGroup(1, 0)", "for the same ranks", "same list, in the same order")
                    .doesNotContain("timed out");
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(TIMEOUT.dividedBy(4));
    }

    @Test
    void aListedRankThatNeverCreatedTheSubGroupIsNamedInTheTimeout() throws Exception {
        List<Object> got = onEveryRank(3, Duration.ofMillis(300), world -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                // Rank 1 pairs with 2 instead of 0; rank 0 waits in a group rank 1 never joins.
                Communicator sub = world.subGroup(world.rank() == 2 ? new int[] {1, 2} : world.rank() == 1 ? new int[] {1, 2} : new int[] {0, 1});
                if (world.rank() == 0) sub.barrier();
                return null;
            } catch (CommException e) {
                return e.getMessage();
            }
        });
        assertThat((String) got.get(0)).contains("barrier on rank 0 (world rank 0) timed out after 300 ms waiting for rank 1 (world rank 1)")
                .contains("rank 1 (world rank 1) never created this sub-group");
    }

    @Test
    void aTimeoutOfAThousandYearsDoesNotOverflow() {
        Duration forever = Duration.ofDays(365L * 1000);
        List<float[]> got = InJvmCluster.run(3, forever, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                assertThat(comm.timeout()).isEqualTo(forever);
                Tensor x = Tensor.full(comm.rank() + 1, 4);
                comm.allReduce(x);
                comm.barrier();
                int next = (comm.rank() + 1) % comm.size(), prev = (comm.rank() + comm.size() - 1) % comm.size();
                Tensor got1 = Tensor.zeros(DType.F32, 1);
                Communicator.Request r = comm.receive(got1, prev, 9);
                comm.send(Tensor.full(comm.rank(), 1), next, 9);
                r.await();
                return new float[] {x.get(0), got1.get(0)};
            }
        });
        for (int r = 0; r < 3; r++) assertThat(got.get(r)).containsExactly(6, (r + 2) % 3);
        // Its largest value, too.
        List<Communicator> comms = InJvmCluster.create(1, Duration.ofSeconds(Long.MAX_VALUE));
        comms.getFirst().barrier();
        comms.getFirst().close();
    }

    private interface Body {
        Object apply(Communicator comm) throws Exception;
    }

    /**
     * Runs {@code body} on every rank of a new cluster on threads of its own, with no failure
     * propagation (unlike {@link InJvmCluster#run}), so each rank's own error can be checked.
     */
    private static List<Object> onEveryRank(int p, Duration timeout, Body body) throws Exception {
        List<Communicator> comms = InJvmCluster.create(p, timeout);
        ExecutorService pool = Executors.newFixedThreadPool(p);
        try {
            List<Future<Object>> futures = new ArrayList<>();
            for (Communicator c : comms) futures.add(pool.submit(() -> body.apply(c)));
            List<Object> out = new ArrayList<>();
            for (Future<Object> f : futures) out.add(f.get(timeout.toMillis() + 10_000, TimeUnit.MILLISECONDS));
            return out;
        } finally {
            pool.shutdownNow();
            comms.forEach(Communicator::close);
        }
    }
}
