package dev.corvus.jmh;

import dev.corvus.chunking.AutoChunk;
import dev.corvus.chunking.ChunkRegion;
import dev.corvus.chunking.ChunkedProgram;
import dev.corvus.chunking.ChunkTimeModel;
import dev.corvus.chunking.Execution;
import dev.corvus.chunking.Graph;
import dev.corvus.chunking.models.ModelCase;
import dev.corvus.tensor.MemoryScope;
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
 * AutoChunk on the three model families ({@link ModelCase}): one forward pass of the traced
 * graph, unchunked ({@code budget = 1}, the baseline) and compiled for 50%, 20% and 10% of the
 * unchunked estimated activation peak. Time is JMH's; the activation peak measured by the
 * executor's allocator, with the estimate and the plan, is printed at the end of each trial as an
 * "AutoChunk row" line, with the executor pool's footprint (the most it held at once: live buffers plus
 * small recycled ones). A budget the compiler cannot reach fails that trial's setup with the
 * compiler's message (run with {@code -foe false}, the default, so the others go on).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx2g", "-XX:+UseParallelGC"})
public class AutoChunkBenchmark {
    /** name/length, see {@link ModelCase}. */
    @Param({"transformer-materialised/2048", "transformer-materialised/4096", "transformer-flash/16384", "evoformer/128", "evoformer/256", "vit/1024",
            "vit/4096"})
    public String model;

    /** Budget as a fraction of the unchunked estimated peak; 1 runs the graph unchunked. */
    @Param({"1", "0.5", "0.2", "0.1"})
    public double budget;

    /**
     * How each stage picks its region: the cost model's least predicted slowdown (the default), or
     * ColossalAI's fewest looped nodes ({@code -p selection=FEWEST_NODES}) as the baseline.
     */
    @Param({"LEAST_SLOWDOWN"})
    public String selection;

    private MemoryScope scope;
    private ChunkedProgram program;
    private Tensor x;
    private long measuredPeak;
    private long reserved;

    @Setup(Level.Trial)
    public void setUp() {
        ModelCase c = ModelCase.parse(model);
        scope = MemoryScope.detached("autochunk-bench");
        Graph g = c.trace(scope);
        ChunkedProgram plain = AutoChunk.unchunked(g);
        program = budget >= 1 ? plain
                : AutoChunk.compile(g, (long) (plain.estimatedPeakBytes() * budget), ChunkTimeModel.measured(), AutoChunk.Selection.valueOf(selection));
        x = c.input(scope);
        measuredPeak = 0;
        reserved = 0;
        System.out.print("\n" + program.explain().lines().filter(l -> !l.startsWith("    ")).map(l -> l + "\n").reduce("", String::concat));
    }

    @Benchmark
    public void forward(Blackhole bh) {
        try (Execution run = program.run(x)) {
            bh.consume(run.output(0).segment());
            measuredPeak = Math.max(measuredPeak, run.peakBytes());
            reserved = Math.max(reserved, run.footprintBytes());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        long unchunked = program.unchunkedPeakBytes();
        int iterations = 0;
        for (ChunkRegion r : program.regions()) iterations += r.iterations();
        System.out.printf(Locale.ROOT, "%nAutoChunk row | %s | budget %s | %s | unchunked %.1f MiB | estimated %.1f MiB | measured %.1f MiB | reduction %.1f%% | pool footprint %.1f MiB | %d regions, %d iterations | predicted %.3fx%n",
                model, budget >= 1 ? "none" : budget, selection, mib(unchunked), mib(program.estimatedPeakBytes()), mib(measuredPeak),
                100.0 * (1 - (double) measuredPeak / unchunked), mib(reserved), program.regions().size(), iterations, program.predictedSlowdown());
        scope.close();
    }

    static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }
}
