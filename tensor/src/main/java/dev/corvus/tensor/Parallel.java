package dev.corvus.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;

/**
 * The one thread pool kernels share, sized to the cores (or {@code -Dcorvus.threads=N}). A host
 * application that owns its threads can hand in its own {@link ForkJoinPool}.
 *
 * <p>Work is split into contiguous ranges of a task index space; the calling thread takes part.
 * A call made from inside a pool task runs serially, so nested parallel kernels never deadlock
 * nor oversubscribe.
 *
 * <p>Calls go first to a {@link SpinTeam} of {@code parallelism() - 1} threads that stay awake
 * for a while between calls, so products of tens of microseconds can be split too; when the
 * team is busy with another caller, or a host application handed in its own pool, calls take
 * that ForkJoinPool. {@code -Dcorvus.spinMicros=0} turns the team off.
 */
public final class Parallel {
    /** Runs the tasks in [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    private static volatile ForkJoinPool pool = newPool(defaultThreads());
    /** Made on the first parallel call; null after setPool (the caller's pool is used then). */
    private static volatile SpinTeam team;
    private static volatile boolean teamWanted = SpinTeam.SPIN_NANOS > 0;
    private static final ThreadLocal<Boolean> IN_TASK = ThreadLocal.withInitial(() -> false);

    private Parallel() {}

    static int defaultThreads() {
        String p = System.getProperty("corvus.threads");
        if (p != null && !p.isBlank()) {
            try {
                int n = Integer.parseInt(p.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
            throw new IllegalArgumentException("corvus.threads must be a positive integer, got '" + p + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    private static ForkJoinPool newPool(int threads) {
        return new ForkJoinPool(threads, p -> {
            var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("corvus-worker-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    /**
     * Whether a fork costs microseconds rather than a thread wake-up (the spin team is on), so
     * kernels may split work of tens of microseconds.
     */
    public static boolean cheapForks() {
        return teamWanted;
    }

    /** Threads kernels may use. */
    public static int parallelism() {
        return pool.getParallelism();
    }

    /** Replaces the shared pool (the old one is not shut down: it may belong to the caller). */
    public static void setPool(ForkJoinPool replacement) {
        if (replacement == null) throw new IllegalArgumentException("pool is null");
        synchronized (Parallel.class) {
            pool = replacement;
            closeTeam();
            teamWanted = false;
        }
    }

    /** Replaces the shared pool with a new one of {@code threads} threads. */
    public static void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        synchronized (Parallel.class) {
            ForkJoinPool old = pool;
            pool = newPool(threads);
            old.shutdown();
            closeTeam();
            teamWanted = SpinTeam.SPIN_NANOS > 0;
        }
    }

    private static void closeTeam() {
        if (team != null) team.close();
        team = null;
    }

    private static synchronized SpinTeam team(int threads) {
        if (team == null && teamWanted && threads > 1) team = new SpinTeam(threads - 1);
        return team;
    }

    /**
     * Runs {@code body} over [0, tasks) in up to {@link #parallelism()} contiguous ranges of at
     * least {@code grain} tasks each.
     */
    public static void forRange(int tasks, int grain, RangeBody body) {
        if (tasks <= 0) return;
        ForkJoinPool p = pool;
        int threads = p.getParallelism();
        int chunks = (int) Math.min(threads, Math.max(1, tasks / (long) Math.max(1, grain)));
        if (chunks <= 1 || IN_TASK.get()) {
            body.run(0, tasks);
            return;
        }
        SpinTeam spin = team;
        if (spin == null && teamWanted) spin = team(threads);
        if (spin != null && chunks <= spin.threads() && spin.run(tasks, chunks, body)) return;
        ForkJoinTask<?>[] forks = new ForkJoinTask<?>[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            forks[c - 1] = p.submit(new Range(body, split(tasks, chunks, c), split(tasks, chunks, c + 1)));
        }
        Throwable failure = null;
        try {
            runMarked(body, 0, split(tasks, chunks, 1));
        } catch (Throwable t) {
            failure = t;
        }
        for (ForkJoinTask<?> f : forks) {
            try {
                f.join();
            } catch (Throwable t) {
                if (failure == null) failure = t; else failure.addSuppressed(t);
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error err) throw err;
        if (failure != null) throw new IllegalStateException(failure);
    }

    /** Where range {@code c} of {@code chunks} over [0, tasks) starts. */
    static int split(int tasks, int chunks, int c) {
        return (int) ((long) tasks * c / chunks);
    }

    /** For threads that only ever run ranges: their own parallel calls run serially. */
    static void markWorker() {
        IN_TASK.set(true);
    }

    static void unmarkWorker() {
        IN_TASK.set(false);
    }

    static void runMarked(RangeBody body, int start, int end) {
        boolean was = IN_TASK.get();
        IN_TASK.set(true);
        try {
            body.run(start, end);
        } finally {
            IN_TASK.set(was);
        }
    }

    private static final class Range extends RecursiveAction {
        private final RangeBody body;
        private final int start;
        private final int end;

        Range(RangeBody body, int start, int end) {
            this.body = body;
            this.start = start;
            this.end = end;
        }

        @Override
        protected void compute() {
            runMarked(body, start, end);
        }
    }
}
