package dev.corvus.jmh;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.ModelStore;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.MemoryStats;
import dev.corvus.tensor.Parallel;
import dev.corvus.train.AdamW;
import dev.corvus.train.DataSource;
import dev.corvus.train.DecoderGradients;
import dev.corvus.train.LearningRateSchedule;
import dev.corvus.train.Parameters;
import dev.corvus.train.TokenDataset;
import dev.corvus.train.Trainer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;

/**
 * One training step of stories15M (forward, backward, gradient clipping, AdamW) on one packed
 * sequence of real text, timed: what {@code scripts/train-vs-torch.sh} runs beside the same step in
 * PyTorch. The sequence is the first training sequence of Debian's fortunes packed at N tokens
 * (TokenDataset, seed 7); it is written to {@code --tokens-out} (N + 1 little-endian int32) so the
 * PyTorch side trains on exactly the same tokens, and every step reuses it. Prints one line per
 * timed step and a summary line {@code corvus N=... median_s=... tokens_per_s=... peak_mib=...
 * first_loss=...}; the peak is {@link MemoryStats#peakBytes()} (every live tensor of the process,
 * the parameters, gradients and AdamW moments included) over the timed steps.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dcorvus.threads=2 -cp jmh/target/benchmarks.jar \
 *     dev.corvus.jmh.TrainStepReport --n 1024 [--steps 3] [--warmup 1] [--chunk-rows 256] [--checkpoint-blocks] [--tokens-out FILE]
 * </pre>
 */
public final class TrainStepReport {
    private TrainStepReport() {}

    public static void main(String[] args) throws IOException {
        int n = 1024, steps = 3, warmup = 1, chunkRows = 256;
        boolean checkpointBlocks = false;
        Path tokensOut = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--n" -> n = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--chunk-rows" -> chunkRows = Integer.parseInt(args[++i]);
                case "--checkpoint-blocks" -> checkpointBlocks = true;
                case "--tokens-out" -> tokensOut = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("TrainStepReport: unknown argument '" + args[i] + "'");
            }
        }
        ModelStore.Stories15M files = ModelStore.defaults().stories15M();
        Tokenizer tokenizer = Tokenizer.loadLlama2c(files.tokenizer());
        TokenDataset data = TokenDataset.fromFiles(List.of(TokenDataset.fortunesFile()), tokenizer, n, 0.0, 7);
        int[] sequence = data.next();
        if (tokensOut != null) writeTokens(sequence, tokensOut);
        if (steps == 0) return; // --steps 0: only the tokens, for the other side of a comparison
        DecoderGradients gradients = new DecoderGradients(chunkRows, checkpointBlocks);
        // a constant learning rate: the schedule is not what is measured
        Trainer.Options options = new Trainer.Options(1, 1.0, LearningRateSchedule.warmupCosine(1e-4f, 1e-4f, 0, 1_000_000),
                new AdamW.Options(0.9f, 0.95f, 1e-8f, 0.01f), 0, null, 0);
        try (Checkpoint original = Checkpoints.load(files.checkpoint()); Parameters p = Parameters.of(original.config(), original.weights());
                Trainer<int[]> trainer = new Trainer<>(p, new Repeat(sequence), gradients, null, options)) {
            double firstLoss = Double.NaN;
            for (int i = 0; i < warmup; i++) {
                double loss = trainer.step().trainLoss();
                if (i == 0) firstLoss = loss;
            }
            MemoryStats.resetPeak();
            System.out.println("corvus timed steps start at " + java.time.LocalTime.now()); // to cut a profile's warm-up off
            double[] seconds = new double[steps], cpuSeconds = new double[steps];
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime(), c0 = processCpuNanos();
                Trainer.StepRecord r = trainer.step();
                seconds[i] = (System.nanoTime() - t0) / 1e9;
                cpuSeconds[i] = (processCpuNanos() - c0) / 1e9;
                if (Double.isNaN(firstLoss)) firstLoss = r.trainLoss();
                System.out.printf(Locale.ROOT, "corvus step N=%d %.3f s (cpu %.3f s) loss %.5f%n", n, seconds[i], cpuSeconds[i], r.trainLoss());
            }
            System.out.printf(Locale.ROOT, "corvus N=%d median_s=%.4f median_cpu_s=%.4f tokens_per_s=%.1f peak_mib=%.1f first_loss=%.5f threads=%d backend=%s checkpoint_blocks=%b%n",
                    n, median(seconds), median(cpuSeconds), n / median(seconds), MemoryStats.peakBytes() / 1048576.0, firstLoss, Parallel.parallelism(),
                    Backends.cpu().name(), checkpointBlocks);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    /** CPU time of the whole process (every thread, the JIT and GC included): on a loaded machine it shows what wall time cannot. */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static void writeTokens(int[] sequence, Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * sequence.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int t : sequence) b.putInt(t);
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), file.getFileName().toString(), ".tmp");
        Files.write(tmp, b.array());
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The same sequence every step. */
    private record Repeat(int[] sequence) implements DataSource<int[]> {
        @Override
        public int[] next() {
            return sequence.clone();
        }

        @Override
        public Position position() {
            return new Position(0, 0);
        }

        @Override
        public void seek(Position position) {}

        @Override
        public long seed() {
            return 0;
        }
    }
}
