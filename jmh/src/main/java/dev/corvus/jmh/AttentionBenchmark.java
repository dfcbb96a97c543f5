package dev.corvus.jmh;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Flash attention (tiles, online softmax, O(N) memory), causal, d = 64, forward and backward.
 * Its same-run baseline is {@link MaterialisedAttentionBenchmark}.
 */
public class AttentionBenchmark extends AttentionCase {
    @Param({"1024", "2048", "4096", "8192", "16384"})
    public int n;

    @Param({"1"})
    public int heads;

    @Override
    int n() {
        return n;
    }

    @Override
    int heads() {
        return heads;
    }

    @Benchmark
    public void flash(Blackhole bh) {
        runFlash(bh);
    }

    /** dq, dk, dv by recomputation (the materialised baseline has no backward here). */
    @Benchmark
    public void flashBackward(Blackhole bh) {
        runFlashBackward(bh);
    }
}
