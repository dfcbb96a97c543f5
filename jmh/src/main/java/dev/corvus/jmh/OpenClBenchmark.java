package dev.corvus.jmh;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.opencl.OpenClBackend;
import dev.corvus.opencl.OpenClBackendProvider;
import dev.corvus.opencl.OpenClDevices;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
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
 * The OpenCL backend against the Vector API backend on the same ops in the same run: SGEMM 512³
 * and 1024³ (GFLOP/s = 2·n³ / time), decode GEMV with a 4096x4096 F32 or Q8_0 weight (GB/s =
 * weight bytes / time), softmax and RMSNorm over 1024x1024, causal flash attention (B 1, H 8,
 * N 1024, d 64). Operands are prepared on the device in setup; an OpenCL sample ends with
 * {@code queue().finish()}, so it times the finished op.
 *
 * <p>{@code -p clDevice=opencl:P:D} picks another OpenCL device ("opencl" is the first GPU, else
 * the first device: PoCL on a machine without a GPU). Setup fails, saying why, without OpenCL.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx6g"})
public class OpenClBenchmark {
    @Param({"opencl", "vector"})
    public String backend;

    /** The OpenCL device spec used when backend=opencl. */
    @Param({"opencl"})
    public String clDevice;

    private MemoryScope scope;
    private Backend impl;
    private OpenClBackend cl;       // null for the Vector API
    private Tensor a512, b512, c512, a1024, b1024, c1024;
    private Tensor x, wF32, wQ8, y;
    private Tensor rows, rowsOut, gamma;
    private Tensor q, k, v, attnOut, attnLse;   // attention: B 1, H 8, N 1024, d 64

    @Setup(Level.Trial)
    public void setUp() {
        Device device = Device.CPU;
        if (backend.equals("opencl")) {
            OpenClDevices.unavailableReason().ifPresent(why -> {
                throw new IllegalStateException("OpenClBenchmark: OpenCL is unavailable: " + why);
            });
            device = Backends.device(clDevice);
            cl = OpenClBackendProvider.backend(device);
            impl = cl;
            System.out.println("# OpenCL device: " + cl.description());
        } else {
            impl = BenchmarkSupport.backend(backend);
        }
        scope = MemoryScope.detached("opencl-bench");
        a512 = on(device, Tensor.randn(scope, 1, 1, 1, 512, 512));
        b512 = on(device, Tensor.randn(scope, 2, 1, 1, 512, 512));
        c512 = on(device, Tensor.zeros(scope, DType.F32, 1, 512, 512));
        a1024 = on(device, Tensor.randn(scope, 3, 1, 1, 1024, 1024));
        b1024 = on(device, Tensor.randn(scope, 4, 1, 1, 1024, 1024));
        c1024 = on(device, Tensor.zeros(scope, DType.F32, 1, 1024, 1024));
        int n = 4096;
        x = on(device, Tensor.randn(scope, 5, 1, 1, 1, n));
        Tensor w32 = Tensor.randn(scope, 6, 0.05f, n, n);
        Tensor w8 = Tensor.zeros(scope, DType.Q8_0, n, n);
        Ops.copyInto(w32, w8);
        wF32 = on(device, w32).t().unsqueeze(0);        // weight layout: [1, K, N] with stride 1 along K
        wQ8 = on(device, w8).t().unsqueeze(0);
        y = on(device, Tensor.zeros(scope, DType.F32, 1, 1, n));
        rows = on(device, Tensor.randn(scope, 7, 1, 1024, 1024));
        rowsOut = on(device, Tensor.zeros(scope, DType.F32, 1024, 1024));
        gamma = on(device, Tensor.randn(scope, 8, 1, 1024));
        q = on(device, Tensor.randn(scope, 9, 1, 1, 8, 1024, 64));
        k = on(device, Tensor.randn(scope, 10, 1, 1, 8, 1024, 64));
        v = on(device, Tensor.randn(scope, 11, 1, 1, 8, 1024, 64));
        attnOut = on(device, Tensor.zeros(scope, DType.F32, 1, 8, 1024, 64));
        attnLse = on(device, Tensor.zeros(scope, DType.F32, 1, 8, 1024));
        done();
    }

    private static Tensor on(Device device, Tensor t) {
        return t.to(device);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        done();
        scope.close();
    }

    /** Waits for the device (no-op on the CPU). */
    private void done() {
        if (cl != null) cl.queue().finish();
    }

    @Benchmark
    public Tensor sgemm512() {
        impl.matmul(a512, b512, c512);
        done();
        return c512;
    }

    @Benchmark
    public Tensor sgemm1024() {
        impl.matmul(a1024, b1024, c1024);
        done();
        return c1024;
    }

    @Benchmark
    public Tensor gemv4096F32() {
        impl.matmul(x, wF32, y);
        done();
        return y;
    }

    @Benchmark
    public Tensor gemv4096Q8() {
        impl.matmul(x, wQ8, y);
        done();
        return y;
    }

    @Benchmark
    public Tensor softmax1024() {
        impl.softmax(rows, rowsOut, 1, false, false);
        done();
        return rowsOut;
    }

    @Benchmark
    public Tensor rmsnorm1024() {
        impl.rmsnorm(rows, gamma, 1e-5f, rowsOut);
        done();
        return rowsOut;
    }

    /**
     * Causal flash attention forward, B 1, H 8, N 1024, d 64: OpenCL's fused kernel, or on the CPU
     * the attention module's tiled flash attention (which allocates out and lse per call).
     */
    @Benchmark
    public Tensor attention1024() {
        Mask mask = Mask.causalBottomRight(1024, 1024);
        if (cl == null) return FlashAttention.forward(q, k, v, mask, 0.125f).out();
        cl.attention(q, k, v, true, mask.queryStart(), mask.keyStart(), 0.125f, attnOut, attnLse);
        done();
        return attnOut;
    }
}
