package dev.corvus.cli;

import dev.corvus.comm.Communicator;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.dit.DitBenchmark;
import dev.corvus.dit.DitConfig;
import dev.corvus.dit.DitTrainer;
import dev.corvus.dit.DitTraining;
import dev.corvus.dit.DitVolume;
import dev.corvus.dit.MovingSquaresTask;
import dev.corvus.dit.RectifiedFlowSampler;
import dev.corvus.dit.VideoDiT;
import dev.corvus.dit.VideoDiT.Init;
import dev.corvus.dit.VideoDiT.Weights;
import dev.corvus.dit.VideoStrip;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.MemoryStats;
import dev.corvus.tensor.Tensor;
import dev.corvus.train.AdamW;
import dev.corvus.train.LearningRateSchedule;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The video DiT over in-JVM ranks under DSP, Ulysses or ring sequence parallelism. Without
 * {@code --train} or {@code --sample} it times training steps on random data; {@code --train}
 * trains on moving-squares clips, {@code --sample} draws one clip per class with the Euler sampler
 * and writes them as a PNG strip. Every mode prints, per rank, the step time, the bytes sent
 * against {@link DitVolume}'s model and the activation memory the step held.
 */
@Command(name = "dit", description = "Video DiT over in-JVM ranks (DSP, Ulysses or ring): time training steps, or --train on moving squares and --sample a PNG strip.")
final class DitCommand implements Callable<Integer> {
    enum Scheme { dsp, ulysses, ring }

    enum Schedule { stdit, latte }

    private static final double MIB = 1024.0 * 1024.0;
    private static final int MAX_RANKS = 64;

    @Option(names = "--frames", description = "Frames per clip (default: ${DEFAULT-VALUE}).")
    int frames = 16;

    @Option(names = "--size", description = "Pixels per side of a frame (default: ${DEFAULT-VALUE}).")
    int size = 32;

    @Option(names = "--patch", description = "Pixels per side of a patch; must divide --size (default: ${DEFAULT-VALUE}).")
    int patch = 4;

    @Option(names = "--patch-frames", description = "Frames per patch; must divide --frames (default: ${DEFAULT-VALUE}).")
    int patchFrames = 1;

    @Option(names = "--hidden", description = "Transformer width (default: ${DEFAULT-VALUE}).")
    int hidden = 64;

    @Option(names = "--heads", description = "Attention heads; must divide --hidden, and for ulysses be a multiple of --ranks (default: ${DEFAULT-VALUE}).")
    int heads = 4;

    @Option(names = "--depth", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
    int depth = 4;

    @Option(names = "--schedule", description = "stdit or latte (default: ${DEFAULT-VALUE}).")
    Schedule schedule = Schedule.stdit;

    @Option(names = "--ranks", description = "In-JVM ranks (threads) sharing the sequence (default: ${DEFAULT-VALUE}).")
    int ranks = 1;

    @Option(names = "--scheme", description = "dsp, ulysses or ring (default: ${DEFAULT-VALUE}).")
    Scheme scheme = Scheme.dsp;

    @Option(names = "--steps", description = "Training steps (default: 3 timed steps on random data; 300 with --train; none with --sample alone).")
    Integer steps;

    @Option(names = "--batch", description = "Clips per training step (default: ${DEFAULT-VALUE}).")
    int batch = 2;

    @Option(names = "--lr", description = "Peak AdamW learning rate; --train warms up to it and decays along a cosine to lr/20 (default: ${DEFAULT-VALUE}).")
    float lr = 2e-3f;

    @Option(names = "--train", description = "Train on moving-squares clips (class c holds c + 1 squares).")
    boolean train;

    @Option(names = "--clips", description = "With --train: clips per class in the training set (default: ${DEFAULT-VALUE}).")
    int clips = 8;

    @Option(names = "--classes", description = "Classes (1, 2, ... squares) (default: ${DEFAULT-VALUE}).")
    int classes = 2;

    @Option(names = "--sample", description = "Sample one clip per class (after --train, if given) and write a PNG strip to --out.")
    boolean sample;

    @Option(names = "--sample-steps", description = "Euler steps of the sampler (default: ${DEFAULT-VALUE}).")
    int sampleSteps = 20;

    @Option(names = "--out", description = "The PNG strip --sample writes: one row per class, frames left to right (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("dit-samples.png");

    @Option(names = "--log-every", description = "With --train: print the mean loss every N steps (default: ${DEFAULT-VALUE}).")
    int logEvery = 25;

    @Option(names = "--seed", description = "Seed of the weights, the data and the sampler's noise (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(names = "--timeout", description = "Communication timeout in seconds (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds = 600;

    @Spec
    CommandSpec spec;

    /** One rank's measurements. */
    record RankResult(int rank, double stepMillis, long bytesPerStep, long modelBytes, long activationBytes, double firstLoss, double lastLoss,
            double sampleMillis, long sampleBytes, long sampleModel) {}

    private void atLeast(String option, int value, int min) {
        if (value < min) throw Cli.usage(spec, option + " " + value + ": expected at least " + min);
    }

    private DitConfig config() {
        atLeast("--frames", frames, 1);
        atLeast("--size", size, 1);
        atLeast("--patch", patch, 1);
        atLeast("--patch-frames", patchFrames, 1);
        atLeast("--hidden", hidden, 1);
        atLeast("--heads", heads, 1);
        atLeast("--depth", depth, 1);
        atLeast("--classes", classes, 1);
        if (size % patch != 0) throw Cli.usage(spec, "--patch " + patch + ": does not divide --size " + size);
        if (frames % patchFrames != 0) throw Cli.usage(spec, "--patch-frames " + patchFrames + ": does not divide --frames " + frames);
        if (hidden % heads != 0) throw Cli.usage(spec, "--heads " + heads + ": does not divide --hidden " + hidden);
        if (scheme == Scheme.ulysses && heads % ranks != 0) {
            throw Cli.usage(spec, "--heads " + heads + ": ulysses needs the heads divisible by --ranks " + ranks);
        }
        DitConfig.Schedule s = schedule == Schedule.stdit ? DitConfig.Schedule.STDIT : DitConfig.Schedule.LATTE;
        return new DitConfig(frames, size, size, 3, patchFrames, patch, patch, hidden, heads, depth, 4 * hidden, classes, 4, hidden,
                hidden, s, 1e-6f);
    }

    @Override
    public Integer call() {
        atLeast("--ranks", ranks, 1);
        if (ranks > MAX_RANKS) throw Cli.usage(spec, "--ranks " + ranks + ": at most " + MAX_RANKS + " in-JVM ranks");
        int stepCount = steps != null ? steps : train ? 300 : sample ? 0 : 3;
        atLeast("--steps", stepCount, train || !sample ? 1 : 0);
        atLeast("--batch", batch, 1);
        atLeast("--clips", clips, 1);
        atLeast("--sample-steps", sampleSteps, 1);
        atLeast("--log-every", logEvery, 1);
        atLeast("--timeout", timeoutSeconds, 1);
        if (!(lr > 0) || Float.isInfinite(lr)) throw Cli.usage(spec, "--lr " + lr + ": expected a positive learning rate");
        if (train) {
            if (frames > dev.corvus.dit.MovingSquares.MAX_FRAMES) {
                throw Cli.usage(spec, "--frames " + frames + ": moving-squares clips have at most " + dev.corvus.dit.MovingSquares.MAX_FRAMES);
            }
            if (size < 4) throw Cli.usage(spec, "--size " + size + ": moving-squares clips need at least 4 pixels");
        }
        DitConfig cfg = config();
        VideoDiT.Scheme sp = VideoDiT.Scheme.valueOf(scheme.name().toUpperCase(Locale.ROOT));
        System.out.printf(Locale.ROOT, "dit %s %s: %d frames of %dx%d, patches %dx%dx%d -> T'=%d S=%d tokens, C=%d, %d heads, depth %d, batch %d, %d in-JVM ranks%n",
                schedule, scheme, frames, size, size, patchFrames, patch, patch, cfg.tokenFrames(), cfg.tokenPatches(), hidden, heads, depth,
                batch, ranks);
        MemoryStats.resetPeak();
        List<RankResult> results = InJvmCluster.run(ranks, Duration.ofSeconds(timeoutSeconds), comm -> runRank(comm, cfg, sp, stepCount));
        boolean exact = true;
        for (RankResult r : results) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "rank %d/%d", r.rank(), ranks));
            if (stepCount > 0) {
                line.append(String.format(Locale.ROOT, ": %.1f ms/step, %.3f MiB sent/step (model %.3f MiB, %s), activations %.1f MiB",
                        r.stepMillis(), r.bytesPerStep() / MIB, r.modelBytes() / MIB, matches(r.bytesPerStep(), r.modelBytes()), r.activationBytes() / MIB));
                exact &= r.bytesPerStep() == r.modelBytes();
            }
            if (sample) {
                line.append(String.format(Locale.ROOT, "; sampling %.1f ms/forward, %.3f MiB sent/forward (model %.3f MiB, %s)", r.sampleMillis(),
                        r.sampleBytes() / MIB, r.sampleModel() / MIB, matches(r.sampleBytes(), r.sampleModel())));
                exact &= r.sampleBytes() == r.sampleModel();
            }
            System.out.println(line);
        }
        if (stepCount > 1) {
            double slowest = results.stream().mapToDouble(RankResult::stepMillis).max().orElse(0);
            System.out.printf(Locale.ROOT, "step time %.1f ms (slowest rank): %.2f GFLOP/s over all ranks, %.2f clips/s%n", slowest,
                    3 * cfg.forwardFlops(batch) / 1e6 / slowest, batch * 1000 / slowest);
        }
        System.out.printf(Locale.ROOT, "peak memory of the JVM (all %d ranks together, weights and optimiser included): %.1f MiB%n", ranks,
                MemoryStats.peakBytes() / MIB);
        if (train) {
            RankResult r0 = results.getFirst();
            System.out.printf(Locale.ROOT, "loss: first step %.4f, last %d steps' mean %.4f%n", r0.firstLoss(), Math.min(logEvery, stepCount), r0.lastLoss());
        }
        if (sample) System.out.println("wrote " + out);
        System.out.flush();
        return exact ? Main.OK : Main.FAILED;
    }

    private static String matches(long bytes, long model) {
        return bytes == model ? "matches model" : "DIFFERS from model by " + (bytes - model) + " bytes";
    }

    private RankResult runRank(Communicator comm, DitConfig cfg, VideoDiT.Scheme sp, int stepCount) {
        boolean lead = comm.rank() == 0;
        if (lead) {
            System.out.printf(Locale.ROOT, "%.3f GFLOP per training step (3 forwards of %.3f GFLOP, all ranks together)%n", 3 * cfg.forwardFlops(batch) / 1e9,
                    cfg.forwardFlops(batch) / 1e9);
        }
        if (!train && !sample) {
            DitBenchmark.Result r = DitBenchmark.measure(comm, cfg, sp, batch, stepCount, seed);
            return new RankResult(r.rank(), r.stepMillis(), r.bytesPerStep(), r.modelBytes(), r.activationBytes(), Double.NaN, Double.NaN, 0, 0, 0);
        }
        try (MemoryScope scope = MemoryScope.open("dit rank " + comm.rank())) {
            Weights w = VideoDiT.initialise(cfg, seed, Init.ADALN_ZERO, scope);
            long parameters = w.parameters().values().stream().mapToLong(Tensor::numel).sum();
            if (lead) System.out.printf(Locale.ROOT, "%,d parameters%n", parameters);
            double[] millis = new double[stepCount];
            long bytes = -1, activations = 0;
            double first = Double.NaN, window = 0, lastMean = Double.NaN;
            if (train) {
                MovingSquaresTask.Sampler data = new MovingSquaresTask(frames, size, clips, classes).sampler(batch, seed + 1, scope);
                int inWindow = 0;
                long started = System.nanoTime();
                // warm-up, then a cosine decay to lr/20: the last steps' small updates are what clean up the samples
                LearningRateSchedule rates = LearningRateSchedule.warmupCosine(lr, lr / 20, stepCount >= 10 ? Math.min(20, stepCount / 10) : 0, stepCount);
                try (DitTrainer trainer = new DitTrainer(w, new AdamW.Options(0.9f, 0.99f, 1e-8f, 0f), 1.0)) {
                    for (int i = 0; i < stepCount; i++) {
                        try (MemoryScope step = MemoryScope.open("dit step")) {
                            DitTraining.Batch b = data.next();
                            comm.barrier();
                            long before = comm.stats().totalBytes(), t0 = System.nanoTime();
                            double loss = ranks == 1 ? trainer.step(b, rates.at(i)) : trainer.step(comm, sp, b, rates.at(i));
                            millis[i] = (System.nanoTime() - t0) / 1e6;
                            long sent = comm.stats().totalBytes() - before;
                            bytes = i == 0 || bytes == sent ? sent : -2; // every step sends the same; -2 flags one that did not
                            activations = Math.max(activations, trainer.lastActivationBytes());
                            if (i == 0) first = loss;
                            window += loss;
                            inWindow++;
                            if (inWindow == logEvery || i == stepCount - 1) {
                                lastMean = window / inWindow;
                                if (lead) {
                                    System.out.printf(Locale.ROOT, "step %d/%d: mean loss %.4f over the last %d steps (%.0f s)%n", i + 1, stepCount, lastMean,
                                            inWindow, (System.nanoTime() - started) / 1e9);
                                }
                                window = 0;
                                inWindow = 0;
                            }
                        }
                    }
                }
            }
            double stepMillis = median(millis, stepCount > 1 ? 1 : 0); // the first step warms the JIT
            long model = DitVolume.trainingStep(cfg, sp, batch, comm.size(), parameters);
            double sampleMillis = 0;
            long sampleBytes = 0, sampleModel = 0;
            if (sample) {
                int[] cls = new int[classes];
                for (int c = 0; c < classes; c++) cls[c] = c;
                RectifiedFlowSampler.Velocity v = ranks == 1 ? RectifiedFlowSampler.of(w) : RectifiedFlowSampler.of(comm, sp, w);
                comm.barrier();
                long before = comm.stats().totalBytes(), t0 = System.nanoTime();
                Tensor clipsOut = RectifiedFlowSampler.sample(v, cfg, cls, sampleSteps, seed + 2, scope);
                sampleMillis = (System.nanoTime() - t0) / 1e6 / sampleSteps;
                sampleBytes = (comm.stats().totalBytes() - before) / sampleSteps;
                sampleModel = DitVolume.forward(cfg, sp, classes, comm.size());
                if (lead) VideoStrip.write(out, clipsOut, -1f, 1f, 3);
            }
            return new RankResult(comm.rank(), stepMillis, bytes, model, activations, first, lastMean, sampleMillis, sampleBytes, sampleModel);
        }
    }

    private static double median(double[] values, int skip) {
        double[] v = Arrays.copyOfRange(values, skip, values.length);
        if (v.length == 0) return 0;
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
