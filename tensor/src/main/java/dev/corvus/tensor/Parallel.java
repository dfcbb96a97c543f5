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
 */
public final class Parallel {
    /** Runs the tasks in [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    private static volatile ForkJoinPool pool = newPool(defaultThreads());
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

    /** Threads kernels may use. */
    public static int parallelism() {
        return pool.getParallelism();
    }

    /** Replaces the shared pool (the old one is not shut down: it may belong to the caller). */
    public static void setPool(ForkJoinPool replacement) {
        if (replacement == null) throw new IllegalArgumentException("pool is null");
        pool = replacement;
    }

    /** Replaces the shared pool with a new one of {@code threads} threads. */
    public static void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        ForkJoinPool old = pool;
        pool = newPool(threads);
        old.shutdown();
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
        ForkJoinTask<?>[] forks = new ForkJoinTask<?>[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            int start = (int) ((long) tasks * c / chunks);
            int end = (int) ((long) tasks * (c + 1) / chunks);
            forks[c - 1] = p.submit(new Range(body, start, end));
        }
        Throwable failure = null;
        try {
            runMarked(body, 0, (int) ((long) tasks / chunks));
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

    private static void runMarked(RangeBody body, int start, int end) {
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
