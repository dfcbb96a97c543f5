package dev.corvus.cli;

import dev.corvus.chunking.AutoChunk;
import dev.corvus.chunking.ChunkedProgram;
import dev.corvus.chunking.Execution;
import dev.corvus.chunking.Graph;
import dev.corvus.chunking.models.ModelCase;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * AutoChunk on one of the benchmark models: compiles it for a budget, prints the plan, and with
 * {@code --run} runs it unchunked and chunked, comparing activation peaks, time and outputs.
 */
@Command(name = "chunk", description = "AutoChunk a traced model under an activation-memory budget: print the plan, optionally run and compare.")
final class ChunkCommand implements Callable<Integer> {
    private static final double MIB = 1024.0 * 1024.0;

    @Option(names = "--model", description = "transformer-materialised, transformer-flash, evoformer or vit (default: ${DEFAULT-VALUE}).")
    String model = "transformer-materialised";

    @Option(names = "--n", description = "Sequence length: tokens, residues or patches (default: ${DEFAULT-VALUE}).")
    int n = 4096;

    @Option(names = "--budget", description = "Activation budget: a fraction of the unchunked peak (0.2) or bytes (64M) (default: ${DEFAULT-VALUE}).")
    String budget = "0.2";

    @Option(names = "--run", description = "Run the graph unchunked and chunked, and compare peaks, time and outputs.")
    boolean run;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (n < 1) throw Cli.usage(spec, "--n " + n + ": expected a positive sequence length");
        budgetBytes(1); // a bad --budget is refused before the model is traced
        ModelCase c = ModelCase.parse(model + "/" + n);
        try (MemoryScope scope = MemoryScope.open("chunk")) {
            Graph g = c.trace(scope);
            ChunkedProgram plain = AutoChunk.unchunked(g);
            long bytes = budgetBytes(plain.estimatedPeakBytes());
            long t0 = System.nanoTime();
            ChunkedProgram p = AutoChunk.compile(g, bytes);
            System.out.printf(Locale.ROOT, "compiled %s for %.1f MiB in %.0f ms%n", c, bytes / MIB, (System.nanoTime() - t0) / 1e6);
            System.out.print(p.explain());
            if (run) compare(c, plain, p, scope);
        }
        return 0;
    }

    private long budgetBytes(long unchunked) {
        String b = budget.trim();
        if (b.matches("0?\\.[0-9]+|1(\\.0*)?")) return Math.max(1, (long) (Double.parseDouble(b) * unchunked));
        long bytes;
        try {
            bytes = HeteroSetup.parseBytes("--budget", b);
        } catch (IllegalArgumentException e) {
            throw Cli.usage(spec, "--budget " + budget + ": expected a fraction of the unchunked peak (above 0, at most 1, e.g. 0.2)"
                    + " or bytes, optionally with K, M, G or T (e.g. 64M)");
        }
        if (bytes == 0) throw Cli.usage(spec, "--budget " + budget + ": the activation budget must be above 0");
        return bytes;
    }

    private static void compare(ModelCase c, ChunkedProgram plain, ChunkedProgram p, MemoryScope scope) {
        Tensor x = c.input(scope);
        float[] expected;
        long plainNanos, plainPeak, chunkNanos, chunkPeak, footprint;
        double maxDiff = 0;
        long t0 = System.nanoTime();
        try (Execution e = plain.run(x)) {
            plainNanos = System.nanoTime() - t0;
            plainPeak = e.peakBytes();
            expected = e.output(0).toFloatArray();
        }
        t0 = System.nanoTime();
        try (Execution e = p.run(x)) {
            chunkNanos = System.nanoTime() - t0;
            chunkPeak = e.peakBytes();
            footprint = e.footprintBytes();
            float[] got = e.output(0).toFloatArray();
            for (int i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
        }
        System.out.printf(Locale.ROOT, "unchunked: %.1f MiB activation peak, %.0f ms%n", plainPeak / MIB, plainNanos / 1e6);
        System.out.printf(Locale.ROOT, "chunked:   %.1f MiB activation peak (%s budget), pool footprint %.1f MiB, %.0f ms (%.2fx), max |diff| %.2e%n",
                chunkPeak / MIB, chunkPeak <= p.budgetBytes() ? "within" : "OVER", footprint / MIB, chunkNanos / 1e6,
                (double) chunkNanos / plainNanos, maxDiff);
    }
}
