package dev.corvus.comm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts in-JVM clusters: {@code size} ranks that are threads of this JVM, each with its own
 * {@link InJvmCommunicator}.
 *
 * <pre>{@code
 * List<float[]> sums = InJvmCluster.run(4, Duration.ofSeconds(20), comm -> {
 *     try (MemoryScope scope = MemoryScope.open("rank")) {
 *         Tensor x = Tensor.full(comm.rank(), 8);
 *         comm.allReduce(x);
 *         return x.toFloatArray();            // copy out before the scope closes
 *     }
 * });
 * }</pre>
 *
 * Each rank's thread opens its own {@link dev.corvus.tensor.MemoryScope} if it allocates; tensors
 * never cross ranks (messages are copies).
 */
public final class InJvmCluster {
    private InJvmCluster() {}

    /** The work of one rank. */
    @FunctionalInterface
    public interface RankBody<T> {
        T apply(Communicator comm) throws Exception;
    }

    /**
     * Runs {@code body} on {@code size} new threads named {@code corvus-rank-N}, waits for all of
     * them and returns their results in rank order (nulls allowed). Each rank's communicator is
     * closed when its body returns.
     *
     * <p>If a body throws, the cluster is marked failed with that rank: the other ranks' blocked
     * and later communication calls throw a {@link RankFailureException} naming it within
     * milliseconds, and this method throws a {@link RankFailureException} "rank N failed: ..."
     * whose cause is the first failing rank's exception (the other ranks' exceptions are
     * suppressed into it). A rank still busy in computation (not communication) is given
     * {@code timeout} to finish, then interrupted and abandoned (the threads are daemons).
     *
     * @param timeout how long each blocking communication call waits before failing
     */
    public static <T> List<T> run(int size, Duration timeout, RankBody<T> body) {
        if (body == null) throw new IllegalArgumentException("InJvmCluster.run: body is null");
        List<InJvmCommunicator> comms = InJvmCommunicator.cluster(size, timeout);
        ClusterState state = comms.getFirst().clusterState();
        Object[] results = new Object[size];
        Throwable[] errors = new Throwable[size];
        Thread[] threads = new Thread[size];
        for (int r = 0; r < size; r++) {
            int rank = r;
            InJvmCommunicator comm = comms.get(r);
            threads[r] = new Thread(() -> {
                try {
                    results[rank] = body.apply(comm);
                } catch (Throwable e) {
                    errors[rank] = e;
                    state.fail(rank, e);
                } finally {
                    comm.close();
                }
            }, "corvus-rank-" + r);
            threads[r].setDaemon(true);
        }
        for (Thread t : threads) t.start();
        joinAll(threads, state, timeout);

        ClusterState.Failure f = state.failure();
        if (f == null) {
            @SuppressWarnings("unchecked")
            List<T> list = (List<T>) Collections.unmodifiableList(Arrays.asList(results));
            return list;
        }
        RankFailureException ex = new RankFailureException(f.rank(), f.message(), f.cause());
        for (int r = 0; r < size; r++) {
            if (errors[r] != null && errors[r] != f.cause()) ex.addSuppressed(errors[r]);
            if (threads[r].isAlive()) {
                ex.addSuppressed(new CommException("rank " + r + " did not finish within " + timeout.toMillis()
                        + " ms of the failure and was abandoned (interrupted)"));
            }
        }
        throw ex;
    }

    /** Joins every thread; once a rank failed, gives the rest {@code timeout}, then interrupts them. */
    private static void joinAll(Thread[] threads, ClusterState state, Duration timeout) {
        long graceEnd = Long.MAX_VALUE;
        boolean interrupted = false;
        for (Thread t : threads) {
            while (t.isAlive()) {
                if (state.failure() != null && graceEnd == Long.MAX_VALUE) graceEnd = System.nanoTime() + CollectiveArgs.timeoutNanos(timeout);
                if (graceEnd != Long.MAX_VALUE && System.nanoTime() - graceEnd >= 0) break;
                try {
                    t.join(20);
                } catch (InterruptedException e) {
                    interrupted = true;
                    for (Thread u : threads) u.interrupt();
                    state.fail(-1, new CommException("the thread running InJvmCluster.run was interrupted"));
                }
            }
        }
        if (graceEnd != Long.MAX_VALUE) {
            for (Thread t : threads) {
                if (!t.isAlive()) continue;
                t.interrupt();
                try {
                    t.join(TimeUnit.SECONDS.toMillis(1));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /**
     * The root communicators of a new cluster of {@code size} ranks, in rank order, for callers
     * that run the ranks on their own threads. Nothing marks a rank failed automatically here:
     * call {@link InJvmCommunicator#abort} from a rank that gives up (so its peers fail fast),
     * and {@code close()} each communicator when its rank is done.
     */
    public static List<Communicator> create(int size, Duration timeout) {
        return Collections.unmodifiableList(new ArrayList<>(InJvmCommunicator.cluster(size, timeout)));
    }
}
