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
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Causal self-attention, B = 1, d = 64, inputs and bookkeeping shared by {@link AttentionBenchmark}
 * (flash) and {@link MaterialisedAttentionBenchmark} (its baseline). Each invocation runs in its
 * own MemoryScope; the largest off-heap peak above the inputs is printed at the end of the trial
 * ("peak extra bytes").
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx2g"})
public abstract class AttentionCase {
    static final int D = 64;

    abstract int n();

    abstract int heads();

    /** The sequence length and head count of this trial (from the subclass's parameters). */
    int length;
    private int headCount;
    private MemoryScope inputs;
    private Tensor q, k, v, dOut;
    private FlashAttention.Result forward;
    private float scale;
    private long peakExtra;

    @Setup(Level.Trial)
    public void setUp() {
        length = n();
        headCount = heads();
        inputs = MemoryScope.detached("attention-bench");
        q = Tensor.randn(inputs, 1, 1, 1, headCount, length, D);
        k = Tensor.randn(inputs, 2, 1, 1, headCount, length, D);
        v = Tensor.randn(inputs, 3, 1, 1, headCount, length, D);
        dOut = Tensor.randn(inputs, 4, 1, 1, headCount, length, D);
        scale = (float) (1 / Math.sqrt(D));
        // No scope is open on this thread, so out and lse land in q's scope (inputs).
        forward = FlashAttention.forward(q, k, v, Mask.causalBottomRight(length, length), scale);
        peakExtra = 0;
        System.out.println("\nbackend " + Backends.cpu().name() + ", tiles " + Backends.cpu().tiles().getClass().getSimpleName());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        System.out.printf(Locale.ROOT, "%npeak extra bytes (N=%d): %d (%.1f MiB)%n", length, peakExtra, peakExtra / 1048576.0);
        inputs.close();
    }

    long start() {
        MemoryStats.resetPeak();
        return MemoryStats.liveBytes();
    }

    void finish(long before) {
        peakExtra = Math.max(peakExtra, MemoryStats.peakBytes() - before);
    }

    void runFlash(Blackhole bh) {
        long before = start();
        try (MemoryScope s = MemoryScope.open("flash")) {
            FlashAttention.Result r = FlashAttention.forward(q, k, v, Mask.causalBottomRight(length, length), scale);
            bh.consume(r.out().segment());
        }
        finish(before);
    }

    void runFlashBackward(Blackhole bh) {
        long before = start();
        try (MemoryScope s = MemoryScope.open("flash-backward")) {
            FlashAttention.Gradients g = FlashAttention.backward(q, k, v, forward.out(), forward.lse(), dOut,
                    Mask.causalBottomRight(length, length), scale);
            bh.consume(g.dq().segment());
        }
        finish(before);
    }

    void runMaterialised(Blackhole bh) {
        long before = start();
        try (MemoryScope s = MemoryScope.open("materialised")) {
            Tensor scores = Ops.scale(Ops.matmul(q, k.t()), scale);
            Tensor out = Ops.matmul(Ops.causalSoftmax(scores), v);
            bh.consume(out.segment());
        }
        finish(before);
    }
}
