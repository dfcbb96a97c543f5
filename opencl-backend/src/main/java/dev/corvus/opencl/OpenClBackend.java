package dev.corvus.opencl;

import dev.corvus.opencl.cl.ClBuffer;
import dev.corvus.opencl.cl.ClContext;
import dev.corvus.opencl.cl.ClDevice;
import dev.corvus.opencl.cl.ClKernel;
import dev.corvus.opencl.cl.ClQueue;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.DeviceMemory;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.RopeTable;
import dev.corvus.tensor.Storage;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;

/**
 * The Backend SPI on one OpenCL device. Tensors live in {@link ClBuffer}s owned by their
 * MemoryScope; ops are enqueued on one in-order {@link #queue()} without waiting, and a transfer
 * back to the host (a blocking read on the same queue) sees every op before it.
 *
 * <p>Adding a kernel: put {@code foo.cl} under {@code src/main/resources/dev/corvus/opencl/kernels/}
 * (it may {@code #include "common.cl"}), then
 *
 * <pre>{@code
 * ClKernel k = programs().kernel("foo.cl", "-DTILE=16", "foo_f32");   // built once, cached
 * synchronized (k) {                                                  // kernels are shared
 *     k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(out)).arg(3, out.offset()).arg(4, n);
 *     queue().run(k, new long[] {n}, null);                           // or submit(...) for a ClEvent
 * }
 * }</pre>
 *
 * Offsets are passed in elements: a device tensor may be a view into a larger buffer.
 */
public final class OpenClBackend implements Backend, AutoCloseable {
    private static final String EXACT = "-cl-fp32-correctly-rounded-divide-sqrt";

    private final ClDevice clDevice;
    private final Device device;
    private final ClContext context;
    private final ClQueue queue;
    private final ClQueue transferQueue;
    private final ProgramCache programs;

    OpenClBackend(ClDevice clDevice, Device device) {
        this.clDevice = clDevice;
        this.device = device;
        this.context = ClContext.create(clDevice);
        this.queue = context.inOrderQueue();
        this.transferQueue = context.inOrderQueue();
        this.programs = new ProgramCache(context);
    }

    // ---------------------------------------------------------------- the public OpenCL side

    public ClDevice clDevice() {
        return clDevice;
    }

    public Device device() {
        return device;
    }

    public ClContext context() {
        return context;
    }

    /** The in-order queue every op runs on. */
    public ClQueue queue() {
        return queue;
    }

    /**
     * A second in-order queue for transfers that should overlap compute; order it against
     * {@link #queue()} with events ({@code writeAsync} returns one; pass it in a launch's wait list).
     */
    public ClQueue transferQueue() {
        return transferQueue;
    }

    public ProgramCache programs() {
        return programs;
    }

    /** The buffer behind a tensor on this device. */
    public ClBuffer buffer(Tensor t) {
        DeviceMemory m = t.storage().deviceMemory();
        if (!(m instanceof ClBuffer b) || b.context() != context) {
            throw new IllegalArgumentException("tensor on " + t.device() + " is not in an OpenCL buffer of " + device);
        }
        return b;
    }

    /** Waits for every op enqueued so far (errors of asynchronous commands surface here). */
    public void synchronize() {
        queue.finish();
        transferQueue.finish();
    }

    /** Releases programs, queues and the context (tests; the provider keeps backends for the JVM's life). */
    @Override
    public void close() {
        synchronize();
        programs.close();
        transferQueue.close();
        queue.close();
        context.close();
    }

    // ---------------------------------------------------------------- Backend

    @Override
    public String name() {
        return "opencl";
    }

    @Override
    public String description() {
        return "OpenCL on " + device + ": " + clDevice + " (" + clDevice.shortVersion() + ", " + clDevice.computeUnits() + " compute units)";
    }

    @Override
    public Tensor allocate(MemoryScope scope, DType dtype, int... shape) {
        long n = 1;
        for (int s : shape) n = Math.multiplyExact(n, s);
        long bytes = dtype.byteSize(n);
        ClBuffer buf = context.buffer(bytes);
        try {
            queue.fillZero(buf, 0, bytes);
            return Tensor.wrap(Storage.onDevice(buf, scope, device), dtype, 0, shape);
        } catch (RuntimeException e) {
            if (!buf.isClosed()) buf.close();
            throw e;
        }
    }

    @Override
    public void transfer(Tensor src, Tensor dst) {
        long bytes = src.dtype().byteSize(src.numel());
        if (src.storage().isHost()) {
            queue.write(buffer(dst), dst.byteOffset(), src.segment().asSlice(src.byteOffset(), bytes));
        } else {
            queue.read(buffer(src), src.byteOffset(), dst.segment().asSlice(dst.byteOffset(), bytes));
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        long n = src.numel();
        if (n == 0) return;
        DType s = src.dtype(), d = dst.dtype();
        if (s == d && src.isContiguous() && dst.isContiguous()) {
            queue.copy(buffer(src), src.byteOffset(), buffer(dst), dst.byteOffset(), s.byteSize(n));
        } else if (s == DType.Q8_0 && d == DType.F32) {
            requireContiguous("copy", src, dst);
            launch1("copy.cl", EXACT, "q8_to_f32", n, k -> k.arg(0, buffer(src)).arg(1, src.byteOffset()).arg(2, buffer(dst))
                    .arg(3, dst.offset()).arg(4, n));
        } else if (s == DType.F32 && d == DType.Q8_0) {
            requireContiguous("copy", src, dst);
            long blocks = n / 32;
            launch1("copy.cl", EXACT, "f32_to_q8", blocks, k -> k.arg(0, buffer(src)).arg(1, src.offset()).arg(2, buffer(dst))
                    .arg(3, dst.byteOffset()).arg(4, blocks));
        } else if (s.isQuantized() || d.isQuantized() || (s == DType.I32) != (d == DType.I32)) {
            throw new IllegalArgumentException("opencl copy: cannot copy " + s + " to " + d);
        } else {
            int rank = src.rank();
            if (rank > 8) throw new UnsupportedOperationException("opencl copy: rank " + rank + " > 8 for a strided copy");
            long[] shape = new long[8], ss = new long[8], ds = new long[8];
            for (int i = 0; i < 8; i++) {
                int dim = i - (8 - rank);
                shape[i] = dim < 0 ? 1 : src.size(dim);
                ss[i] = dim < 0 ? 0 : src.stride(dim);
                ds[i] = dim < 0 ? 0 : dst.stride(dim);
            }
            String name = "copy_" + suffix(s) + "_" + suffix(d);
            launch1("copy.cl", EXACT, name, n, k -> k.arg(0, buffer(src)).arg(1, src.offset()).arg(2, ss).arg(3, buffer(dst))
                    .arg(4, dst.offset()).arg(5, ds).arg(6, shape).arg(7, n));
        }
    }

    private static String suffix(DType t) {
        return switch (t) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            case I32 -> "i32";
            case Q8_0 -> "q8";
        };
    }

    private static void requireContiguous(String op, Tensor... ts) {
        for (Tensor t : ts) {
            if (!t.isContiguous()) throw new IllegalArgumentException("opencl " + op + ": " + t.dtype() + " operand must be contiguous");
        }
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        long n = a.numel(), m = b.numel();
        int code = switch (op) {
            case ADD -> 0;
            case SUB -> 1;
            case MUL -> 2;
            case DIV -> 3;
        };
        launch1("elementwise.cl", EXACT, "binary_f32", n, k -> k.arg(0, buffer(a)).arg(1, a.offset()).arg(2, buffer(b)).arg(3, b.offset())
                .arg(4, m).arg(5, buffer(out)).arg(6, out.offset()).arg(7, code));
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        int code = switch (op) {
            case EXP -> 0;
            case SILU -> 1;
            case RELU -> 2;
            case NEG -> 3;
            case TANH -> 4;
            case GELU_TANH -> 5;
            case GELU_ERF -> 6;
        };
        launch1("elementwise.cl", EXACT, "unary_f32", x.numel(), k -> k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(out))
                .arg(3, out.offset()).arg(4, code));
    }

    @Override
    public void scale(Tensor x, float factor, Tensor out) {
        launch1("elementwise.cl", EXACT, "scale_f32", x.numel(), k -> k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, factor)
                .arg(3, buffer(out)).arg(4, out.offset()));
    }

    @Override
    public void reduce(ReduceOp op, Tensor x, Tensor out) {
        int cols = cols(x);
        long rows = out.numel();
        int code = switch (op) {
            case SUM -> 0;
            case MEAN -> 1;
            case MAX -> 2;
        };
        ClKernel k = programs.kernel("reduce.cl", "", "reduce_f32");
        int wg = groupSize(k);
        synchronized (k) {
            k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(out)).arg(3, out.offset()).arg(4, cols).arg(5, code).local(6, 4L * wg);
            queue.run(k, new long[] {rows * wg}, new long[] {wg});
        }
    }

    @Override
    public void argmax(Tensor x, Tensor out) {
        int cols = cols(x);
        long rows = out.numel();
        ClKernel k = programs.kernel("reduce.cl", "", "argmax_f32");
        int wg = groupSize(k);
        synchronized (k) {
            k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(out)).arg(3, out.offset()).arg(4, cols).local(5, 4L * wg).local(6, 4L * wg);
            queue.run(k, new long[] {rows * wg}, new long[] {wg});
        }
    }

    @Override
    public void embedding(Tensor table, Tensor ids, Tensor out) {
        long d = table.size(1), count = ids.numel();
        if (d == 0 || count == 0) return;
        DType t = table.dtype();
        if (t == DType.I32) throw new IllegalArgumentException("opencl embedding: an I32 table holds no embeddings");
        long tableOffset = t == DType.Q8_0 ? table.byteOffset() : table.offset();
        ClKernel k = programs.kernel("embedding.cl", "", "embedding_" + suffix(t));
        synchronized (k) {
            k.arg(0, buffer(table)).arg(1, tableOffset).arg(2, buffer(ids)).arg(3, ids.offset()).arg(4, buffer(out)).arg(5, out.offset()).arg(6, d);
            queue.run(k, new long[] {d, count}, null);
        }
    }

    // ---------------------------------------------------------------- not written yet

    @Override
    public void matmul(Tensor a, Tensor b, Tensor out) {
        throw notYet("matmul");
    }

    @Override
    public void softmax(Tensor x, Tensor out, int queries, boolean causal, boolean log) {
        throw notYet("softmax");
    }

    @Override
    public void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) {
        throw notYet("rmsnorm");
    }

    @Override
    public void layernorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        throw notYet("layernorm");
    }

    @Override
    public void rope(Tensor x, Tensor out, RopeTable table, int rowsPerPosition, RopeStyle style) {
        throw notYet("rope");
    }

    private static UnsupportedOperationException notYet(String op) {
        return new UnsupportedOperationException("opencl " + op + ": kernel not written yet");
    }

    // ---------------------------------------------------------------- launching

    /** Arms a cached kernel and runs it over a 1-D range of {@code n} items (skipped when n == 0). */
    private void launch1(String resource, String options, String kernel, long n, java.util.function.Consumer<ClKernel> args) {
        if (n == 0) return;
        ClKernel k = programs.kernel(resource, options, kernel);
        synchronized (k) {
            args.accept(k);
            queue.run(k, new long[] {n}, null);
        }
    }

    /** A power-of-two work-group size for row reductions: 64, or less if the kernel cannot run that wide. */
    private static int groupSize(ClKernel k) {
        long max = Math.min(64, k.maxWorkGroupSize());
        return (int) Long.highestOneBit(Math.max(1, max));
    }

    private static int cols(Tensor x) {
        return x.rank() == 0 ? 1 : x.size(-1);
    }
}
