package dev.corvus.jmh;

import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Warmup;

/** The scalar reference backend on the GEMM shapes it finishes in seconds: the same-run baseline for {@link GemmBenchmark}. */
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 2)
public class GemmScalarBaselineBenchmark extends GemmCase {
    @Param({"scalar"})
    public String backend;

    @Param({"256x256x256", "512x288x768", "1x4096x4096"})
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
