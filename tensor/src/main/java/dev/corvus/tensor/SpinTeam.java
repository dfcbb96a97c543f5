package dev.corvus.tensor;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Worker threads that stay awake between short parallel calls, for {@link Parallel#forRange}.
 *
 * <p>Why: a decode step of a small model is a few dozen products of 50-150 us each. Handing
 * one of them to a parked ForkJoinPool worker costs a futex wake-up, which on a VM often takes
 * as long as the product, so such products ran on one thread (below Gemm's PARALLEL_FLOPS).
 * OpenMP (llama2.c) and llama.cpp's thread pool spin between parallel regions instead. Here
 * each worker watches the job field for {@link #SPIN_NANOS} after its last job (spinning, then
 * yielding its core between checks), then parks;
 * the caller runs the first range itself, then any range no worker has claimed, and waits for
 * the claimed ones by spinning, then yielding.
 *
 * <p>One caller at a time owns the team (a compare-and-set); a second thread that calls at
 * the same moment, or any nested call, gets {@code false} from {@link #run} and takes
 * Parallel's ForkJoinPool path or runs serially.
 */
final class SpinTeam {
    /** How long an idle worker spins before parking ({@code -Dcorvus.spinMicros}, 0 = never spins). */
    static final long SPIN_NANOS = Long.getLong("corvus.spinMicros", 200L) * 1_000L;
    /**
     * How long a waiting thread (an idle worker, or a caller waiting for a claimed range) spins
     * on the CPU before it calls Thread.yield between checks. Yielding lets the JIT's compiler
     * threads run: on 2 cores, workers that only spun for their whole 200 us slowed the main job
     * (`corvus generate`, a cold JVM) from 2.76 to 3.14 s wall and its decode from 147 to 123
     * tok/s (medians of 3, AMD EPYC VM, 2026-12-04), while a warm decode gained.
     */
    private static final long HOT_SPIN_NANOS = 5_000L;

    /** Published between calls, so a worker never holds on to the last job's lambda. */
    private static final Job IDLE = new Job(null, 0, 0);

    private final Worker[] workers;
    private final AtomicBoolean owned = new AtomicBoolean();
    /** The job being run, or IDLE; workers wait for it to change. */
    private volatile Job job = IDLE;
    private volatile boolean closed;

    /**
     * One call's work: range 0 is the caller's, ranges 1.. go to whoever claims them first. A
     * caller done with its own range claims the rest itself, so a worker the OS has not
     * scheduled (a loaded machine) delays nothing it has not started, as with a ForkJoinPool's
     * join. Immutable but for its counters, so a late worker reads a consistent job.
     */
    private static final class Job {
        final Parallel.RangeBody body;
        final int tasks;
        final int chunks;
        final AtomicInteger next = new AtomicInteger(1);
        final AtomicInteger finished = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(Parallel.RangeBody body, int tasks, int chunks) {
            this.body = body;
            this.tasks = tasks;
            this.chunks = chunks;
        }

        /** Runs unclaimed ranges until none is left. */
        void claimAndRun() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    body.run(Parallel.split(tasks, chunks, c), Parallel.split(tasks, chunks, c + 1));
                } catch (Throwable t) {
                    if (!failure.compareAndSet(null, t)) failure.get().addSuppressed(t);
                } finally {
                    finished.incrementAndGet();
                }
            }
        }
    }

    /** A team of {@code size} workers beside the calling thread. */
    SpinTeam(int size) {
        workers = new Worker[size];
        for (int i = 0; i < size; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].start();
        }
    }

    /** Threads a call can use: the workers and the caller. */
    int threads() {
        return workers.length + 1;
    }

    /**
     * Runs {@code body} over [0, tasks) in {@code chunks} contiguous ranges (2 &lt;= chunks &lt;=
     * threads()), the first on the calling thread. Returns false, having run nothing, when the
     * team is busy with another caller's job or closed.
     */
    boolean run(int tasks, int chunks, Parallel.RangeBody body) {
        if (closed || !owned.compareAndSet(false, true)) return false;
        try {
            Job j = new Job(body, tasks, chunks);
            job = j;
            for (int w = 0; w < chunks - 1; w++) workers[w].wake();
            Throwable own = null;
            try {
                Parallel.runMarked(body, 0, Parallel.split(tasks, chunks, 1));
            } catch (Throwable t) {
                own = t;
            }
            Parallel.markWorker();
            try {
                j.claimAndRun();
            } finally {
                Parallel.unmarkWorker();
            }
            awaitWorkers(j);
            job = IDLE;
            Throwable theirs = j.failure.get();
            if (own == null) own = theirs; else if (theirs != null) own.addSuppressed(theirs);
            if (own instanceof RuntimeException re) throw re;
            if (own instanceof Error err) throw err;
            if (own != null) throw new IllegalStateException(own);
            return true;
        } finally {
            owned.set(false);
        }
    }

    private static void awaitWorkers(Job j) {
        long start = System.nanoTime();
        while (j.finished.get() < j.chunks - 1) {
            if (System.nanoTime() - start < HOT_SPIN_NANOS) Thread.onSpinWait(); else Thread.yield();
        }
    }

    /** Stops the workers once they finish what they run now. */
    void close() {
        closed = true;
        for (Worker w : workers) LockSupport.unpark(w);
    }

    private final class Worker extends Thread {
        private volatile boolean parked;

        Worker(int index) {
            super("corvus-spin-" + index);
            setDaemon(true);
        }

        void wake() {
            if (parked) LockSupport.unpark(this);
        }

        @Override
        public void run() {
            Parallel.markWorker();
            Job seen = IDLE;
            while (!closed) {
                Job j = awaitJob(seen);
                seen = j;
                if (j != IDLE) j.claimAndRun();
            }
        }

        /** Spins, then parks, until the job differs from {@code seen} or the team closes. */
        private Job awaitJob(Job seen) {
            long start = System.nanoTime();
            Job j;
            while ((j = job) == seen && !closed) {
                long waited = System.nanoTime() - start;
                if (waited < HOT_SPIN_NANOS) {
                    Thread.onSpinWait();
                } else if (waited < SPIN_NANOS) {
                    Thread.yield();
                } else {
                    parked = true;
                    // Re-check after announcing: a caller that published before it could see
                    // parked set did not unpark us, but then job has changed already.
                    if (job == seen && !closed) LockSupport.park(this);
                    parked = false;
                    start = System.nanoTime();
                }
            }
            return j;
        }
    }
}
