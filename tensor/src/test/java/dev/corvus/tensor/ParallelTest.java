package dev.corvus.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Parallel.forRange through the spin team and the ForkJoinPool: every index once, failures kept. */
class ParallelTest {
    private static int threadsBefore;

    @BeforeAll
    static void fourThreads() {
        threadsBefore = Parallel.parallelism();
        Parallel.setThreads(4); // more than the 2 cores of CI, so ranges really interleave
    }

    @AfterAll
    static void restore() {
        Parallel.setThreads(threadsBefore);
    }

    /** Every index of [0, tasks) is run exactly once, for awkward sizes and grains. */
    @Test
    void everyIndexRunsOnce() {
        for (int tasks : new int[] {1, 2, 3, 7, 13, 97, 1024, 100_003}) {
            for (int grain : new int[] {1, 5, 64, 200_000}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(tasks);
                Parallel.forRange(tasks, grain, (s, e) -> {
                    for (int i = s; i < e; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < tasks; i++) {
                    assertEquals(1, hits.get(i), "tasks=" + tasks + " grain=" + grain + " index " + i);
                }
            }
        }
    }

    /** Many short calls in a row (the decode pattern): no lost or repeated range. */
    @Test
    void manyShortCallsInARow() {
        AtomicLong sum = new AtomicLong();
        long expected = 0;
        for (int call = 0; call < 20_000; call++) {
            int tasks = 1 + call % 37;
            Parallel.forRange(tasks, 1, (s, e) -> {
                long local = 0;
                for (int i = s; i < e; i++) local += i + 1;
                sum.addAndGet(local);
            });
            expected += (long) tasks * (tasks + 1) / 2;
        }
        assertEquals(expected, sum.get());
    }

    /** A range that throws fails the call with that exception, and the next call works. */
    @Test
    void aFailingRangeFailsTheCall() {
        for (int failing : new int[] {0, 3}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () ->
                    Parallel.forRange(4, 1, (s, end) -> {
                        if (s <= failing && failing < end) throw new IllegalStateException("range " + failing);
                    }));
            assertEquals("range " + failing, e.getMessage());
        }
        AtomicIntegerArray hits = new AtomicIntegerArray(4);
        Parallel.forRange(4, 1, (s, e) -> {
            for (int i = s; i < e; i++) hits.incrementAndGet(i);
        });
        for (int i = 0; i < 4; i++) assertEquals(1, hits.get(i));
    }

    /** A parallel call inside a range runs serially on that thread instead of deadlocking. */
    @Test
    void nestedCallsRunSerially() {
        AtomicIntegerArray hits = new AtomicIntegerArray(16 * 16);
        Parallel.forRange(16, 1, (s, e) -> {
            for (int i = s; i < e; i++) {
                int row = i;
                Parallel.forRange(16, 1, (s2, e2) -> {
                    for (int j = s2; j < e2; j++) hits.incrementAndGet(row * 16 + j);
                });
            }
        });
        for (int i = 0; i < 256; i++) assertEquals(1, hits.get(i), "index " + i);
    }

    /** Callers on several threads at once (a server's request threads) each get their ranges run. */
    @Test
    void concurrentCallersAllComplete() throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(4);
        try {
            CountDownLatch go = new CountDownLatch(1);
            Future<?>[] done = new Future<?>[4];
            for (int c = 0; c < 4; c++) {
                done[c] = callers.submit(() -> {
                    go.await();
                    for (int call = 0; call < 2_000; call++) {
                        AtomicIntegerArray hits = new AtomicIntegerArray(50);
                        Parallel.forRange(50, 1, (s, e) -> {
                            for (int i = s; i < e; i++) hits.incrementAndGet(i);
                        });
                        for (int i = 0; i < 50; i++) {
                            if (hits.get(i) != 1) throw new AssertionError("call " + call + " index " + i + ": " + hits.get(i));
                        }
                    }
                    return null;
                });
            }
            go.countDown();
            for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
        } finally {
            callers.shutdownNow();
        }
    }

    /** Idle workers park after spinning: a quiet process does not keep burning a core. */
    @Test
    void idleWorkersStopSpinning() throws Exception {
        Parallel.forRange(8, 1, (s, e) -> { });
        Thread.sleep(500 + SpinTeam.SPIN_NANOS / 1_000_000);
        boolean anyParked = false;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("corvus-spin-")) {
                Thread.State state = t.getState();
                anyParked |= state == Thread.State.WAITING || state == Thread.State.TIMED_WAITING;
                assertTrue(state != Thread.State.RUNNABLE, t.getName() + " still runnable after the spin window");
            }
        }
        assertTrue(anyParked, "no parked spin worker found");
    }
}
