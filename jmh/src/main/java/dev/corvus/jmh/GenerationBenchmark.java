package dev.corvus.jmh;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.ModelStore;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
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
 * TinyStories-15M (llama2.c checkpoint from the {@link ModelStore} cache, fetched if missing)
 * through {@link LlamaModel#forward}: a prefill of {@code prompt} tokens, and one decode step at
 * position {@code position} against a filled KV cache. tok/s = prompt / prefill time and
 * 1 / decode time. Baseline in the same run: the scalar backend. The backend is forced per fork
 * ({@code -Dcorvus.backend} set in setup, before the first op); Q8_0 converts the matrices at setup.
 * {@code spinMicros} is Parallel's spin team setting, also set before the first op: 200 (the
 * default) against 0, the ForkJoinPool-only dispatch before the team, as a same-run baseline
 * ({@code -p spinMicros=200,0 -p backend=vector}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx2g", "-XX:+UseParallelGC"})
public class GenerationBenchmark {
    @Param({"vector", "scalar"})
    public String backend;

    @Param({"F32", "Q8_0"})
    public String dtype;

    @Param({"64"})
    public int prompt;

    @Param({"128"})
    public int position;

    @Param({"200"})
    public String spinMicros;

    private Checkpoint checkpoint;
    private MemoryScope weightsScope;
    private LlamaModel model;
    private LlamaModel.KvCache cache;
    private int[] promptTokens;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        System.setProperty(Backends.PROPERTY, backend);
        System.setProperty("corvus.spinMicros", spinMicros);
        if (dev.corvus.tensor.Parallel.cheapForks() == spinMicros.equals("0")) {
            throw new IllegalStateException("Parallel was initialised before setup; spinMicros=" + spinMicros + " not applied");
        }
        if (!Backends.cpu().name().equals(backend)) throw new IllegalStateException("backend " + Backends.cpu().name() + " was chosen before setup");
        checkpoint = Checkpoints.load(ModelStore.defaults().stories15M().checkpoint());
        weightsScope = MemoryScope.detached("bench weights");
        LlamaWeights w = checkpoint.weights();
        if (!dtype.equals("F32")) w = convert(w, DType.valueOf(dtype), weightsScope);
        model = new LlamaModel(checkpoint.config(), w);
        cache = model.newCache();
        promptTokens = new int[Math.max(prompt, position)];
        for (int i = 0; i < promptTokens.length; i++) promptTokens[i] = 1 + (i * 7919) % 31999;
        try (MemoryScope s = MemoryScope.open("fill")) {
            model.forward(promptTokens, 0, cache);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cache.close();
        weightsScope.close();
        checkpoint.close();
    }

    /** Forward of {@code prompt} tokens from position 0 (the cache is overwritten). */
    @Benchmark
    public float prefill() {
        cache.truncate(0);
        try (MemoryScope s = MemoryScope.open("prefill")) {
            return model.forward(java.util.Arrays.copyOf(promptTokens, prompt), 0, cache).get(0);
        }
    }

    /** One token at {@code position} against a cache holding the positions before it. */
    @Benchmark
    public float decode() {
        cache.truncate(position);
        try (MemoryScope s = MemoryScope.open("decode")) {
            return model.forward(new int[] {42}, position, cache).get(0);
        }
    }

    private static LlamaWeights convert(LlamaWeights w, DType target, MemoryScope scope) {
        UnaryOperator<Tensor> f = t -> {
            Tensor out = Tensor.zeros(scope, target, t.shape());
            Ops.copyInto(t, out);
            return out;
        };
        return w.mapMatrices(f);
    }
}
