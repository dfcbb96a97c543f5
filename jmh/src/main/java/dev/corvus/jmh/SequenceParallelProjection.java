package dev.corvus.jmh;

import dev.corvus.parallel.CommVolume;
import dev.corvus.parallel.StarTrailTopology;
import java.util.Locale;

/**
 * A labelled projection, not a measurement: the training step time of a Llama-shaped decoder under
 * ring, StarTrail and Ulysses sequence parallelism on a cluster, from {@link CommVolume}'s exact
 * bytes (the formulas the tests check against measured counters) and a per-rank compute rate.
 *
 * <p>The model, per transformer layer and rank (forward + backward):
 * <ul>
 * <li>linear layers 6·(4·dim² + 3·dim·hidden)·N/P FLOPs, never overlapped with anything;</li>
 * <li>causal attention 2·N²·dim/P FLOPs forward and 2.5 times that backward (flash backward
 *     recomputes the scores);</li>
 * <li>ring: P steps forward (a K,V hop per step) and P backward (K, V, dK, dV per hop), each step
 *     max(attention compute / steps, hop bytes / link + latency): ring overlaps its hops with the
 *     block compute, and a step is bounded by the slower of the two;</li>
 * <li>StarTrail team size C (C | P, C² | P): the team collectives (all-gathers of q, k, v, the
 *     reduce-scatter of the output and, backward, of dq, dk, dv) on the intra-node link, not
 *     overlapped (the paper overlaps up to 2/3 of them: this is conservative for StarTrail); the
 *     placement send and G = P/C² sub-ring steps, overlapped like ring's, on the inter-node link;</li>
 * <li>Ulysses: its all-to-alls, not overlapped, on the inter-node link once P exceeds a node;
 *     it needs the heads divisible by P.</li>
 * </ul>
 * Bytes are {@link CommVolume}'s F32 counts halved (bf16 activations, as the paper trains). The
 * gradient all-reduce is the same for every scheme and is left out. A rank's compute rate is given:
 * the rate measured here ({@code --measured}, from the timed stories15M step) or an assumed
 * accelerator rate ({@code --rate-tflops}, labelled assumed).
 *
 * <pre>
 * java -cp jmh/target/benchmarks.jar dev.corvus.jmh.SequenceParallelProjection [--n 131072] [--rate-tflops 400]
 *     [--measured-step-s 5.29 --measured-n 2048]
 * </pre>
 */
public final class SequenceParallelProjection {
    private SequenceParallelProjection() {}

    /** A decoder's shape: what the FLOP and byte counts need. */
    record Shape(String name, int dim, int hidden, int layers, int heads, int kvHeads, long vocab) {
        int headDim() {
            return dim / heads;
        }

        /** Matmul FLOPs of a training step per token (forward + backward = 6 per weight), classifier included. */
        double linearFlopsPerToken() {
            double perLayer = 4.0 * dim * dim * kvFraction() + 3.0 * dim * hidden;
            return 6 * (layers * perLayer + (double) vocab * dim);
        }

        /** q and o are dim x dim; k and v shrink with grouped-query attention. */
        private double kvFraction() {
            return (2.0 + 2.0 * kvHeads / heads) / 4.0;
        }

        /** Causal attention FLOPs of a whole step (forward + backward) for N tokens. */
        double attentionFlops(long n) {
            return layers * 3.5 * 2.0 * n * n * dim;
        }
    }

    static final Shape STORIES15M = new Shape("stories15M", 288, 768, 6, 6, 6, 32000);
    static final Shape LLAMA_7B = new Shape("Llama-2-7B shape", 4096, 11008, 32, 32, 32, 32000);

    /** Ranks per node (intra-node links for StarTrail's teams and Ulysses up to one node). */
    static final int RANKS_PER_NODE = 8;
    /** Intra-node link per rank, bytes/s: NVLink 4 (H100) 900 GB/s; an assumption, stated in the output. */
    static final double INTRA_NODE = 900e9;
    /** Latency per point-to-point step, seconds (an assumption). */
    static final double LATENCY = 5e-6;

    public static void main(String[] args) {
        long n = 131072;
        double rateTflops = 400, measuredStep = 5.29;
        long measuredN = 2048;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--n" -> n = Long.parseLong(args[++i]);
                case "--rate-tflops" -> rateTflops = Double.parseDouble(args[++i]);
                case "--measured-step-s" -> measuredStep = Double.parseDouble(args[++i]);
                case "--measured-n" -> measuredN = Long.parseLong(args[++i]);
                default -> throw new IllegalArgumentException("SequenceParallelProjection: unknown argument '" + args[i]
                        + "' (expected --n, --rate-tflops, --measured-step-s, --measured-n)");
            }
        }
        double measuredRate = (STORIES15M.linearFlopsPerToken() * measuredN + STORIES15M.attentionFlops(measuredN)) / measuredStep;
        System.out.printf(Locale.ROOT, "PROJECTION (a model, not a measurement) of one training step, %s, N = %d, bf16 activations%n", LLAMA_7B.name(), n);
        System.out.printf(Locale.ROOT, "measured rate here: stories15M N=%d step %.2f s = %.1f GFLOP/s per 2-vCPU rank; assumed accelerator rate %.0f TFLOP/s%n",
                measuredN, measuredStep, measuredRate / 1e9, rateTflops);
        System.out.printf(Locale.ROOT, "assumed: %d ranks per node on %.0f GB/s links, %.0f us per hop; inter-node link as given%n",
                RANKS_PER_NODE, INTRA_NODE / 1e9, LATENCY * 1e6);
        for (double rate : new double[] {measuredRate, rateTflops * 1e12}) {
            System.out.printf(Locale.ROOT, "%nper-rank rate %s%n", rate == measuredRate ? String.format(Locale.ROOT, "%.1f GFLOP/s (measured)", rate / 1e9)
                    : String.format(Locale.ROOT, "%.0f TFLOP/s (ASSUMED)", rate / 1e12));
            System.out.println("| P | link Gb/s | ring s | StarTrail s (best C) | Ulysses s | StarTrail vs ring | StarTrail vs Ulysses |");
            System.out.println("|---|---|---|---|---|---|---|");
            for (int p : new int[] {8, 16, 64}) {
                for (double gbps : new double[] {25, 100, 400}) {
                    double link = gbps * 1e9 / 8;
                    double ring = stepSeconds(LLAMA_7B, n, p, 1, rate, link);
                    int bestC = 1;
                    double star = ring;
                    for (int c = 2; c * c <= p; c++) {
                        if (p % (c * c) != 0) continue;
                        double t = stepSeconds(LLAMA_7B, n, p, c, rate, link);
                        if (t < star) {
                            star = t;
                            bestC = c;
                        }
                    }
                    double ulysses = LLAMA_7B.heads() % p == 0 ? ulyssesSeconds(LLAMA_7B, n, p, rate, link) : Double.NaN;
                    System.out.printf(Locale.ROOT, "| %d | %.0f | %.2f | %.2f (C=%d) | %s | %+.0f%% | %s |%n", p, gbps, ring, star, bestC,
                            Double.isNaN(ulysses) ? "n/a (heads)" : String.format(Locale.ROOT, "%.2f", ulysses), (ring / star - 1) * 100,
                            Double.isNaN(ulysses) ? "n/a" : String.format(Locale.ROOT, "%+.0f%%", (ulysses / star - 1) * 100));
                }
            }
        }
    }

    /** Seconds of one step with StarTrail team size c (c = 1: plain ring). */
    static double stepSeconds(Shape s, long n, int p, int c, double rate, double interNode) {
        CommVolume.Problem x = new CommVolume.Problem(1, s.heads(), s.kvHeads(), Math.toIntExact(n), s.headDim(), p);
        double linear = s.linearFlopsPerToken() * n / p / rate / s.layers();
        double attentionForward = 2.0 * n * n * s.dim() / p / rate, attentionBackward = 2.5 * attentionForward;
        double hopLink = p > RANKS_PER_NODE ? interNode : INTRA_NODE;
        int g = new StarTrailTopology(p, c).ringLength();
        // bf16: CommVolume counts F32
        double kv = x.kvBytes() / 2.0, q = x.qBytes() / 2.0, row = x.rowBytes() / 2.0;
        double forwardHop = 2 * c * kv, backwardHop = c == 1 ? 4 * kv : c * (3 * q + 2 * row);
        double steps = c == 1 ? p : g;
        double forward = (c == 1 ? 0 : forwardHop / hopLink + LATENCY) // StarTrail's placement send
                + steps * Math.max(attentionForward / steps, forwardHop / hopLink + LATENCY);
        double backward = (c == 1 ? 0 : 2 * forwardHop / hopLink + 2 * LATENCY) // placement, and the dk/dv return
                + steps * Math.max(attentionBackward / steps, backwardHop / hopLink + LATENCY);
        double collectives = 0;
        if (c > 1) {
            // the team collectives of CommVolume.starTrailForward/Backward (gathers, combine, reduce-scatters)
            collectives = (c - 1) * ((q + 2 * kv) + c * row + q + (2 * q + 2 * kv + 2 * row) + (q + 2 * kv)) / INTRA_NODE;
            // what the split above leaves as point-to-point must be CommVolume's total for a rank that sends its placement
            double pointToPoint = forwardHop * g + 2 * forwardHop + (g - 1) * c * (2 * q + 2 * row) + (g > 1 ? g * c * q : 0);
            long[] f = CommVolume.starTrailForward(x, c), b = CommVolume.starTrailBackward(x, c);
            long worst = 0;
            for (int r = 0; r < p; r++) worst = Math.max(worst, f[r] + b[r]);
            double split = collectives * INTRA_NODE + pointToPoint;
            if (Math.abs(split - worst / 2.0) > 1e-6 * worst) {
                throw new IllegalStateException("SequenceParallelProjection: StarTrail bytes split " + split + " != CommVolume's " + worst / 2.0 + " (P " + p + ", C " + c + ")");
            }
        }
        return s.layers() * (linear + forward + backward + collectives);
    }

    /** Seconds of one Ulysses step: compute plus its all-to-alls, not overlapped. */
    static double ulyssesSeconds(Shape s, long n, int p, double rate, double interNode) {
        CommVolume.Problem x = new CommVolume.Problem(1, s.heads(), s.kvHeads(), Math.toIntExact(n), s.headDim(), p);
        double compute = s.linearFlopsPerToken() * n / p / rate / s.layers() + 3.5 * 2.0 * n * n * s.dim() / p / rate;
        double bytes = (CommVolume.ulyssesForward(x) + CommVolume.ulyssesBackward(x)) / 2.0;
        return s.layers() * (compute + bytes / (p > RANKS_PER_NODE ? interNode : INTRA_NODE));
    }
}
