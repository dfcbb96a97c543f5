package dev.corvus.cli;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.Tensor;
import java.io.PrintWriter;
import java.nio.file.Path;
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
 * {@code corvus bench}: a model's prompt and generation speed in llama-bench's table format
 * (see {@link ModelBench} for what each test measures), or with {@code --kernels} a quick look
 * at kernel speed: matmul, softmax and rmsnorm on the chosen backend against the scalar
 * reference, same shapes, same run. For careful kernel numbers use the JMH suites in jmh/.
 */
@Command(name = "bench", sortOptions = false,
        description = {"Prompt (ppP) and generation (tgN) tokens per second of a model, printed as llama.cpp's llama-bench prints them.",
            "With --kernels: quick (< 1 min) matmul/softmax/rmsnorm speed of the chosen backend against the scalar one."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, paramLabel = "PATH", description = "llama2.c checkpoint (.bin) or GGUF file (default: TinyStories 15M, fetched into ~/.cache/corvus).")
    Path model;

    @Option(names = {"-p", "--n-prompt"}, paramLabel = "P", split = ",", description = "Prompt sizes, comma-separated (default ${DEFAULT-VALUE}; 0 = none).",
            defaultValue = "512")
    List<Integer> prompts;

    @Option(names = {"-n", "--n-gen"}, paramLabel = "N", split = ",", description = "Generation lengths, comma-separated (default ${DEFAULT-VALUE}; 0 = none).",
            defaultValue = "128")
    List<Integer> gens;

    @Option(names = {"-d", "--n-depth"}, paramLabel = "D", split = ",", description = "Positions already in the KV cache before each test (default ${DEFAULT-VALUE}).",
            defaultValue = "0")
    List<Integer> depths;

    @Option(names = "-t", paramLabel = "T", split = ",", description = "Thread counts, comma-separated (default: --threads, else all cores).")
    List<Integer> threads;

    @Option(names = {"-r", "--repetitions"}, paramLabel = "R", description = "Timed runs per test (default ${DEFAULT-VALUE}).", defaultValue = "5")
    int repetitions;

    @Option(names = "--warmup", paramLabel = "W", description = "Untimed whole runs of each test first, for the JIT (default ${DEFAULT-VALUE}).", defaultValue = "1")
    int warmups;

    @Option(names = "--warmup-seconds", paramLabel = "S", description = "With --warmup above 0, keep warming each test until S seconds have passed (default ${DEFAULT-VALUE}).", defaultValue = "3")
    double warmupSeconds;

    @Option(names = "--dtype", paramLabel = "f32|q8_0", description = "Convert the weight matrices to this type after loading (default: as stored).")
    String dtype;

    @Option(names = "--backend", paramLabel = "scalar|vector", description = "CPU backend (same as -Dcorvus.backend; default: the best available).")
    String backend;

    @Option(names = "--seed", description = "Seed of the random tokens (default ${DEFAULT-VALUE}).", defaultValue = "1")
    long seed;

    @Option(names = "--kernels", description = "Run the kernel speed check instead of a model.")
    boolean kernels;

    @Option(names = "--seconds", description = "With --kernels: time spent measuring each case (default ${DEFAULT-VALUE}).", defaultValue = "2")
    double seconds;

    @Spec
    CommandSpec spec;

    private record Case(String name, String unit, double work, Runnable onChosen, Runnable onScalar) {}

    private record Result(String name, String unit, double chosen, double scalar) {}

    @Override
    public Integer call() throws Exception {
        if (!(seconds > 0 && seconds <= 3600)) throw new IllegalArgumentException("--seconds " + seconds + ": expected a time above 0 and at most 3600");
        if (backend != null) Cli.forceBackend(backend);
        return kernels ? kernels() : model();
    }

    private Integer model() throws Exception {
        if (repetitions < 1) throw new IllegalArgumentException("-r must be at least 1, got " + repetitions);
        if (warmups < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmups);
        if (!(warmupSeconds >= 0 && warmupSeconds <= 3600)) throw new IllegalArgumentException("--warmup-seconds must be 0 to 3600, got " + warmupSeconds);
        for (List<Integer> list : List.of(prompts, gens, depths)) {
            for (int v : list) if (v < 0) throw new IllegalArgumentException("-p, -n and -d take sizes >= 0, got " + v);
        }
        List<Integer> threadCounts = threads == null || threads.isEmpty() ? List.of(Parallel.parallelism()) : threads;
        for (int t : threadCounts) if (t < 1) throw new IllegalArgumentException("-t takes thread counts >= 1, got " + t);
        List<ModelBench.Test> tests = ModelBench.tests(prompts, gens, depths);
        if (tests.isEmpty()) throw new IllegalArgumentException("nothing to run: every -p and -n size is 0");
        Path path = model != null ? model : Cli.defaultModel();
        PrintWriter out = spec.commandLine().getOut();
        try (Checkpoint ckpt = Cli.load(path, null); MemoryScope converted = MemoryScope.detached("converted weights")) {
            LlamaWeights weights = dtype == null ? ckpt.weights() : Cli.convertMatrices(ckpt.weights(), Cli.parseDType(dtype), converted);
            LlamaModel llama = new LlamaModel(ckpt.config(), weights);
            int bos = ckpt.tokenizer().filter(t -> t.addBos() && t.bosId() >= 0).map(t -> t.bosId()).orElse(-1);
            String name = ModelBench.describe(ckpt.config(), weights);
            long size = ModelBench.sizeBytes(weights), params = ModelBench.params(weights);
            ModelBench bench = new ModelBench(llama, bos, seed);
            ModelBench.printHeader(out);
            out.flush();
            int before = Parallel.parallelism();
            try {
                for (int t : threadCounts) {
                    if (t != Parallel.parallelism()) Parallel.setThreads(t);
                    for (ModelBench.Test test : tests) {
                        double[] tps = bench.measure(test, repetitions, warmups, warmupSeconds, what -> progress(t + " threads, " + what));
                        clearProgress();
                        ModelBench.printRow(out, new ModelBench.Row(name, size, params, Backends.cpu().name(), t, test.name(), tps));
                    }
                }
            } finally {
                if (Parallel.parallelism() != before) Parallel.setThreads(before);
            }
        }
        return 0;
    }

    private Integer kernels() {
        Backend chosen = Backends.cpu();
        Backend scalar = Backends.scalar();
        List<Result> results = new ArrayList<>();
        try (MemoryScope scope = MemoryScope.open("bench")) {
            int n = 384;
            Tensor a = Tensor.randn(1, 1, n, n), b = Tensor.randn(2, 1, n, n), c = Tensor.zeros(DType.F32, 1, n, n);
            int rows = 2048, cols = 1024;
            Tensor x = Tensor.randn(3, rows, cols), y = Tensor.zeros(DType.F32, rows, cols), w = Tensor.randn(4, cols);
            List<Case> cases = List.of(
                    new Case("matmul " + n + "x" + n + "x" + n, "GFLOP/s", 2.0 * n * n * n / 1e9,
                            () -> chosen.matmul(a, b, c), () -> scalar.matmul(a, b, c)),
                    new Case("softmax " + rows + "x" + cols, "GB/s", 8.0 * rows * cols / 1e9,
                            () -> chosen.softmax(x, y, 1, false, false), () -> scalar.softmax(x, y, 1, false, false)),
                    new Case("rmsnorm " + rows + "x" + cols, "GB/s", 8.0 * rows * cols / 1e9,
                            () -> chosen.rmsnorm(x, w, 1e-5f, y), () -> scalar.rmsnorm(x, w, 1e-5f, y)));
            int step = 0, steps = cases.size() * 2;
            for (Case k : cases) {
                progress(++step, steps, k.name() + " on " + chosen.name());
                double fast = k.work() / medianSeconds(k.onChosen());
                progress(++step, steps, k.name() + " on scalar");
                double slow = k.work() / medianSeconds(k.onScalar());
                results.add(new Result(k.name(), k.unit(), fast, slow));
            }
        }
        System.err.print("\r" + " ".repeat(72) + "\r");
        System.out.printf(Locale.ROOT, "%-22s %9s %12s %12s %8s%n", "case", "unit", chosen.name(), "scalar", "speedup");
        for (Result r : results) {
            System.out.printf(Locale.ROOT, "%-22s %9s %12.2f %12.2f %7.1fx%n", r.name(), r.unit(), r.chosen(), r.scalar(), r.chosen() / r.scalar());
        }
        return 0;
    }

    private static void progress(int step, int steps, String what) {
        System.err.printf(Locale.ROOT, "\r[%d/%d] %-60s", step, steps, what);
        System.err.flush();
    }

    /** One overwritten status line on stderr, so stdout stays the bare table. */
    private static void progress(String what) {
        System.err.printf(Locale.ROOT, "\r%-72.72s", what);
        System.err.flush();
    }

    private static void clearProgress() {
        System.err.print("\r" + " ".repeat(72) + "\r");
        System.err.flush();
    }

    /** Median wall time of repeated runs after one warm-up, within about {@code seconds}. */
    private double medianSeconds(Runnable body) {
        long budget = (long) (seconds * 1e9);
        long start = System.nanoTime();
        body.run();
        List<Long> times = new ArrayList<>();
        while (times.size() < 3 || (System.nanoTime() - start < budget && times.size() < 200)) {
            long t0 = System.nanoTime();
            body.run();
            times.add(System.nanoTime() - t0);
            if (System.nanoTime() - start > 4 * budget) break;
        }
        long[] sorted = times.stream().mapToLong(Long::longValue).toArray();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2] / 1e9;
    }
}
