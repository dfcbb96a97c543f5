package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Tensor;
import java.util.Objects;

/**
 * {@link dev.corvus.tensor.Ops#toDevice}: the operand on {@code device}, itself if already there,
 * else a contiguous copy made by the device's backend (host to device, device to host, or through
 * the host between two devices). Same shape and dtype; the gradient goes back the same way.
 *
 * @param device where the result lives
 */
public record ToDevice(Device device) {
    public static final OpDef<ToDevice> OP = new Def();

    public ToDevice {
        Objects.requireNonNull(device, "toDevice: the target device is null");
    }

    /**
     * {@code x} on {@code device}, with a copy allocated in {@code scope} (long-lived weights, say);
     * a {@link Tape} recording on this thread keeps the move, as {@link OpDef#run(Record, Tensor...)} would.
     */
    public static Tensor move(Tensor x, Device device, MemoryScope scope) {
        ToDevice attrs = new ToDevice(device);
        if (x.device().equals(device)) return x; // before any check, as it always was: nothing moves
        Tape tape = Tape.recording();
        if (tape == null) return Def.move(OpSupport.backend(OP.name(), x), device, scope, x);
        return tape.record(OP, attrs, new Tensor[] {x}, () -> Def.move(OpSupport.backend(OP.name(), x), device, scope, x));
    }

    private static final class Def extends OpDef<ToDevice> {
        Def() {
            super("toDevice", "Ops.toDevice", ToDevice.class);
        }

        @Override
        public Output infer(ToDevice attrs, Operand... in) {
            return new Output(in[0].dtype(), in[0].shape());
        }

        @Override
        public Device outputDevice(ToDevice attrs, Device operands) {
            return attrs.device();
        }

        @Override
        public Tensor run(Backend be, ToDevice attrs, Tensor... in) {
            return move(be, attrs.device(), MemoryScope.forOutputOf(in[0]), in[0]);
        }

        /** {@code be} drives x's device: it makes a strided x contiguous and, when x is not on the host, reads it back. */
        static Tensor move(Backend be, Device device, MemoryScope scope, Tensor x) {
            if (x.device().equals(device)) return x;
            if (!x.device().equals(Device.CPU) && !device.equals(Device.CPU)) {
                Tensor host = move(be, Device.CPU, MemoryScope.forOutputOf(x), x);
                return move(Backends.cpu(), device, scope, host);
            }
            Tensor src = x.isContiguous() ? x : Copy.OP.run(be, Copy.ATTRS, x);
            if (device.equals(Device.CPU)) {
                Tensor host = Tensor.zeros(scope, x.dtype(), x.shape());
                be.transfer(src, host);
                return host;
            }
            Backend target = Backends.of(device);
            Tensor out = target.allocate(scope, x.dtype(), x.shape());
            target.transfer(src, out);
            return out;
        }

        /** The value moves unchanged: the reference is a contiguous host copy made by the scalar backend. */
        @Override
        public Tensor reference(ToDevice attrs, Tensor... in) {
            Tensor host = move(Backends.of(in[0].device()), Device.CPU, MemoryScope.forOutputOf(in[0]), in[0]);
            return Copy.OP.run(Backends.scalar(), Copy.ATTRS, host);
        }

        @Override
        public Backward<ToDevice> backward() {
            return (attrs, in, out, g) -> new Tensor[] {ToDevice.move(g, in[0].device(), MemoryScope.forOutputOf(g))};
        }

        @Override
        public int[] flow(ToDevice attrs, Operand[] in, int[] outShape, int d) {
            return new int[] {d};
        }
    }
}
