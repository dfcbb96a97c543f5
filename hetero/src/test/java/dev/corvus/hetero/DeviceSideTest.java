package dev.corvus.hetero;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.Capability;
import org.junit.jupiter.api.Test;

/** DeviceSide finds its device through the tensor SPI and refuses what it cannot split with, by name. */
class DeviceSideTest {
    @Test
    void anUnknownBackendIsNamedWithWhatToAdd() {
        assertThat(DeviceSide.unavailableReason("tpu:3")).hasValueSatisfying(why ->
                assertThat(why).contains("no backend named 'tpu'").contains("corvus-opencl-backend"));
        assertThatThrownBy(() -> DeviceSide.open("tpu")).isInstanceOf(IllegalStateException.class).hasMessageContaining("'tpu' is not available");
    }

    @Test
    void theCpuIsNoDeviceToSplitWith() {
        assertThat(DeviceSide.unavailableReason("cpu")).isEmpty();
        assertThatThrownBy(() -> DeviceSide.open("cpu")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'cpu' is the CPU");
    }

    @Test
    void anOpenClDeviceComesThroughBackendsWithDeviceMemory() {
        Profiles.assumeOpenCl();
        try (DeviceSide side = DeviceSide.open(null)) {
            assertThat(side.device().kind()).startsWith("opencl");
            assertThat(side.backend().has(Capability.DEVICE_MEMORY)).isTrue();
            assertThat(side.description()).startsWith(side.device() + " ");
        }
    }
}
