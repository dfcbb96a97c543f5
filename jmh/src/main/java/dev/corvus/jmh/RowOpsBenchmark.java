package dev.corvus.jmh;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
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
 * Softmax and RMSNorm over [rows, cols] on the Vector API backend against the scalar one in the
 * same run. GB/s = 8·rows·cols / time (one read, one write of each float).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx4g"})
public class RowOpsBenchmark {
    @Param({"vector", "scalar"})
    public String backend;

    /** rows x cols: attention scores of one head at 1K/4K keys, a model's hidden state. */
    @Param({"1024x1024", "256x4096", "512x4096"})
    public String shape;

    private MemoryScope scope;
    private Backend impl;
    private Tensor x, y, w;

    @Setup(Level.Trial)
    public void setUp() {
        String[] rc = shape.split("x");
        int rows = Integer.parseInt(rc[0]), cols = Integer.parseInt(rc[1]);
        impl = BenchmarkSupport.backend(backend);
        scope = MemoryScope.detached("rowops-bench");
        x = Tensor.randn(scope, 1, 1, rows, cols);
        y = Tensor.zeros(scope, DType.F32, rows, cols);
        w = Tensor.randn(scope, 2, 1, cols);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public Tensor softmax() {
        impl.softmax(x, y, 1, false, false);
        return y;
    }

    @Benchmark
    public Tensor rmsnorm() {
        impl.rmsnorm(x, w, 1e-5f, y);
        return y;
    }
}
