package dev.corvus.jmh;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.train.AdamW;
import dev.corvus.train.Parameter;
import dev.corvus.train.Parameters;
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
 * One AdamW update and one global gradient norm over {@code elements} F32 parameters, on the
 * Vector API loops or the scalar ones. The loops pick theirs once, from the CPU backend, so each
 * {@code backend} sets {@code corvus.backend} in its own fork (JMH forks every parameter
 * combination) before anything selects a backend. GB/s of the update = 28·elements / time (p, m, v
 * read and written, g read).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx4g"})
public class AdamWBenchmark {
    @Param({"vector", "scalar"})
    public String backend;

    /** A million, and stories15M's size (15.2M parameters). */
    @Param({"1000000", "15200000"})
    public int elements;

    private Parameters parameters;
    private AdamW adam;

    @Setup(Level.Trial)
    public void setUp() {
        System.setProperty("corvus.backend", backend);
        parameters = Parameters.empty();
        try (MemoryScope scope = MemoryScope.open("adamw-bench setup")) {
            Parameter p = parameters.add("w", Tensor.randn(scope, 1, 0.02f, elements), true);
            Ops.copyInto(Tensor.randn(scope, 2, 1f, elements), p.grad());
        }
        adam = new AdamW(parameters, AdamW.Options.defaults());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        adam.close();
        parameters.close();
    }

    @Benchmark
    public long update() {
        adam.update(1e-4f);
        return adam.step();
    }

    @Benchmark
    public double gradNorm() {
        return parameters.gradNorm();
    }
}
