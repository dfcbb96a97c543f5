package dev.corvus.jmh;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.vector.Gemm;
import dev.corvus.vector.PreviousQuantDots;
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
 * Decode-time GEMV y = W·x with W [N, K] stored as F32, F16, BF16 or a GGUF quantised type, read as
 * stored — memory bound: GB/s = weight bytes / time (a Q4_K row is 144/256 bytes per weight). Baselines in the same run: the scalar backend ({@code backend=scalar})
 * and {@link BandwidthBenchmark}, which streams the same bytes with nothing but loads and adds.
 * {@code backend=vector-float} is the vector backend's previous quantised GEMV, decoding blocks to
 * floats and dotting them with the activations as given, kept as the same-run baseline of the
 * integer dot products ({@code vector}) that quantise the activations to 8 bits first.
 * {@code -p backend=vector-previous} (asked for by name; quantised types only) is the integer path
 * before the single-row kernels were reworked, a benchmark-only copy
 * ({@code dev.corvus.vector.PreviousQuantDots}): their same-run baseline.
 * {@code rows} activation rows share each pass over the weights (decode of a few tokens at once).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx4g"})
public class GemvBenchmark {
    @Param({"vector", "vector-float", "scalar"})
    public String backend;

    @Param({"1"})
    public int rows;

    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    public String dtype;

    @Param({"4096"})
    public int n;

    private MemoryScope scope;
    private Backend impl;
    private Tensor x, w, wt, y;
    private float[] xRows;

    @Setup(Level.Trial)
    public void setUp() {
        impl = BenchmarkSupport.backend(backend.startsWith("vector") ? "vector" : backend);
        scope = MemoryScope.detached("gemv-bench");
        x = Tensor.randn(scope, 1, 1, 1, rows, n);
        w = BenchmarkSupport.randomWeight(scope, DType.valueOf(dtype), n, n);
        wt = w.t().unsqueeze(0);
        y = Tensor.zeros(scope, DType.F32, 1, rows, n);
        xRows = x.toFloatArray();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public Tensor gemv() {
        if (backend.equals("vector-float")) {
            Gemm.gemmWeightsFloatActivations(rows, n, n, x.segment(), x.byteOffset(), n, 1,
                    w.dtype(), w.segment(), w.byteOffset(), y.segment(), y.byteOffset(), n);
            return y;
        }
        if (backend.equals("vector-previous")) {
            // As Gemm hands rows to the integer path: copied out of the activation tensor.
            PreviousQuantDots.gemv(rows, n, n, xRows.clone(), w.dtype(), w.segment(), w.byteOffset(), w.dtype().byteSize(n),
                    y.segment(), y.byteOffset(), n);
            return y;
        }
        impl.matmul(x, wt, y);
        return y;
    }
}
