package dev.corvus.comm;

import java.time.Duration;
import java.util.SplittableRandom;

/** Shared inputs for the communicator tests. */
final class CommTesting {
    private CommTesting() {}

    /** Generous: tests never wait for it unless they test timeouts. */
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    static final int[] SIZES = {1, 2, 3, 4, 8};

    /** Deterministic values in [-2, 2) for rank {@code rank}'s input {@code which}. */
    static float[] data(int rank, int which, int n) {
        SplittableRandom r = new SplittableRandom(1000L * which + rank + 17);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 4 - 2);
        return v;
    }

    static int numel(int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        return n;
    }
}
