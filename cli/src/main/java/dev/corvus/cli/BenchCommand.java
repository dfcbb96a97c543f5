package dev.corvus.cli;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A quick look at kernel speed: matmul, softmax and rmsnorm on the chosen backend against the
 * scalar reference, same shapes, same run. For careful numbers use the JMH suites in jmh/.
 */
@Command(name = "bench", description = "Quick (< 1 min) matmul/softmax/rmsnorm speed of the chosen backend against the scalar one.")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--seconds", description = "Time spent measuring each case (default ${DEFAULT-VALUE}).", defaultValue = "2")
    double seconds;

    private record Case(String name, String unit, double work, Runnable onChosen, Runnable onScalar) {}

    private record Result(String name, String unit, double chosen, double scalar) {}

    @Override
    public Integer call() {
        if (!(seconds > 0 && seconds <= 3600)) throw new IllegalArgumentException("--seconds " + seconds + ": expected a time above 0 and at most 3600");
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
