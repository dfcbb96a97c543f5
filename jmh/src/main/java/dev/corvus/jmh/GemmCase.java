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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/** One F32 GEMM on one backend; subclasses choose the backends and shapes. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx4g"})
public abstract class GemmCase {
    private MemoryScope scope;
    private Backend impl;
    private Tensor a, b, c;

    abstract String backendName();

    abstract String shapeSpec();

    @Setup(Level.Trial)
    public void setUp() {
        String[] mkn = shapeSpec().split("x");
        int m = Integer.parseInt(mkn[0]), k = Integer.parseInt(mkn[1]), n = Integer.parseInt(mkn[2]);
        impl = BenchmarkSupport.backend(backendName());
        scope = MemoryScope.detached("gemm-bench");
        a = Tensor.randn(scope, 1, 1, 1, m, k);
        b = Tensor.randn(scope, 2, 1, 1, k, n);
        c = Tensor.zeros(scope, DType.F32, 1, m, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public Tensor gemm() {
        impl.matmul(a, b, c);
        return c;
    }
}
