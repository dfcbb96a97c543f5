package dev.corvus.jmh;

import org.openjdk.jmh.annotations.Param;

/**
 * F32 GEMM C[M,N] = A[M,K]·B[K,N] on the Vector API backend. Shapes are "MxKxN"; GFLOP/s =
 * 2·M·K·N / time. Its same-run baselines: {@link GemmScalarBaselineBenchmark} (the scalar
 * reference, on the shapes it finishes in seconds) and numpy through {@code jmh/sgemm-vs-numpy.sh}.
 */
public class GemmBenchmark extends GemmCase {
    @Param({"vector"})
    public String backend;

    @Param({"256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048", "512x288x768", "1x4096x4096"})
    public String shape;

    @Override
    String backendName() {
        return backend;
    }

    @Override
    String shapeSpec() {
        return shape;
    }
}
