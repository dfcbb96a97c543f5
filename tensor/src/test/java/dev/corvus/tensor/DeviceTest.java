package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Moving tensors between devices, mixing them, and releasing device memory with the scope. */
class DeviceTest {
    @Test
    void roundTripThroughADeviceAndReleaseOnClose() {
        int before = FakeDeviceProvider.LIVE_BUFFERS.get();
        try (MemoryScope s = MemoryScope.open()) {
            Tensor host = Tensor.randn(3, 4, 5);
            Device fake = Backends.device("fake");
            Tensor onDevice = host.t().to(fake);
            assertThat(onDevice.device()).isEqualTo(fake);
            assertThat(onDevice.to(fake)).isSameAs(onDevice);
            assertThat(onDevice.toFloatArray()).containsExactly(host.t().contiguous().toFloatArray());
            assertThat(onDevice.get(2, 1)).isEqualTo(host.get(1, 2));
            assertThat(Ops.copy(onDevice).device()).isEqualTo(fake);
            assertThat(FakeDeviceProvider.LIVE_BUFFERS.get() - before).isEqualTo(2);
            assertThatThrownBy(onDevice::segment).isInstanceOf(IllegalStateException.class).hasMessageContaining("fake:0").hasMessageContaining("to(Device.CPU)");
            assertThatThrownBy(() -> Ops.add(onDevice, host.t())).hasMessageContaining("different devices").hasMessageContaining("fake:0").hasMessageContaining("cpu");
        }
        assertThat(FakeDeviceProvider.LIVE_BUFFERS.get()).isEqualTo(before);
    }

    @Test
    void unknownDevicesAreNamed() {
        assertThatThrownBy(() -> Backends.device("tpu:3")).hasMessageContaining("unknown device 'tpu:3'");
        assertThatThrownBy(() -> Backends.of(new Device("tpu", 0))).hasMessageContaining("no backend").hasMessageContaining("tpu:0");
    }
}
