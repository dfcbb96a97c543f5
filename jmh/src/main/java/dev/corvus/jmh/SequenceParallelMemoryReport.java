package dev.corvus.jmh;

import dev.corvus.comm.InJvmCluster;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.ModelStore;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.MemoryStats;
import dev.corvus.train.DecoderGradients;
import dev.corvus.train.GradientBuckets;
import dev.corvus.train.Parameters;
import dev.corvus.train.SequenceParallelGradients;
import dev.corvus.train.SequenceParallelScheme;
import dev.corvus.train.TokenDataset;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Peak memory per rank of one sequence-parallel gradient computation of stories15M on real text,
 * P in-JVM ranks: the process-wide peak of live tensor bytes ({@link MemoryStats}) during the
 * ranks' forward + backward, above what was live before it (every rank's parameters and
 * gradients), divided by P. The ranks run in lockstep (every attention is a collective), so
 * their peaks coincide and the quotient is one rank's activations and scratch. P = 1 is the
 * one-device {@link DecoderGradients}. {@code --checkpoint} recomputes each decoder block in
 * backward (activation checkpointing, on one device and on P ranks alike).
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar \
 *     dev.corvus.jmh.SequenceParallelMemoryReport [--n 2048] [--scheme ring] [--team-size 1] [--ranks 1,2,4,8] [--checkpoint]
 * </pre>
 */
public final class SequenceParallelMemoryReport {
    private SequenceParallelMemoryReport() {}

    public static void main(String[] args) throws Exception {
        int n = 2048, teamSize = 1;
        boolean checkpoint = false;
        String schemeName = "ring", ranksList = "1,2,4,8";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--n" -> n = Integer.parseInt(args[++i]);
                case "--scheme" -> schemeName = args[++i];
                case "--team-size" -> teamSize = Integer.parseInt(args[++i]);
                case "--ranks" -> ranksList = args[++i];
                case "--checkpoint" -> checkpoint = true;
                default -> throw new IllegalArgumentException("SequenceParallelMemoryReport: unknown argument '" + args[i]
                        + "' (expected --n, --scheme, --team-size, --ranks, --checkpoint)");
            }
        }
        SequenceParallelScheme scheme = SequenceParallelScheme.parse(schemeName);
        boolean recompute = checkpoint;
        ModelStore.Stories15M files = ModelStore.defaults().stories15M();
        Tokenizer tokenizer = Tokenizer.loadLlama2c(files.tokenizer());
        int[] sequence = TokenDataset.fromFiles(List.of(TokenDataset.fortunesFile()), tokenizer, n, 0.0, 7).next();
        try (Checkpoint original = Checkpoints.load(files.checkpoint())) {
            for (String r : ranksList.split(",")) {
                int p = Integer.parseInt(r.trim());
                int c = p == 1 ? 1 : teamSize;
                List<Parameters> params = new ArrayList<>();
                for (int i = 0; i < p; i++) params.add(Parameters.of(original.config(), original.weights()));
                long before = MemoryStats.liveBytes();
                MemoryStats.resetPeak();
                long t0 = System.nanoTime();
                if (p == 1) {
                    try (MemoryScope scope = MemoryScope.open("memory report")) {
                        new DecoderGradients(256, recompute).accumulate(sequence, params.getFirst());
                    }
                } else {
                    InJvmCluster.run(p, Duration.ofMinutes(30), comm -> {
                        try (MemoryScope scope = MemoryScope.open("memory report rank " + comm.rank())) {
                            return new SequenceParallelGradients(comm, scheme, c, 256, recompute, GradientBuckets.DEFAULT_BUCKET_ELEMENTS).accumulate(sequence, params.get(comm.rank())).sum();
                        }
                    });
                }
                double perRank = (MemoryStats.peakBytes() - before) / (double) p / 1048576.0;
                System.out.printf(Locale.ROOT, "stories15M N=%d %s P=%d%s: peak above parameters %.1f MiB per rank (%.1f s)%n", n,
                        p == 1 ? "one device" : scheme.label(c), p, checkpoint ? " checkpointed blocks" : "", perRank, (System.nanoTime() - t0) / 1e9);
                for (Parameters x : params) x.close();
            }
        }
    }
}
