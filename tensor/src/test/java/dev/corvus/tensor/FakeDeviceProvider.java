package dev.corvus.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A pretend accelerator for testing the device plumbing without one: "device memory" is a heap
 * array, and the only op it runs is copy. Registered through META-INF/services in the test tree.
 */
public final class FakeDeviceProvider implements BackendProvider {
    static final Device FAKE = new Device("fake", 0);
    static final AtomicInteger LIVE_BUFFERS = new AtomicInteger();

    static final class Memory implements DeviceMemory {
        final byte[] bytes;

        Memory(long size) {
            bytes = new byte[Math.toIntExact(size)];
            LIVE_BUFFERS.incrementAndGet();
        }

        public long byteSize() {
            return bytes.length;
        }

        public void release() {
            LIVE_BUFFERS.decrementAndGet();
        }
    }

    static final class FakeBackend implements Backend {
        public String name() {
            return "fake";
        }

        public String description() {
            return "a heap-array pretend device";
        }

        @Override
        public Tensor allocate(MemoryScope scope, DType dtype, int... shape) {
            Storage s = Storage.onDevice(new Memory(dtype.byteSize(Shapes.numel(shape))), scope, FAKE);
            return new Tensor(s, dtype, shape.clone(), Shapes.contiguousStrides(shape), 0);
        }

        @Override
        public void transfer(Tensor src, Tensor dst) {
            long n = src.dtype().byteSize(src.numel());
            if (src.storage().isHost()) {
                MemorySegment.copy(src.segment(), ValueLayout.JAVA_BYTE, src.byteOffset(), bytes(dst), (int) dst.byteOffset(), (int) n);
            } else {
                MemorySegment.copy(bytes(src), (int) src.byteOffset(), dst.segment(), ValueLayout.JAVA_BYTE, dst.byteOffset(), (int) n);
            }
        }

        private static byte[] bytes(Tensor t) {
            return ((Memory) t.storage().deviceMemory()).bytes;
        }

        public void copy(Tensor src, Tensor dst) {
            if (!src.isContiguous() || !dst.isContiguous() || src.dtype() != dst.dtype()) throw new UnsupportedOperationException("fake copy");
            System.arraycopy(bytes(src), (int) src.byteOffset(), bytes(dst), (int) dst.byteOffset(), (int) src.dtype().byteSize(src.numel()));
        }

        public void matmul(Tensor a, Tensor b, Tensor out) { throw new UnsupportedOperationException("fake"); }
        public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) { throw new UnsupportedOperationException("fake"); }
        public void unary(UnaryOp op, Tensor x, Tensor out) { throw new UnsupportedOperationException("fake"); }
        public void scale(Tensor x, float factor, Tensor out) { throw new UnsupportedOperationException("fake"); }
        public void softmax(Tensor x, Tensor out, int queries, boolean causal, boolean log) { throw new UnsupportedOperationException("fake"); }
        public void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) { throw new UnsupportedOperationException("fake"); }
        public void layernorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) { throw new UnsupportedOperationException("fake"); }
        public void rope(Tensor x, Tensor out, RopeTable table, int rowsPerPosition, RopeStyle style) { throw new UnsupportedOperationException("fake"); }
        public void embedding(Tensor table, Tensor ids, Tensor out) { throw new UnsupportedOperationException("fake"); }
        public void reduce(ReduceOp op, Tensor x, Tensor out) { throw new UnsupportedOperationException("fake"); }
        public void argmax(Tensor x, Tensor out) { throw new UnsupportedOperationException("fake"); }
    }

    private static final FakeBackend BACKEND = new FakeBackend();

    public String name() {
        return "fake";
    }

    public int priority() {
        return -1;
    }

    public Optional<String> unavailableReason() {
        return Optional.empty();
    }

    public Backend create() {
        return BACKEND;
    }

    @Override
    public Optional<Backend> forDevice(Device device) {
        return device.equals(FAKE) ? Optional.of(BACKEND) : Optional.empty();
    }

    @Override
    public Optional<Device> parseDevice(String spec) {
        return spec.equals("fake") ? Optional.of(FAKE) : Optional.empty();
    }

    @Override
    public List<String> describeDevices() {
        return List.of("fake:0 (test double)");
    }
}
