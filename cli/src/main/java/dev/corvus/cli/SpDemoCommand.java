package dev.corvus.cli;

import dev.corvus.attention.FlashAttention;
import dev.corvus.parallel.CommVolume;
import dev.corvus.parallel.RingAttention;
import dev.corvus.parallel.SequenceLayout;
import dev.corvus.parallel.StarTrailAttention;
import dev.corvus.parallel.UlyssesAttention;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.Communicators;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * One causal attention layer run sequence-parallel (ring, StarTrail or Ulysses) over the ranks of
 * an MPI world, or over in-JVM ranks with {@code --ranks}; prints per-rank time and bytes sent, and
 * the bytes {@link CommVolume} predicts.
 */
@Command(name = "sp-demo", description = "Sequence-parallel causal attention: per-rank time and bytes sent (MPI under mpirun, else --ranks in-JVM ranks).")
final class SpDemoCommand implements Callable<Integer> {
    enum Scheme { ring, startrail, ulysses }

    private static final int SEQ = 2;
    private static final double MIB = 1024.0 * 1024.0;

    @Option(names = "--scheme", description = "ring, startrail or ulysses (default: ${DEFAULT-VALUE}).")
    Scheme scheme = Scheme.ring;

    @Option(names = "--team-size", description = "StarTrail team size C (default: ${DEFAULT-VALUE}).")
    int teamSize = 2;

    @Option(names = "--n", description = "Full sequence length (default: ${DEFAULT-VALUE}).")
    int n = 2048;

    @Option(names = "--heads", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads = 16;

    @Option(names = "--dim", description = "Head dimension (default: ${DEFAULT-VALUE}).")
    int dim = 64;

    @Option(names = "--iterations", description = "Timed iterations; the median is reported (default: ${DEFAULT-VALUE}).")
    int iterations = 5;

    @Option(names = "--warmup", description = "Untimed warm-up iterations (default: ${DEFAULT-VALUE}).")
    int warmup = 1;

    @Option(names = "--backward", description = "Also run the backward pass (time and bytes are forward + backward).")
    boolean backward;

    @Option(names = "--ranks", description = "In-JVM ranks to run when the world has one rank (no mpirun) (default: ${DEFAULT-VALUE}).")
    int ranks = 1;

    @Option(names = "--timeout", description = "Communication timeout in seconds (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds = 300;

    /** One rank's result: median wall time per layer, bytes it sent per layer, bytes the model predicts. */
    record RankResult(int rank, int size, double millis, long bytes, long model) {
        String line(SpDemoCommand c) {
            return String.format(Locale.ROOT, "rank %d/%d %s n=%d: %.1f ms/layer, %.2f MiB sent (model %.2f MiB, %s)",
                    rank, size, c.label(), c.n, millis, bytes / MIB, model / MIB,
                    bytes == model ? "matches model" : "DIFFERS from model by " + (bytes - model) + " bytes");
        }
    }

    /** In-JVM ranks are threads, each with its shard of the inputs. */
    private static final int MAX_RANKS = 1024;

    @Spec
    CommandSpec spec;

    private void atLeast(String option, int value, int min) {
        if (value < min) throw Cli.usage(spec, option + " " + value + ": expected at least " + min);
    }

    @Override
    public Integer call() {
        atLeast("--n", n, 1);
        atLeast("--heads", heads, 1);
        atLeast("--dim", dim, 1);
        atLeast("--team-size", teamSize, 1);
        atLeast("--ranks", ranks, 1);
        atLeast("--iterations", iterations, 1);
        atLeast("--warmup", warmup, 0);
        atLeast("--timeout", timeoutSeconds, 1);
        if (ranks > MAX_RANKS) throw Cli.usage(spec, "--ranks " + ranks + ": at most " + MAX_RANKS + " in-JVM ranks (each is a thread)");
        Duration timeout = Duration.ofSeconds(timeoutSeconds);
        Communicator world = Communicators.fromEnvironment(timeout);
        List<RankResult> results;
        if (world.size() == 1 && ranks > 1) {
            world.close();
            results = InJvmCluster.run(ranks, timeout, this::runRank);
        } else {
            if (world.size() > 1 && ranks > 1 && ranks != world.size()) {
                System.err.println("corvus: --ranks " + ranks + " ignored: the MPI world has " + world.size() + " ranks");
            }
            RankResult mine = runRank(world);
            results = world.size() == 1 ? List.of(mine) : gather(world, mine);
            // no explicit close of the MPI world: its shutdown hook finalizes MPI
            if (world.size() == 1) world.close();
            if (results == null) return 0; // not rank 0: rank 0 prints everything
        }
        for (RankResult r : results) System.out.println(r.line(this));
        System.out.println(summary(results));
        System.out.flush();
        return results.stream().allMatch(r -> r.bytes() == r.model()) ? Main.OK : Main.FAILED;
    }

    String label() {
        return scheme == Scheme.startrail ? "startrail(C=" + teamSize + ")" : scheme.name();
    }

    private String summary(List<RankResult> results) {
        double max = results.stream().mapToDouble(RankResult::millis).max().orElse(0);
        long total = results.stream().mapToLong(RankResult::bytes).sum();
        long maxBytes = results.stream().mapToLong(RankResult::bytes).max().orElse(0);
        boolean exact = results.stream().allMatch(r -> r.bytes() == r.model());
        return String.format(Locale.ROOT, "summary %s%s P=%d n=%d heads=%d dim=%d: %.1f ms/layer (slowest rank), %.2f MiB max per rank, %.2f MiB total; %s",
                label(), backward ? " fwd+bwd" : " fwd", results.size(), n, heads, dim, max, maxBytes / MIB, total / MIB,
                exact ? "all ranks match the model" : "SOME RANKS DIFFER from the model");
    }

    /** Rank 0 gets everyone's result, in rank order; other ranks get null. Bytes travel as two exact floats (MiB, remainder). */
    private static List<RankResult> gather(Communicator comm, RankResult mine) {
        int p = comm.size();
        try (MemoryScope s = MemoryScope.open("sp-demo-gather")) {
            float[] v = {(float) mine.millis(), mine.bytes() >>> 20, mine.bytes() & 0xFFFFF, mine.model() >>> 20, mine.model() & 0xFFFFF};
            Tensor local = Tensor.of(v, 1, v.length);
            Tensor all = Tensor.zeros(dev.corvus.tensor.DType.F32, p, v.length);
            comm.allGather(local, all, 0);
            if (comm.rank() != 0) return null;
            float[] a = all.toFloatArray();
            List<RankResult> out = new ArrayList<>();
            for (int r = 0; r < p; r++) {
                int o = r * v.length;
                out.add(new RankResult(r, p, a[o], ((long) a[o + 1] << 20) + (long) a[o + 2], ((long) a[o + 3] << 20) + (long) a[o + 4]));
            }
            return out;
        }
    }

    private RankResult runRank(Communicator comm) {
        int p = comm.size(), r = comm.rank();
        float scale = (float) (1.0 / Math.sqrt(dim));
        SequenceLayout layout = switch (scheme) {
            case ring -> RingAttention.layout(n, r, p, true);
            case startrail -> StarTrailAttention.layout(n, r, p, true);
            case ulysses -> UlyssesAttention.layout(n, r, p);
        };
        CommVolume.Problem problem = new CommVolume.Problem(1, heads, heads, n, dim, p);
        long model = switch (scheme) {
            case ring -> CommVolume.ringForward(problem) + (backward ? CommVolume.ringBackward(problem) : 0);
            case startrail -> CommVolume.starTrailForward(problem, teamSize)[r]
                    + (backward ? CommVolume.starTrailBackward(problem, teamSize)[r] : 0);
            case ulysses -> CommVolume.ulyssesForward(problem) + (backward ? CommVolume.ulyssesBackward(problem) : 0);
        };
        try (MemoryScope scope = MemoryScope.open("sp-demo-rank")) {
            Tensor q, k, v, dOut;
            try (MemoryScope full = MemoryScope.open("sp-demo-full")) {
                // every rank builds the same full tensors from fixed seeds and keeps its shard
                Tensor fq = Tensor.randn(11, 1, heads, n, dim), fk = Tensor.randn(12, 1, heads, n, dim);
                Tensor fv = Tensor.randn(13, 1, heads, n, dim), fd = Tensor.randn(14, 1, heads, n, dim);
                q = copyTo(scope, layout.shard(fq, SEQ));
                k = copyTo(scope, layout.shard(fk, SEQ));
                v = copyTo(scope, layout.shard(fv, SEQ));
                dOut = copyTo(scope, layout.shard(fd, SEQ));
            }
            double[] millis = new double[iterations];
            long[] bytes = new long[iterations];
            for (int it = -warmup; it < iterations; it++) {
                comm.barrier();
                long before = comm.stats().totalBytes();
                long t0 = System.nanoTime();
                try (MemoryScope step = MemoryScope.open("sp-demo-layer")) {
                    layer(comm, q, k, v, dOut, scale);
                }
                long t1 = System.nanoTime();
                long sent = comm.stats().totalBytes() - before;
                if (it >= 0) {
                    millis[it] = (t1 - t0) / 1e6;
                    bytes[it] = sent;
                }
            }
            Arrays.sort(millis);
            double median = iterations % 2 == 1 ? millis[iterations / 2] : (millis[iterations / 2 - 1] + millis[iterations / 2]) / 2;
            // every iteration sends the same bytes; report the last, flag any that differ
            long b = bytes[iterations - 1];
            for (long x : bytes) if (x != b) b = -1;
            return new RankResult(r, p, median, b, model);
        }
    }

    private void layer(Communicator comm, Tensor q, Tensor k, Tensor v, Tensor dOut, float scale) {
        switch (scheme) {
            case ring -> {
                FlashAttention.Result f = RingAttention.forward(comm, q, k, v, true, scale);
                if (backward) RingAttention.backward(comm, q, k, v, f.out(), f.lse(), dOut, true, scale);
            }
            case startrail -> {
                FlashAttention.Result f = StarTrailAttention.forward(comm, teamSize, q, k, v, true, scale);
                if (backward) StarTrailAttention.backward(comm, teamSize, q, k, v, f.out(), f.lse(), dOut, true, scale);
            }
            case ulysses -> {
                FlashAttention.Result f = UlyssesAttention.forward(comm, q, k, v, true, scale);
                if (backward) UlyssesAttention.backward(comm, q, k, v, f.out(), f.lse(), dOut, true, scale);
            }
        }
    }

    private static Tensor copyTo(MemoryScope scope, Tensor t) {
        return Tensor.of(scope, t.toFloatArray(), t.shape());
    }
}
