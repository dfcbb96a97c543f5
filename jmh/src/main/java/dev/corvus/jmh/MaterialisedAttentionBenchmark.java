package dev.corvus.jmh;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The baseline for {@link AttentionBenchmark}: attention materialised through the public op API
 * (S = q·kᵀ, scale, causal softmax, P·v; three N x N matrices live). Stops at N = 8192: at 16K
 * each N x N F32 matrix is 1 GiB and it holds three.
 */
public class MaterialisedAttentionBenchmark extends AttentionCase {
    @Param({"1024", "2048", "4096", "8192"})
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
    public void materialised(Blackhole bh) {
        runMaterialised(bh);
    }
}
