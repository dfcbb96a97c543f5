package dev.corvus.jmh;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.vector.Gemm;
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
 * Prefill's {@code linear}: y [rows, N] = x [rows, K] · Wᵀ with W [N, K] stored as F32 or a GGUF
 * quantised type; GFLOP/s = 2·rows·N·K / time. {@code path=vector} is the backend product that
 * {@code Ops.linear} runs on the vector backend (the small-m path above 8 rows); {@code path=packed} is the
 * previous path ({@link Gemm#gemmWeightsPacked}, which transposes the weights into GotoBLAS
 * panels), the same-run baseline. numpy's F32 matmul on the same shapes is the external baseline:
 * {@code jmh/linear-vs-numpy.sh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx6g"})
public class LinearBenchmark {
    @Param({"vector", "packed"})
    public String path;

    @Param({"F32", "Q8_0", "Q4_K"})
    public String dtype;

    /** Weight shape N x K. */
    @Param({"8192x2048", "2048x8192"})
    public String weight;

    @Param({"16", "64", "128", "512"})
    public int rows;

    private MemoryScope scope;
    private Backend impl;
    private Tensor x, w, wt, y;
    private int n, k;

    @Setup(Level.Trial)
    public void setUp() {
        String[] nk = weight.split("x");
        n = Integer.parseInt(nk[0]);
        k = Integer.parseInt(nk[1]);
        scope = MemoryScope.detached("linear-bench");
        impl = BenchmarkSupport.backend("vector");
        x = Tensor.randn(scope, 1, 1f, 1, rows, k);
        w = BenchmarkSupport.randomWeight(scope, DType.valueOf(dtype), n, k);
        wt = w.t().unsqueeze(0);
        y = Tensor.zeros(scope, DType.F32, 1, rows, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public Tensor linear() {
        if (path.equals("packed")) {
            Gemm.gemmWeightsPacked(rows, n, k, x.segment(), x.byteOffset(), k, 1,
                    w.dtype(), w.segment(), w.byteOffset(), y.segment(), y.byteOffset(), n);
            return y;
        }
        impl.matmul(x, wt, y); // what Ops.linear runs, minus allocating y
        return y;
    }
}
