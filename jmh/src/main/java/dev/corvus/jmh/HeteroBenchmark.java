package dev.corvus.jmh;

import dev.corvus.hetero.SplitLatencyModel;
import dev.corvus.hetero.DeviceProfile;
import dev.corvus.hetero.DeviceSide;
import dev.corvus.hetero.LayerShape;
import dev.corvus.hetero.PhaseSplits;
import dev.corvus.hetero.SplitLinear;
import dev.corvus.hetero.SplitSolver;
import dev.corvus.model.ModelStore;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * HeteGen per layer at decode (m = 1): the measured latency of a {@link SplitLinear} at the
 * solver's α* against α* ± 0.1, pure offload (α = 0) and CPU only (α = 1), with the cost model's
 * prediction for each printed in setup ("# predicted ..."). Layers: stories15M's w1/w3 (768x288)
 * and w2 (288x768), and a 4096x4096 one. The device profile is the cached one
 * ({@code ~/.cache/corvus/hetero-profile-*.properties}), measured on first use.
 *
 * <p>{@code -p clDevice=opencl:P:D} picks the device. On PoCL both sides share the CPU, so no
 * speedup is expected; the point there is measured vs predicted, and α* vs its neighbours.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx6g"})
public class HeteroBenchmark {
    /** out x in. */
    @Param({"768x288", "288x768", "4096x4096"})
    public String layer;

    @Param({"F32"})
    public String dtype;

    /** "opt" (α*), "opt-0.1", "opt+0.1", "0" (pure offload), "1" (CPU only). */
    @Param({"opt", "opt-0.1", "opt+0.1", "0", "1"})
    public String alpha;

    @Param({"opencl"})
    public String clDevice;

    private MemoryScope scope;
    private DeviceSide device;
    private SplitLinear split;
    private Tensor x, out;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        String[] dims = layer.split("x");
        int n = Integer.parseInt(dims[0]), k = Integer.parseInt(dims[1]);
        device = DeviceSide.open(clDevice);
        DeviceProfile profile = DeviceProfile.loadOrMeasure(device, ModelStore.defaultCacheDir());
        LayerShape shape = new LayerShape("bench", n, k, DType.valueOf(dtype));
        SplitLatencyModel.Terms terms = new SplitLatencyModel(profile).terms(shape, 1);
        SplitSolver.Split best = SplitSolver.solve(terms, n);
        int rows = switch (alpha) {
            case "opt" -> best.rows();
            case "opt-0.1" -> SplitSolver.rowsFor(Math.max(0, best.alpha() - 0.1), n);
            case "opt+0.1" -> SplitSolver.rowsFor(Math.min(1, best.alpha() + 0.1), n);
            default -> SplitSolver.rowsFor(Double.parseDouble(alpha), n);
        };
        SplitSolver.Split chosen = SplitSolver.split(terms, rows, n);
        System.out.printf(Locale.ROOT, "# %s %s alpha=%s: k=%d/%d (alpha %.3f; alpha* %.3f), predicted %.1f us (CPU %.1f, device %.1f)%n", layer, dtype,
                alpha, rows, n, chosen.alpha(), best.alpha(), chosen.predictedSeconds() * 1e6, chosen.cpuSeconds() * 1e6, chosen.deviceSeconds() * 1e6);
        scope = MemoryScope.detached("hetero-bench");
        Tensor w = Tensor.randn(scope, 1, 0.05f, n, k);
        if (!dtype.equals("F32")) {
            Tensor f = w;
            w = Tensor.zeros(scope, DType.valueOf(dtype), n, k);
            Ops.copyInto(f, w);
        }
        x = Tensor.randn(scope, 2, 1f, 1, k);
        out = Tensor.zeros(scope, DType.F32, 1, n);
        split = new SplitLinear(layer, w, PhaseSplits.fixed(rows), rows < n ? device : null, SplitLinear.Options.DEFAULT);
    }

    @Benchmark
    public Tensor decode() {
        split.apply(x, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        split.close();
        device.close();
        scope.close();
    }
}
