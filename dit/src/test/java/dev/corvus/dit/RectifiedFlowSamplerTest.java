package dev.corvus.dit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.comm.InJvmCluster;
import dev.corvus.dit.DitConfig.Schedule;
import dev.corvus.dit.VideoDiT.Init;
import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.dit.VideoDiT.Weights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Euler sampling of the rectified flow: the step rule, and the same video on one device and under sequence parallelism. */
class RectifiedFlowSamplerTest {
    /** 4 frames of 8×8 RGB in 2×2 patches: S = 16 patches, T' = 4. */
    static final DitConfig CONFIG = new DitConfig(4, 8, 8, 3, 1, 2, 2, 16, 4, 2, 32, 3, 2, 8, 16, Schedule.STDIT, 1e-6f);
    static final int[] CLASSES = {1, 2};
    static final int STEPS = 3;

    @TempDir Path dir;

    @Test
    void eulerStepsFollowTheVelocityAtEachTime() {
        try (MemoryScope scope = MemoryScope.open("euler")) {
            int steps = 4;
            // v(x, t) = t everywhere: x_1 = x_0 + dt · (0 + dt + 2dt + 3dt) = x_0 + 6 dt², so every time in the loop is checked.
            RectifiedFlowSampler.Velocity ramp = (x, t, c) -> {
                for (float ti : t) assertThat(ti).isEqualTo(t[0]);
                return Tensor.full(t[0], x.shape());
            };
            Tensor sample = RectifiedFlowSampler.sample(ramp, CONFIG, CLASSES, steps, 9, scope);
            Tensor noise = Tensor.randn(scope, 9, 1f, 2, 4, 8, 8, 3);
            float[] x0 = noise.toFloatArray(), x1 = sample.toFloatArray();
            float dt = 1f / steps;
            for (int i = 0; i < x0.length; i++) assertThat((double) x1[i]).isCloseTo(x0[i] + 6 * dt * dt, org.assertj.core.data.Offset.offset(1e-5));
        }
    }

    @ParameterizedTest(name = "{0} P={1}")
    @CsvSource({"DSP,2", "DSP,3", "DSP,4", "RING,3", "ULYSSES,4"})
    void parallelSamplingGivesTheOneDeviceVideo(Scheme scheme, int p) throws Exception {
        float[] expected;
        try (MemoryScope scope = MemoryScope.open("one-device")) {
            Weights w = VideoDiT.initialise(CONFIG, 5, Init.RANDOM, scope);
            Tensor sample = RectifiedFlowSampler.sample(RectifiedFlowSampler.of(w), CONFIG, CLASSES, STEPS, 17, scope);
            expected = sample.toFloatArray();
            Path png = dir.resolve("sample.png");
            VideoStrip.write(png, sample, -3, 3, 2);
            BufferedImage img = ImageIO.read(png.toFile());
            assertThat(img.getWidth()).isEqualTo((4 * 9 - 1) * 2);
            assertThat(img.getHeight()).isEqualTo((2 * 9 - 1) * 2);
        }
        List<float[]> samples = InJvmCluster.run(p, Duration.ofSeconds(60), comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Weights w = VideoDiT.initialise(CONFIG, 5, Init.RANDOM, scope);
                return RectifiedFlowSampler.sample(RectifiedFlowSampler.of(comm, scheme, w), CONFIG, CLASSES, STEPS, 17, scope).toFloatArray();
            }
        });
        // Noise is N(0, 1) and the random-weight velocity is O(1): the sample moved away from the noise, and every rank agrees with one device.
        try (MemoryScope scope = MemoryScope.open("noise")) {
            assertThat(VideoDiTTest.maxAbsDiff(expected, Tensor.randn(scope, 17, 1f, 2, 4, 8, 8, 3).toFloatArray())).isGreaterThan(0.1f);
        }
        for (int r = 0; r < p; r++) Close.assertAllClose(scheme + " sample on rank " + r, expected, samples.get(r), 1e-4, 1e-4);
    }
}
