package dev.corvus.comm;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Collectives whose ranks disagree on their arguments, over MPI, one rank per process: run by
 * {@code scripts/mpi-tests.sh} as {@code mpirun -np 4 java ... MpiMismatchMain}. In each case the
 * last rank passes something different (more rows, the same bytes in another shape, another
 * dim, another dtype, another collective, arguments it refuses itself, a sub-group's ranks in
 * another order); every rank must throw a
 * {@link CommException} naming the collective, rank 0's and the odd rank's arguments, well within
 * the timeout, and the communicator must still work afterwards (nothing was moved). Before the
 * ranks exchanged their arguments, the first case crashed the JVM ({@code malloc(): invalid size})
 * and others returned stale data as success; the sub-group one hung forever in
 * MPI_Comm_create_group. Rank 0 prints one line per case and
 * "N passed, M failed"; the exit code is 1 on any failure.
 */
public final class MpiMismatchMain {
    private MpiMismatchMain() {}

    private interface Call {
        void run(Communicator comm, boolean odd);
    }

    /** One case: what every rank calls, and what its message must name. */
    private record Case(String name, Call call, Class<? extends RuntimeException> oddThrows, String... mustName) {}

    public static void main(String[] args) {
        Duration timeout = Duration.ofSeconds(Long.getLong("corvus.mpi.timeoutSeconds", 60));
        int failed;
        try (MemoryScope scope = MemoryScope.open("mpi-mismatch"); MpiCommunicator comm = MpiCommunicator.world(timeout)) {
            failed = run(comm, timeout);
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    private static int run(Communicator comm, Duration timeout) {
        int p = comm.size(), last = p - 1;
        if (p < 2) throw new IllegalStateException("MpiMismatchMain needs at least 2 ranks, got " + p);
        String odd = "rank " + last + " passed ";
        List<Case> cases = List.of(
                new Case("allGather, more rows on one rank", (c, o) -> {
                    int rows = o ? 3 : 2;
                    c.allGather(Tensor.zeros(DType.F32, rows, 4), Tensor.zeros(DType.F32, p * rows, 4), 0);
                }, null, "allGather", "rank 0 passed local F32 [2, 4] along dim 0", odd + "local F32 [3, 4] along dim 0"),
                new Case("allGather, same bytes in another shape", (c, o) -> {
                    int[] shape = o ? new int[] {3, 2} : new int[] {2, 3};
                    c.allGather(Tensor.zeros(DType.F32, shape), Tensor.zeros(DType.F32, p * shape[0], shape[1]), 0);
                }, null, "allGather", "rank 0 passed local F32 [2, 3]", odd + "local F32 [3, 2]"),
                new Case("allGather along another dim", (c, o) -> {
                    c.allGather(Tensor.zeros(DType.F32, 2, 3), o ? Tensor.zeros(DType.F32, 2, 3 * p) : Tensor.zeros(DType.F32, 2 * p, 3), o ? 1 : 0);
                }, null, "allGather", "along dim 0", odd + "local F32 [2, 3] along dim 1"),
                new Case("reduceScatter, another dtype", (c, o) -> {
                    DType dt = o ? DType.BF16 : DType.F32;
                    c.reduceScatter(Tensor.zeros(dt, 2 * p, 3), Tensor.zeros(dt, 2, 3), 0);
                }, null, "reduceScatter", "rank 0 passed in F32 [" + 2 * p + ", 3]", odd + "in BF16 [" + 2 * p + ", 3]"),
                new Case("allToAll, dims swapped", (c, o) -> {
                    int sd = o ? 1 : 0, gd = o ? 0 : 1;
                    c.allToAll(Tensor.zeros(DType.F32, p, p), o ? Tensor.zeros(DType.F32, p * p, 1) : Tensor.zeros(DType.F32, 1, p * p), sd, gd);
                }, null, "allToAll", "scattered along dim 0 and gathered along dim 1", "scattered along dim 1 and gathered along dim 0"),
                new Case("allReduce [2, 3] vs [3, 2]", (c, o) -> c.allReduce(Tensor.zeros(DType.F32, o ? new int[] {3, 2} : new int[] {2, 3})),
                        null, "allReduce", "rank 0 passed data F32 [2, 3]", odd + "data F32 [3, 2]"),
                new Case("allReduce, more elements on one rank", (c, o) -> c.allReduce(Tensor.zeros(DType.F32, o ? 5 : 4)),
                        null, "allReduce", "rank 0 passed data F32 [4]", odd + "data F32 [5]"),
                new Case("barrier on one rank, allReduce on the others", (c, o) -> {
                    if (o) c.barrier();
                    else c.allReduce(Tensor.zeros(DType.F32, 4));
                }, null, "rank 0 called allReduce", "rank " + last + " called barrier"),
                new Case("subGroup of every rank, listed in another order on one", (c, o) -> {
                    int[] ranks = new int[p];
                    for (int i = 0; i < p; i++) ranks[i] = o ? p - 1 - i : i;
                    c.subGroup(ranks).close();
                }, null, "subGroup(" + ascending(p) + ")", "subGroup(" + descending(p) + ")", "same list, in the same order"),
                new Case("arguments one rank refuses itself", (c, o) -> {
                    c.allGather(Tensor.zeros(DType.F32, 2), Tensor.zeros(DType.F32, o ? 3 : 2 * p), 0);
                }, IllegalArgumentException.class, "allGather", "rank " + last + " refused its own arguments"));

        int failures = 0;
        for (Case k : cases) {
            boolean o = comm.rank() == last;
            String problem = null, message = null;
            long start = System.nanoTime();
            try {
                k.call().run(comm, o);
                problem = "returned without an error";
            } catch (RuntimeException e) {
                message = e.getMessage();
                Class<? extends RuntimeException> want = o && k.oddThrows() != null ? k.oddThrows() : CommException.class;
                if (!want.isInstance(e)) problem = "threw " + e.getClass().getSimpleName() + ", expected " + want.getSimpleName() + ": " + message;
                else if (!(o && k.oddThrows() != null)) {
                    for (String s : k.mustName()) if (message == null || !message.contains(s)) problem = "message does not name '" + s + "': " + message;
                }
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            if (problem == null && ms > timeout.toMillis() / 2) problem = "took " + ms + " ms (timeout " + timeout.toMillis() + " ms): it waited instead of failing";
            // Nothing moved, so the group must still work.
            String after = stillWorks(comm);
            if (problem == null) problem = after;
            Tensor flags = Tensor.ofInts(new int[] {problem == null ? 0 : 1}, 1);
            comm.allReduce(flags);
            int bad = (int) flags.get(0);
            if (problem != null) System.out.println("rank " + comm.rank() + ": " + k.name() + ": " + problem);
            if (comm.rank() == 0) {
                System.out.println((bad == 0 ? "ok   " : "FAIL ") + k.name() + (bad == 0 ? "" : " (on " + bad + " ranks)") + ": " + message);
            }
            System.out.flush();
            if (bad != 0) failures++;
        }
        if (comm.rank() == 0) System.out.println((cases.size() - failures) + " passed, " + failures + " failed");
        return failures;
    }

    private static String ascending(int p) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < p; i++) b.append(i == 0 ? "" : ", ").append(i);
        return b.toString();
    }

    private static String descending(int p) {
        StringBuilder b = new StringBuilder();
        for (int i = p - 1; i >= 0; i--) b.append(i == p - 1 ? "" : ", ").append(i);
        return b.toString();
    }

    /** Null when an allReduce of ones gives the group size on this rank, else what went wrong. */
    private static String stillWorks(Communicator comm) {
        try {
            Tensor ones = Tensor.full(1, 3);
            comm.allReduce(ones);
            for (float v : ones.toFloatArray()) if (v != comm.size()) return "the group is broken afterwards: allReduce of ones gave " + v;
            return null;
        } catch (RuntimeException e) {
            return "the group is broken afterwards: " + e.getMessage();
        }
    }
}
