package dev.corvus.dit;

import dev.corvus.comm.InJvmCluster;
import dev.corvus.dit.DitConfig.Schedule;
import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.parallel.CommVolume;
import dev.corvus.tensor.MemoryStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The DiT throughput benchmark (scripts/dit-throughput.sh runs it; not a test): training steps of
 * a small STDiT under DSP, Ulysses and ring for P in {1, 2, 4, 8} in-JVM ranks over several clip
 * sizes, then a projection of end-to-end training throughput to a cluster.
 *
 * <p>Measured: per (clip size, scheme, P) the step time of the slowest rank, the bytes each rank
 * sent (checked equal to {@link DitVolume}), the activations a rank's tape held, and the JVM's peak
 * (all ranks together). In-JVM ranks are threads sharing this machine's cores, so the step time
 * over P ranks measures the extra work and the copying of the collectives, not a speed-up.
 *
 * <p>Projected (a model, not a measurement): per-rank compute = the step's FLOPs / P at a
 * per-rank rate (the rate measured here at P = 1, and an assumed accelerator-class rate),
 * communication = {@link DitVolume#trainingStep} bytes / link bandwidth, no overlap of the activation
 * traffic with compute. That is ring attention's worst case: a real ring hides each key/value hop
 * behind the previous block's attention, which this model does not credit.
 *
 * <p>Arguments: {@code frames:size ...} clip sizes (default 16:32 32:32 16:64), then
 * {@code --steps N} (default 3).
 */
public final class DitThroughputMain {
    private DitThroughputMain() {}

    static final int[] RANKS = {1, 2, 4, 8};
    static final int HIDDEN = 64, HEADS = 8, DEPTH = 2, BATCH = 1;

    record Row(int frames, int size, Scheme scheme, int p, double millis, long bytes, boolean exact, long activations, long peak, double gflops) {}

    static DitConfig measured(int frames, int size) {
        return new DitConfig(frames, size, size, 3, 1, 4, 4, HIDDEN, HEADS, DEPTH, 4 * HIDDEN, 2, 4, HIDDEN, HIDDEN, Schedule.STDIT, 1e-6f);
    }

    public static void main(String[] args) {
        List<int[]> sizes = new ArrayList<>();
        int steps = 3;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--steps")) steps = Integer.parseInt(args[++i]);
            else {
                String[] fs = args[i].split(":");
                sizes.add(new int[] {Integer.parseInt(fs[0]), Integer.parseInt(fs[1])});
            }
        }
        if (sizes.isEmpty()) sizes = List.of(new int[] {16, 32}, new int[] {32, 32}, new int[] {16, 64});
        System.out.printf(Locale.ROOT, "# DiT training steps, in-JVM ranks on %d cores (load %s); STDiT C=%d, %d heads, depth %d, 4x4 patches, batch %d%n",
                Runtime.getRuntime().availableProcessors(), loadAverage(), HIDDEN, HEADS, DEPTH, BATCH);
        System.out.println("| clip | scheme | P | step ms (slowest rank) | MiB sent / rank / step | of which activations | = DitVolume | activations held MiB / rank | JVM peak MiB (all ranks) |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        List<Row> rows = new ArrayList<>();
        // an untimed pass over the smallest clip at P = 1 and 2 first: the first configuration timed
        // otherwise carries the JIT's warm-up (measured: 2.6 s/step at 16×32² P = 1 before, 1.6 s at 32×32² after)
        run(measured(sizes.getFirst()[0], sizes.getFirst()[1]), Scheme.DSP, 1, 1);
        run(measured(sizes.getFirst()[0], sizes.getFirst()[1]), Scheme.DSP, 2, 1);
        for (int[] fs : sizes) {
            DitConfig cfg = measured(fs[0], fs[1]);
            for (int p : RANKS) {
                for (Scheme scheme : Scheme.values()) {
                    if (p == 1 && scheme != Scheme.DSP) continue; // one rank: no scheme, nothing sent
                    Row row = run(cfg, scheme, p, steps);
                    rows.add(row);
                    long allReduce = CommVolume.dspGradientAllReduce(cfg.parameterCount(), p);
                    System.out.printf(Locale.ROOT, "| %d×%d² | %s | %d | %.0f | %.3f | %.3f | %s | %.1f | %.0f |%n", fs[0], fs[1], p == 1 ? "one rank" : scheme,
                            p, row.millis(), row.bytes() / MIB, (row.bytes() - allReduce) / MIB, row.exact() ? "yes" : "NO", row.activations() / MIB,
                            row.peak() / MIB);
                }
            }
        }
        double rate = rows.stream().filter(r -> r.p() == 1).mapToDouble(Row::gflops).max().orElseThrow();
        System.out.printf(Locale.ROOT, "%nmeasured FLOP rate of one rank (best clip size at P = 1): %.2f GFLOP/s (model FLOPs: 3 forwards, DitConfig.forwardFlops)%n",
                rate);
        project(rate * 1e9);
    }

    private static final double MIB = 1024.0 * 1024.0;

    static Row run(DitConfig cfg, Scheme scheme, int p, int steps) {
        MemoryStats.resetPeak();
        List<DitBenchmark.Result> results = InJvmCluster.run(p, Duration.ofMinutes(10), comm -> DitBenchmark.measure(comm, cfg, scheme, BATCH, steps, 7));
        long peak = MemoryStats.peakBytes();
        double millis = results.stream().mapToDouble(DitBenchmark.Result::stepMillis).max().orElseThrow();
        long bytes = results.stream().mapToLong(DitBenchmark.Result::bytesPerStep).max().orElseThrow();
        boolean exact = results.stream().allMatch(r -> r.bytesPerStep() == r.modelBytes());
        long activations = results.stream().mapToLong(DitBenchmark.Result::activationBytes).max().orElseThrow();
        double gflops = 3 * cfg.forwardFlops(BATCH) / 1e6 / millis;
        return new Row(cfg.frames(), cfg.height(), scheme, p, millis, bytes, exact, activations, peak, gflops);
    }

    /**
     * The cluster projection for an OpenSora-STDiT-XL-sized model (C = 1152, 16 heads, 28 blocks,
     * latent 64 frames × 64² × 4 in 1×2×2 patches: T' = 64, S = 1024; T5-width conditioning of 120
     * tokens; batch 1 clip per SP group).
     */
    static void project(double measuredRate) {
        DitConfig big = new DitConfig(64, 64, 64, 4, 1, 2, 2, 1152, 16, 28, 4608, 1, 120, 4096, 256, Schedule.STDIT, 1e-6f);
        double flops = 3 * big.forwardFlops(1);
        long params = big.parameterCount();
        double[] rates = {measuredRate, 100e12};
        String[] rateLabels = {String.format(Locale.ROOT, "measured here, %.1f GFLOP/s", measuredRate / 1e9), "ASSUMED 100 TFLOP/s (not measured)"};
        System.out.printf(Locale.ROOT, "%n# PROJECTION (model, not measured): STDiT C=1152, 16 heads, 28 blocks, T'=64, S=1024, %.0fM parameters, %.0f TFLOP per step;%n",
                params / 1e6, flops / 1e12);
        System.out.println("# step = FLOPs/P / per-rank rate + bytes per rank / link, no overlap of the activation traffic; clips/s = 1 / step.");
        System.out.println("# 'hidden': the gradient all-reduce overlapped with the backward (as data-parallel training does), only the");
        System.out.println("# activation traffic exposed; 'exposed': all DitVolume bytes on the critical path. Ulysses needs 16 % P == 0.");
        for (int ri = 0; ri < rates.length; ri++) {
            System.out.printf(Locale.ROOT, "%nper-rank rate: %s%n", rateLabels[ri]);
            System.out.println("| P | link Gb/s | DSP clips/s | Ulysses clips/s | ring clips/s | DSP vs Ulysses | DSP vs ring | DSP vs Ulysses, all-reduce exposed | DSP vs ring, all-reduce exposed |");
            System.out.println("|---|---|---|---|---|---|---|---|---|");
            for (int p : new int[] {8, 16, 32, 64}) {
                for (int gbps : new int[] {100, 200, 400}) {
                    double compute = flops / p / rates[ri], link = gbps * 1e9 / 8, allReduce = CommVolume.dspGradientAllReduce(params, p) / link;
                    double dsp = compute + DitVolume.trainingStep(big, Scheme.DSP, 1, p, params) / link - allReduce;
                    double ring = compute + DitVolume.trainingStep(big, Scheme.RING, 1, p, params) / link - allReduce;
                    boolean ulyssesFits = big.heads() % p == 0;
                    double ulysses = ulyssesFits ? compute + DitVolume.trainingStep(big, Scheme.ULYSSES, 1, p, params) / link - allReduce : Double.NaN;
                    System.out.printf(Locale.ROOT, "| %d | %d | %s | %s | %s | %s | %s | %s | %s |%n", p, gbps, rate(1 / dsp), ulyssesFits ? rate(1 / ulysses) : "n/a",
                            rate(1 / ring), ulyssesFits ? gain(ulysses / dsp) : "n/a", gain(ring / dsp),
                            ulyssesFits ? gain((ulysses + allReduce) / (dsp + allReduce)) : "n/a", gain((ring + allReduce) / (dsp + allReduce)));
                }
            }
        }
        System.out.println("\npaper (DSP, arXiv 2403.10266 v1): +42% to +217% end-to-end throughput over prior sequence parallelism (128 H100s, papers.md 3.8)");
    }

    private static String rate(double clipsPerSecond) {
        return clipsPerSecond >= 0.01 ? String.format(Locale.ROOT, "%.3f", clipsPerSecond) : String.format(Locale.ROOT, "%.2e", clipsPerSecond);
    }

    private static String gain(double ratio) {
        return String.format(Locale.ROOT, "%+.1f%%", 100 * (ratio - 1));
    }

    private static String loadAverage() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
