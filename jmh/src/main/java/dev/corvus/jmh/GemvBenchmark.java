package dev.corvus.jmh;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
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

/**
 * Decode-time GEMV y = W·x with W [N, K] stored as F32, F16, BF16 or Q8_0 — memory bound: GB/s =
 * weight bytes / time. Baselines in the same run: the scalar backend ({@code backend=scalar})
 * and {@link BandwidthBenchmark}, which streams the same bytes with nothing but loads and adds.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx4g"})
public class GemvBenchmark {
    @Param({"vector", "scalar"})
    public String backend;

    @Param({"F32", "F16", "BF16", "Q8_0"})
    public String dtype;

    @Param({"4096"})
    public int n;

    private MemoryScope scope;
    private Backend impl;
    private Tensor x, wt, y;

    @Setup(Level.Trial)
    public void setUp() {
        impl = BenchmarkSupport.backend(backend);
        scope = MemoryScope.detached("gemv-bench");
        x = Tensor.randn(scope, 1, 1, 1, 1, n);
        Tensor w32 = Tensor.randn(scope, 2, 0.05f, n, n);
        Tensor w = Tensor.zeros(scope, DType.valueOf(dtype), n, n);
        Ops.copyInto(w32, w);
        wt = w.t().unsqueeze(0);
        y = Tensor.zeros(scope, DType.F32, 1, 1, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public Tensor gemv() {
        impl.matmul(x, wt, y);
        return y;
    }
}
