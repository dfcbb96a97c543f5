package dev.corvus.jmh;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.Tensor;
import dev.corvus.vector.Gemm;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;

/**
 * {@link LinearBenchmark}'s products timed by the CPU time of the one thread that runs them,
 * alternating the small-m path and its packed baseline call by call, best of {@code calls}: on a
 * machine that other jobs keep busy, wall-clock JMH scores of two threads scatter by 2x, while
 * the CPU time a single thread spends on a product barely moves. Runs on one thread
 * ({@code corvus.threads} is set to 1). Prints one tab-separated line per case: dtype, N x K,
 * rows, then milliseconds and GFLOP/s of each path and their ratio. numpy's single-thread
 * baseline, timed the same way, is in {@code jmh/linear-vs-numpy.sh --cpu-time}.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar \
 *     dev.corvus.jmh.LinearReport [dtypes F32,Q8_0,Q4_K] [weights 8192x2048,2048x8192] [rows 16,64,128,512] [calls 7]
 * </pre>
 */
public final class LinearReport {
    private LinearReport() {}

    public static void main(String[] args) {
        String[] dtypes = (args.length > 0 ? args[0] : "F32,Q8_0,Q4_K").split(",");
        String[] weights = (args.length > 1 ? args[1] : "8192x2048,2048x8192").split(",");
        String[] rowCounts = (args.length > 2 ? args[2] : "16,64,128,512").split(",");
        int calls = args.length > 3 ? Integer.parseInt(args[3]) : 7;
        Parallel.setThreads(1);
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        Backend vector = BenchmarkSupport.backend("vector");
        System.out.println("dtype\tNxK\trows\tvector ms\tvector GF/s\tpacked ms\tpacked GF/s\tvector/packed speed");
        for (String dtype : dtypes) {
            for (String weight : weights) {
                String[] nk = weight.split("x");
                int n = Integer.parseInt(nk[0]), k = Integer.parseInt(nk[1]);
                DType type = DType.valueOf(dtype);
                try (MemoryScope scope = MemoryScope.detached("linear-report")) {
                    Tensor w = BenchmarkSupport.randomWeight(scope, type, n, k);
                    Tensor wt = w.t().unsqueeze(0);
                    for (String r : rowCounts) {
                        int m = Integer.parseInt(r);
                        Tensor x = Tensor.randn(scope, 1, 1f, 1, m, k);
                        Tensor y = Tensor.zeros(scope, DType.F32, 1, m, n);
                        long bestVector = Long.MAX_VALUE, bestPacked = Long.MAX_VALUE;
                        for (int call = -3; call < calls; call++) { // three untimed calls for the JIT
                            long t0 = cpu.getCurrentThreadCpuTime();
                            vector.matmul(x, wt, y);
                            long t1 = cpu.getCurrentThreadCpuTime();
                            Gemm.gemmWeightsPacked(m, n, k, x.segment(), x.byteOffset(), k, 1, type, w.segment(), w.byteOffset(),
                                    y.segment(), y.byteOffset(), n);
                            long t2 = cpu.getCurrentThreadCpuTime();
                            if (call >= 0) {
                                bestVector = Math.min(bestVector, t1 - t0);
                                bestPacked = Math.min(bestPacked, t2 - t1);
                            }
                        }
                        double flops = 2.0 * m * n * k;
                        System.out.println(String.format(Locale.ROOT, "%s\t%s\t%d\t%.2f\t%.1f\t%.2f\t%.1f\t%.2f", dtype, weight, m,
                                bestVector / 1e6, flops / bestVector, bestPacked / 1e6, flops / bestPacked,
                                (double) bestPacked / bestVector));
                    }
                }
            }
        }
    }
}
