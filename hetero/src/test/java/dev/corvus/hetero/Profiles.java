package dev.corvus.hetero;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Map;
import java.util.Optional;

/** Synthetic profiles for solver and planner tests, and the OpenCL skip. */
final class Profiles {
    private Profiles() {}

    private static volatile boolean printed;

    /** Skips the test, saying why, when no OpenCL device is usable. */
    static void assumeOpenCl() {
        Optional<String> why = DeviceSide.unavailableReason();
        if (why.isPresent() && !printed) {
            printed = true;
            System.err.println("Skipping HeteGen device tests: " + why.get());
        }
        assumeTrue(why.isEmpty(), () -> "no OpenCL: " + why.orElse(""));
    }

    /**
     * Runs the CPU GEMV/GEMM kernels until C2 has compiled every path the tests take. The Vector
     * API's float reduceLanes may add lanes in a different order interpreted and compiled, so
     * "bitwise equal" holds between runs in the same JIT state. The sizes cover each loop of the
     * dot products (whole 4-vector blocks, single vectors, a scalar tail): a path C2 never saw
     * would deoptimise the first time a test reached it.
     */
    static void warmCpuKernels() {
        try (MemoryScope s = MemoryScope.open("warm-up")) {
            for (DType t : new DType[] {DType.F32, DType.Q8_0}) {
                for (int k : t == DType.F32 ? new int[] {96, 100} : new int[] {96, 32}) {
                    Tensor w = Tensor.randn(s, k, 0.5f, 40, k);
                    if (t != DType.F32) w = Ops.convert(w, t);
                    for (int m : new int[] {1, 2, 37}) {
                        Tensor x = Tensor.randn(s, m, 1f, m, k);
                        for (int i = 0; i < (m > 16 ? 300 : 3000); i++) Ops.linear(x, w, null);
                    }
                }
            }
        }
    }

    /** A machine with the given GEMV bandwidths and bus (GB/s), flops 100x the bandwidth, no fixed costs unless given. */
    static DeviceProfile synthetic(double cpuGBs, double deviceGBs, double busGBs, double fixedSeconds) {
        var cpu = Map.of(DType.F32, new DeviceProfile.Throughput(cpuGBs * 1e9, cpuGBs * 1e11),
                DType.Q8_0, new DeviceProfile.Throughput(cpuGBs * 1e9, cpuGBs * 5e10));
        var dev = Map.of(DType.F32, new DeviceProfile.Throughput(deviceGBs * 1e9, deviceGBs * 1e11));
        return new DeviceProfile("synthetic cpu", 4, cpu, fixedSeconds, "synthetic device", false, dev, fixedSeconds, busGBs * 1e9, busGBs * 1e9,
                fixedSeconds);
    }
}
