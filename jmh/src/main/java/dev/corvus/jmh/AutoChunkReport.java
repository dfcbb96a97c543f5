package dev.corvus.jmh;

import dev.corvus.chunking.AutoChunk;
import dev.corvus.chunking.ChunkedProgram;
import dev.corvus.chunking.Execution;
import dev.corvus.chunking.Graph;
import dev.corvus.chunking.models.ModelCase;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.List;
import java.util.Locale;
import java.util.function.IntPredicate;

/**
 * The longest sequence that fits a fixed activation budget, unchunked and with AutoChunk, per
 * model ({@link ModelCase}). The budget is the unchunked estimated peak at a base length N0;
 * the longest N is searched (doubling, then bisection in the model's step) on the compiler's
 * estimates, which the executor's allocator matches exactly; the longest chunked N is then run
 * once to confirm its measured peak is within the budget ({@code --no-run=} skips that for the
 * models named).
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar \
 *     dev.corvus.jmh.AutoChunkReport [--no-run=model,...] [model/N0 ...]
 * </pre>
 */
public final class AutoChunkReport {
    private static final int MAX_FACTOR = 32;

    private AutoChunkReport() {}

    public static void main(String[] args) {
        java.util.Set<String> noRun = new java.util.HashSet<>();
        List<String> specs = new java.util.ArrayList<>();
        for (String a : args) {
            if (a.startsWith("--no-run=")) noRun.addAll(List.of(a.substring("--no-run=".length()).split(",")));
            else specs.add(a);
        }
        if (specs.isEmpty()) specs = List.of("transformer-materialised/2048", "transformer-flash/4096", "evoformer/128", "vit/1024");
        System.out.println("| model | budget (unchunked peak at N0) | longest N unchunked | longest N chunked | ratio | measured peak at longest chunked N | regions | time |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (String spec : specs) {
            ModelCase c = ModelCase.parse(spec);
            row(c, !noRun.contains(c.model()));
        }
    }

    private static void row(ModelCase base, boolean run) {
        long budget = unchunkedPeak(base);
        int plain = longest(base, n -> unchunkedPeak(base.withN(n)) <= budget);
        int chunked = longest(base, n -> compiles(base.withN(n), budget));
        String measured = "not run", regions = "", time = "";
        if (run) {
            ModelCase c = base.withN(chunked);
            try (MemoryScope scope = MemoryScope.detached("report")) {
                ChunkedProgram p = AutoChunk.compile(c.trace(scope), budget);
                Tensor x = c.input(scope);
                long t0 = System.nanoTime();
                try (Execution e = p.run(x)) {
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    measured = String.format(Locale.ROOT, "%.1f MiB (%s; pool footprint %.1f MiB)", mib(e.peakBytes()),
                            e.peakBytes() <= budget ? "within budget" : "OVER BUDGET", mib(e.footprintBytes()));
                    time = String.format(Locale.ROOT, "%.1f s (one cold run)", seconds);
                }
                regions = Integer.toString(p.regions().size());
                System.err.print(p.explain());
            }
        }
        System.out.printf(Locale.ROOT, "| %s | %.1f MiB (N0 = %d) | %d | %d%s | %.1fx | %s | %s | %s |%n", base.model(), mib(budget), base.n(), plain, chunked,
                chunked >= base.n() * MAX_FACTOR ? " (search cap)" : "", (double) chunked / plain, measured, regions, time);
    }

    /** The largest multiple of the model's step, up to MAX_FACTOR x N0, that fits; doubling then bisection. */
    private static int longest(ModelCase base, IntPredicate fits) {
        int step = base.step();
        int lo = base.n(), hi = -1;
        if (!fits.test(lo)) throw new IllegalStateException(base + " does not fit its own budget");
        while (hi < 0) {
            int next = lo * 2;
            if (next > base.n() * MAX_FACTOR) return lo;
            if (fits.test(next)) lo = next;
            else hi = next;
        }
        while (hi - lo > step) {
            int mid = (lo + hi) / 2 / step * step;
            if (mid <= lo) break;
            if (fits.test(mid)) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    private static long unchunkedPeak(ModelCase c) {
        try (MemoryScope scope = MemoryScope.detached("trace")) {
            return AutoChunk.unchunked(c.trace(scope)).estimatedPeakBytes();
        }
    }

    private static boolean compiles(ModelCase c, long budget) {
        try (MemoryScope scope = MemoryScope.detached("trace")) {
            Graph g = c.trace(scope);
            AutoChunk.compile(g, budget);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }
}
