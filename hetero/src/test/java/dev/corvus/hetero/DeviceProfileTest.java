package dev.corvus.hetero;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeviceProfileTest {
    @Test
    void measuresTheCpuAndTheDeviceAndCachesTheResult(@TempDir Path dir) throws Exception {
        Profiles.assumeOpenCl();
        try (DeviceSide device = DeviceSide.open("opencl")) {
            long t0 = System.nanoTime();
            DeviceProfile p = DeviceProfile.loadOrMeasure(device, dir);
            double seconds = (System.nanoTime() - t0) * 1e-9;
            System.out.println("profile measured in " + seconds + " s:\n" + p.summary());
            assertThat(p.hasDevice()).isTrue();
            for (DType t : new DType[] {DType.F32, DType.Q8_0}) {
                assertThat(p.cpu().get(t).gemvBytesPerSecond()).isPositive().isFinite();
                assertThat(p.device().get(t).gemmFlopsPerSecond()).isPositive().isFinite();
            }
            assertThat(p.h2dBytesPerSecond()).isPositive().isFinite();
            assertThat(p.d2hBytesPerSecond()).isPositive().isFinite();
            assertThat(p.deviceLaunchSeconds()).isPositive();

            Path file = DeviceProfile.cacheFile(device, dir);
            assertThat(file.getFileName().toString()).startsWith("hetero-profile-").endsWith(".properties");
            assertThat(Files.isRegularFile(file)).isTrue();
            assertThat(DeviceProfile.loadOrMeasure(device, dir)).as("loaded from the cache").isEqualTo(p);
        }
    }

    @Test
    void cpuOnlyProfileRoundTrips(@TempDir Path dir) throws Exception {
        DeviceProfile p = DeviceProfile.measure(null);
        assertThat(p.hasDevice()).isFalse();
        Path file = dir.resolve("p.properties");
        p.save(file);
        assertThat(DeviceProfile.load(file)).isEqualTo(p);
        assertThat(p.summary()).contains("Device none");
    }

    @Test
    void badFilesSpeakPlainly(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("broken.properties");
        Files.writeString(file, "format=2\ncpu.threads=2\n");
        assertThatThrownBy(() -> DeviceProfile.load(file)).hasMessageContaining("has no cpu.name");
        Files.writeString(file, "cpu.threads=2\n");
        assertThatThrownBy(() -> DeviceProfile.load(file)).hasMessageContaining("has format null, expected 2");
    }
}
