package dev.corvus.jmh;

import dev.corvus.comm.Communicator;
import dev.corvus.comm.Communicators;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.ModelStore;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.train.CrossEntropy;
import dev.corvus.train.GradientBuckets;
import dev.corvus.train.Parameters;
import dev.corvus.train.SequenceParallelGradients;
import dev.corvus.train.SequenceParallelScheme;
import dev.corvus.train.TokenDataset;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A/B of the gradient all-reduce of a sequence-parallel step of stories15M on real text, P in-JVM
 * ranks: one all-reduce per parameter against buckets ({@link GradientBuckets}), interleaved
 * round by round in one JVM (after one untimed step of each). Per step: the all-reduce calls, the
 * wall time of the whole step (accumulate + combine) and of the combine alone (timed on rank 0
 * from a barrier after the accumulate, so the ranks' skew is not in it), and the bytes rank 0
 * sent. Prints the medians.
 *
 * <p>Under an MPI launcher ({@code mpirun -np P java ... GradientAllReduceReport}) each process is
 * a rank and only the all-reduce of the gradients is timed (no forward or backward: every rank
 * holds stories15M-sized gradients of its own values), per parameter and bucketed interleaved,
 * {@code --rounds} times each after one untimed round, from a barrier; rank 0 prints.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar \
 *     dev.corvus.jmh.GradientAllReduceReport [--n 512] [--ranks 4] [--scheme ring] [--rounds 3] [--bucket-mib 25]
 * </pre>
 */
public final class GradientAllReduceReport {
    private GradientAllReduceReport() {}

    private record Timing(double stepMillis, double combineMillis, long bytes) {}

    public static void main(String[] args) throws Exception {
        int n = 512, ranks = 4, rounds = 3;
        double bucketMib = 25;
        String schemeName = "ring";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--n" -> n = Integer.parseInt(args[++i]);
                case "--ranks" -> ranks = Integer.parseInt(args[++i]);
                case "--scheme" -> schemeName = args[++i];
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--bucket-mib" -> bucketMib = Double.parseDouble(args[++i]);
                default -> throw new IllegalArgumentException("GradientAllReduceReport: unknown argument '" + args[i]
                        + "' (expected --n, --ranks, --scheme, --rounds, --bucket-mib)");
            }
        }
        SequenceParallelScheme scheme = SequenceParallelScheme.parse(schemeName);
        long[] buckets = {GradientBuckets.PER_PARAMETER, GradientBuckets.elementsOfMib(bucketMib)};
        String[] names = {"per parameter", String.format(Locale.ROOT, "buckets of %s MiB", bucketMib)};
        ModelStore.Stories15M files = ModelStore.defaults().stories15M();
        if (Communicators.launchedByMpi()) {
            mpi(files, buckets, names, rounds);
            return;
        }
        Tokenizer tokenizer = Tokenizer.loadLlama2c(files.tokenizer());
        int[] sequence = TokenDataset.fromFiles(List.of(TokenDataset.fortunesFile()), tokenizer, n, 0.0, 7).next();
        List<List<Timing>> timings = List.of(new ArrayList<>(), new ArrayList<>());
        try (Checkpoint original = Checkpoints.load(files.checkpoint())) {
            List<Parameters> params = new ArrayList<>();
            for (int i = 0; i < ranks; i++) params.add(Parameters.of(original.config(), original.weights()));
            for (int round = -1; round < rounds; round++) {
                for (int v = 0; v < 2; v++) {
                    long bucket = buckets[v];
                    List<Timing> t = InJvmCluster.run(ranks, Duration.ofMinutes(30), comm -> {
                        Parameters p = params.get(comm.rank());
                        try (MemoryScope scope = MemoryScope.open("rank " + comm.rank())) {
                            p.zeroGrads();
                            SequenceParallelGradients g = new SequenceParallelGradients(comm, scheme, 1, 256, false, bucket);
                            long t0 = System.nanoTime();
                            CrossEntropy.Loss local = g.accumulate(sequence, p);
                            comm.barrier();
                            long b0 = comm.stats().totalBytes(), t1 = System.nanoTime();
                            g.combine(local, p);
                            long t2 = System.nanoTime();
                            return new Timing((t2 - t0) / 1e6, (t2 - t1) / 1e6, comm.stats().totalBytes() - b0);
                        }
                    });
                    if (round >= 0) timings.get(v).add(t.getFirst());
                }
            }
            for (int v = 0; v < 2; v++) {
                List<Timing> t = timings.get(v);
                System.out.printf(Locale.ROOT, "stories15M N=%d %s P=%d, %s: %d all-reduce calls, %d bytes sent by rank 0 in the combine;"
                        + " median of %d: step %.0f ms, combine %.1f ms (combines %s ms)%n", n, scheme.label(1), ranks, names[v],
                        GradientBuckets.calls(params.getFirst().list(), buckets[v]), t.getFirst().bytes(), t.size(),
                        median(t.stream().mapToDouble(Timing::stepMillis).toArray()), median(t.stream().mapToDouble(Timing::combineMillis).toArray()),
                        Arrays.toString(t.stream().mapToDouble(x -> Math.round(x.combineMillis() * 10) / 10.0).toArray()));
            }
            for (Parameters x : params) x.close();
        }
    }

    /** The MPI A/B: the gradient all-reduce alone, one process per rank. */
    private static void mpi(ModelStore.Stories15M files, long[] buckets, String[] names, int rounds) throws java.io.IOException {
        Communicator comm = Communicators.fromEnvironment(Duration.ofMinutes(5));
        try (Checkpoint original = Checkpoints.load(files.checkpoint()); Parameters p = Parameters.of(original.config(), original.weights())) {
            List<List<Double>> millis = List.of(new ArrayList<>(), new ArrayList<>());
            long[] bytes = new long[2];
            for (int round = -1; round < rounds; round++) {
                for (int v = 0; v < 2; v++) {
                    try (MemoryScope scope = MemoryScope.open("round")) {
                        for (dev.corvus.train.Parameter x : p.list()) Ops.copyInto(Tensor.full(scope, 1e-3f * (comm.rank() + 1), x.shape()), x.grad());
                        comm.barrier();
                        long b0 = comm.stats().totalBytes(), t0 = System.nanoTime();
                        GradientBuckets.allReduce(comm, p.list(), buckets[v]);
                        long t1 = System.nanoTime();
                        bytes[v] = comm.stats().totalBytes() - b0;
                        if (round >= 0) millis.get(v).add((t1 - t0) / 1e6);
                    }
                }
            }
            if (comm.rank() == 0) {
                for (int v = 0; v < 2; v++) {
                    double[] t = millis.get(v).stream().mapToDouble(Double::doubleValue).toArray();
                    System.out.printf(Locale.ROOT, "stories15M gradients, %d MPI processes, %s: %d all-reduce calls, %d bytes sent by rank 0; median of %d: %.1f ms %s%n",
                            comm.size(), names[v], GradientBuckets.calls(p.list(), buckets[v]), bytes[v], t.length, median(t),
                            Arrays.toString(Arrays.stream(t).map(x -> Math.round(x * 10) / 10.0).toArray()));
                }
            }
        }
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
