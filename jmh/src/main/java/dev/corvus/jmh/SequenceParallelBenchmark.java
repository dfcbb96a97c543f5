package dev.corvus.jmh;

import dev.corvus.parallel.CommVolume;
import dev.corvus.parallel.RingAttention;
import dev.corvus.parallel.SequenceLayout;
import dev.corvus.parallel.StarTrailAttention;
import dev.corvus.parallel.UlyssesAttention;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.List;
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
 * One causal attention layer (forward) split over P in-JVM ranks by ring attention, StarTrail with
 * team size C, and Ulysses: time per layer, with the bytes each rank sends printed at set-up
 * (measured by the communicator and checked against {@link CommVolume}). The ranks are threads
 * sharing this machine's cores, so time shows each scheme's compute and copying overheads, not a
 * network's; the bytes are what a network would carry.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx4g"})
public class SequenceParallelBenchmark {
    /** scheme/ranks; StarTrail's team size C needs C² | P. */
    @Param({"ring/4", "startrail2/4", "ulysses/4", "ring/16", "startrail2/16", "startrail4/16", "ulysses/16"})
    public String config;

    @Param({"2048"})
    public int n;

    static final int B = 1, H = 16, D = 64;

    private String scheme;
    private int ranks, teamSize;
    private MemoryScope scope;
    private Tensor[][] shards;

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = config.split("/");
        scheme = parts[0].replaceAll("\\d", "");
        teamSize = scheme.equals("startrail") ? Integer.parseInt(parts[0].substring("startrail".length())) : 1;
        ranks = Integer.parseInt(parts[1]);
        scope = MemoryScope.detached("sp-bench");
        Tensor q = Tensor.randn(scope, 1, 1, B, H, n, D), k = Tensor.randn(scope, 2, 1, B, H, n, D), v = Tensor.randn(scope, 3, 1, B, H, n, D);
        shards = new Tensor[ranks][];
        for (int r = 0; r < ranks; r++) {
            SequenceLayout layout = switch (scheme) {
                case "ring" -> RingAttention.layout(n, r, ranks, true);
                case "startrail" -> StarTrailAttention.layout(n, r, ranks, true);
                default -> UlyssesAttention.layout(n, r, ranks);
            };
            shards[r] = new Tensor[] {copyInto(layout.shard(q, 2)), copyInto(layout.shard(k, 2)), copyInto(layout.shard(v, 2))};
        }
        List<Long> bytes = runLayer();
        CommVolume.Problem problem = new CommVolume.Problem(B, H, H, n, D, ranks);
        long model = switch (scheme) {
            case "ring" -> CommVolume.ringForward(problem);
            case "startrail" -> java.util.Arrays.stream(CommVolume.starTrailForward(problem, teamSize)).max().orElseThrow();
            default -> CommVolume.ulyssesForward(problem);
        };
        long measured = bytes.stream().mapToLong(Long::longValue).max().orElseThrow();
        System.out.printf("%n[sp] %s: P=%d C=%d n=%d bytes/rank (max) measured=%d model=%d (%.2f MiB)%n",
                scheme, ranks, teamSize, n, measured, model, measured / 1048576.0);
    }

    private Tensor copyInto(Tensor t) {
        Tensor home = Tensor.zeros(scope, t.dtype(), t.shape());
        dev.corvus.tensor.Ops.copyInto(t, home);
        return home;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    private List<Long> runLayer() {
        float scale = (float) (1 / Math.sqrt(D));
        return InJvmCluster.run(ranks, Duration.ofMinutes(5), (Communicator comm) -> {
            try (MemoryScope s = MemoryScope.open("rank")) {
                Tensor[] x = shards[comm.rank()];
                long before = comm.stats().totalBytes();
                switch (scheme) {
                    case "ring" -> RingAttention.forward(comm, x[0], x[1], x[2], true, scale);
                    case "startrail" -> StarTrailAttention.forward(comm, teamSize, x[0], x[1], x[2], true, scale);
                    default -> UlyssesAttention.forward(comm, x[0], x[1], x[2], true, scale);
                }
                return comm.stats().totalBytes() - before;
            }
        });
    }

    @Benchmark
    public List<Long> attentionLayer() {
        return runLayer();
    }
}
