package dev.corvus.jmh;

import dev.corvus.chunking.ChunkTimeModel;
import dev.corvus.chunking.ChunkedProgram;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.ModelStore;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.MemoryStats;
import dev.corvus.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The longest prompt whose prefill fits an activation budget through
 * {@link LlamaModel#forward(int[], int, LlamaModel.KvCache, long)}, unchunked and chunked, and the
 * time chunking costs at one length both run. The longest lengths come from AutoChunk's
 * estimates (which the executor's allocator matches; the tests check the measured peak against
 * the budget), searched from the peak per position at a base length and verified by compiling at
 * the answer; the timed length is run three ways (the eager forward, the traced plan unchunked,
 * the traced plan chunked under a budget near the smallest that fits, or the given fraction of
 * the unchunked plan's), best of two, with the
 * measured peaks. The KV cache and the weights are not activations. A model's context is
 * extended as needed (RoPE extrapolation: only memory and time are measured).
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar \
 *     dev.corvus.jmh.PrefillBudgetReport [MODEL.gguf|stories15M] [base N] [timed N] [timed budget as a fraction of the unchunked one]
 * </pre>
 */
public final class PrefillBudgetReport {
    private static final long[] BUDGETS = {256L << 20, 1L << 30};

    private PrefillBudgetReport() {}

    public static void main(String[] args) throws Exception {
        String which = args.length > 0 ? args[0] : "stories15M";
        int base = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
        int timed = args.length > 2 ? Integer.parseInt(args[2]) : 1024;
        double fraction = args.length > 3 ? Double.parseDouble(args[3]) : 0;
        Path path = which.equals("stories15M") ? ModelStore.defaults().stories15M().checkpoint() : Path.of(which);
        ChunkTimeModel.measured();
        try (Checkpoint ckpt = Checkpoints.load(path)) {
            LlamaModel model = new LlamaModel(ckpt.config(), ckpt.weights());
            System.out.printf(Locale.ROOT, "%s: %s%n", path.getFileName(), ckpt.config());
            long unchunkedBase = unchunkedPlanPeak(model, base);
            long smallestBase = smallestBudget(model, base);
            System.out.printf(Locale.ROOT, "N=%d: unchunked plan peak %s, smallest budget a chunked plan fits %s%n", base, mib(unchunkedBase),
                    mib(smallestBase));
            if (fraction > 0) {
                time(model, timed, fraction);
                return;
            }
            List<String> rows = new ArrayList<>();
            for (long budget : BUDGETS) {
                int unchunked = longestUnchunked(model, budget, base, unchunkedBase);
                int chunked = longestChunked(model, budget, base, smallestBase);
                rows.add(String.format(Locale.ROOT, "| %s | %s | %d | %d | %.1fx |", path.getFileName(), mib(budget), unchunked, chunked,
                        (double) chunked / unchunked));
            }
            System.out.println("| model | activation budget | longest prompt unchunked | longest prompt chunked | ratio |");
            System.out.println("|---|---|---|---|---|");
            rows.forEach(System.out::println);
            time(model, timed, 0);
        }
    }

    /** The budget forward needs to run n positions unchunked: the unchunked plan's peak over the plan's share. */
    private static long unchunkedBudget(LlamaModel model, int n) {
        return (long) Math.ceil(unchunkedPlanPeak(model, n) / 0.8) + 4L * model.config().vocabSize();
    }

    private static long unchunkedPlanPeak(LlamaModel model, int n) {
        try (LlamaModel.KvCache cache = model.newCache(n)) {
            return model.prefillPlan(n, 0, cache, Long.MAX_VALUE).unchunkedPeakBytes();
        }
    }

    private static long smallestBudget(LlamaModel model, int n) {
        try (LlamaModel.KvCache cache = model.newCache(n)) {
            model.prefillPlan(n, 0, cache, 1);
            throw new IllegalStateException("a budget of one byte fit");
        } catch (LlamaModel.BudgetTooSmallException e) {
            return e.smallestBudgetBytes();
        }
    }

    /** Bisection on the unchunked estimate (exact, cheap), starting from the per-position peak at the base length. */
    private static int longestUnchunked(LlamaModel model, long budget, int base, long peakAtBase) {
        int guess = (int) Math.max(2, (budget * 0.8) / ((double) peakAtBase / base));
        int lo = 1, hi = guess * 2;
        while (unchunkedBudget(model, hi) <= budget) hi *= 2;
        while (hi - lo > Math.max(1, lo / 200)) {
            int mid = (lo + hi) >>> 1;
            if (unchunkedBudget(model, mid) <= budget) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    /** From the smallest budget per position at the base length, corrected by the smallest budget at the guess until a compile fits. */
    private static int longestChunked(LlamaModel model, long budget, int base, long smallestAtBase) {
        int n = (int) (budget / ((double) smallestAtBase / base));
        for (int attempt = 0; attempt < 4; attempt++) {
            try (LlamaModel.KvCache cache = model.newCache(n)) {
                ChunkedProgram p = model.prefillPlan(n, 0, cache, budget);
                System.out.printf(Locale.ROOT, "budget %s: N=%d compiles, %d regions, estimated peak %s%n", mib(budget), n, p.regions().size(),
                        mib(p.estimatedPeakBytes()));
                return n;
            } catch (LlamaModel.BudgetTooSmallException e) {
                n = (int) (n * 0.99 * budget / e.smallestBudgetBytes());
            }
        }
        throw new IllegalStateException("no chunked length found for " + mib(budget));
    }

    private static void time(LlamaModel model, int n, double fraction) {
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) tokens[i] = 1 + (int) ((i * 7919L) % (model.config().vocabSize() - 1));
        long smallest = smallestBudget(model, n), unchunked = unchunkedBudget(model, n);
        long budget = fraction > 0 ? Math.max(smallest, (long) (unchunked * fraction)) : Math.min(unchunked - 1, (long) (smallest * 1.1));
        double eager = Double.MAX_VALUE, plain = Double.MAX_VALUE, chunked = Double.MAX_VALUE;
        long eagerPeak = 0, plainPeak = 0, chunkedPeak = 0, chunkedHeld = 0;
        float maxDiff = 0;
        String plan = "";
        for (int rep = 0; rep < 2; rep++) {
            try (MemoryScope s = MemoryScope.open("timing"); LlamaModel.KvCache a = model.newCache(n); LlamaModel.KvCache b = model.newCache(n);
                    LlamaModel.KvCache c = model.newCache(n)) {
                a.ensureCapacity(n);
                b.ensureCapacity(n);
                c.ensureCapacity(n);
                long live = MemoryStats.liveBytes();
                MemoryStats.resetPeak();
                long t0 = System.nanoTime();
                Tensor ref = model.forward(tokens, 0, a);
                eager = Math.min(eager, (System.nanoTime() - t0) / 1e9);
                eagerPeak = MemoryStats.peakBytes() - live;
                LlamaModel.BudgetedForward u = model.forward(tokens, 0, b, Long.MAX_VALUE);
                plain = Math.min(plain, u.runNanos() / 1e9);
                plainPeak = u.measuredPeakBytes();
                live = MemoryStats.liveBytes();
                MemoryStats.resetPeak();
                LlamaModel.BudgetedForward ch = model.forward(tokens, 0, c, budget);
                chunkedHeld = MemoryStats.peakBytes() - live;
                chunked = Math.min(chunked, ch.runNanos() / 1e9);
                chunkedPeak = ch.measuredPeakBytes();
                plan = ch.plan().lines().findFirst().orElse("") + " compile " + String.format(Locale.ROOT, "%.1f s", ch.compileNanos() / 1e9);
                float[] x = ref.toFloatArray(), y = ch.logits().toFloatArray();
                for (int i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
            }
        }
        System.out.printf(Locale.ROOT, "N=%d, budget %s (smallest %s): %s%n", n, mib(budget), mib(smallest), plan);
        System.out.println("| N | eager forward | traced, unchunked | traced, chunked | chunked / unchunked | chunked / eager | max |logit diff| |");
        System.out.println("|---|---|---|---|---|---|---|");
        System.out.printf(Locale.ROOT, "| %d | %.2f s, peak %s | %.2f s, peak %s | %.2f s, peak %s (held %s) | %.2f | %.2f | %.2g |%n", n, eager,
                mib(eagerPeak), plain, mib(plainPeak), chunked, mib(chunkedPeak), mib(chunkedHeld), chunked / plain, chunked / eager, maxDiff);
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
}
