package dev.corvus.jmh;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.MemoryStats;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Causal self-attention forward, B = 1, one head, d = 64: flash attention (tiles, online softmax,
 * O(N) memory) against materialised attention through the public op API (S = q·kᵀ, scale, causal
 * softmax, P·v: three N x N matrices live). Each invocation runs in its own MemoryScope; the
 * largest off-heap peak above the inputs is printed at the end of the trial ("peak extra bytes").
 *
 * <p>The materialised baseline is refused above N = 8192: at 16K each N x N F32 matrix is 1 GiB
 * and it holds three (3 GiB off-heap), and it would take minutes per iteration.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx2g"})
public class AttentionBenchmark {
    static final int D = 64;
    static final long MATERIALISED_MAX_N = 8192;

    @Param({"1024", "2048", "4096", "8192", "16384"})
    public int n;

    @Param({"1"})
    public int heads;

    private MemoryScope inputs;
    private Tensor q, k, v, dOut;
    private FlashAttention.Result forward;
    private float scale;
    private long peakExtra;

    @Setup(Level.Trial)
    public void setUp() {
        inputs = MemoryScope.detached("attention-bench");
        q = Tensor.randn(inputs, 1, 1, 1, heads, n, D);
        k = Tensor.randn(inputs, 2, 1, 1, heads, n, D);
        v = Tensor.randn(inputs, 3, 1, 1, heads, n, D);
        dOut = Tensor.randn(inputs, 4, 1, 1, heads, n, D);
        scale = (float) (1 / Math.sqrt(D));
        // No scope is open on this thread, so out and lse land in q's scope (inputs).
        forward = FlashAttention.forward(q, k, v, Mask.causalBottomRight(n, n), scale);
        peakExtra = 0;
        System.out.println("\nbackend " + Backends.cpu().name() + ", tiles " + Backends.cpu().tiles().getClass().getSimpleName());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        System.out.printf(Locale.ROOT, "%npeak extra bytes (N=%d): %d (%.1f MiB)%n", n, peakExtra, peakExtra / 1048576.0);
        inputs.close();
    }

    private long start() {
        MemoryStats.resetPeak();
        return MemoryStats.liveBytes();
    }

    private void finish(long before) {
        peakExtra = Math.max(peakExtra, MemoryStats.peakBytes() - before);
    }

    @Benchmark
    public void flash(Blackhole bh) {
        long before = start();
        try (MemoryScope s = MemoryScope.open("flash")) {
            FlashAttention.Result r = FlashAttention.forward(q, k, v, Mask.causalBottomRight(n, n), scale);
            bh.consume(r.out().segment());
        }
        finish(before);
    }

    /** dq, dk, dv by recomputation (for reference; the materialised baseline has no backward here). */
    @Benchmark
    public void flashBackward(Blackhole bh) {
        long before = start();
        try (MemoryScope s = MemoryScope.open("flash-backward")) {
            FlashAttention.Gradients g = FlashAttention.backward(q, k, v, forward.out(), forward.lse(), dOut,
                    Mask.causalBottomRight(n, n), scale);
            bh.consume(g.dq().segment());
        }
        finish(before);
    }

    @Benchmark
    public void materialised(Blackhole bh) {
        if (n > MATERIALISED_MAX_N) {
            throw new IllegalStateException("materialised attention is skipped above N = " + MATERIALISED_MAX_N
                    + ": three N x N F32 matrices would take " + (3L * n * n * 4 >> 20) + " MiB");
        }
        long before = start();
        try (MemoryScope s = MemoryScope.open("materialised")) {
            Tensor scores = Ops.scale(Ops.matmul(q, k.t()), scale);
            Tensor out = Ops.matmul(Ops.causalSoftmax(scores), v);
            bh.consume(out.segment());
        }
        finish(before);
    }
}
