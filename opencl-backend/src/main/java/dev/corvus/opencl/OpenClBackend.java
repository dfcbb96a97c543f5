package dev.corvus.opencl;

import dev.corvus.opencl.cl.Cl;
import dev.corvus.opencl.cl.ClBuffer;
import dev.corvus.opencl.cl.ClContext;
import dev.corvus.opencl.cl.ClDevice;
import dev.corvus.opencl.cl.ClKernel;
import dev.corvus.opencl.cl.ClQueue;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.Capability;
import dev.corvus.opencl.cl.ClEvent;
import dev.corvus.tensor.CommandQueue;
import dev.corvus.tensor.DeviceEvent;
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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The Backend SPI on one OpenCL device. Tensors live in {@link ClBuffer}s owned by their
 * MemoryScope; ops are enqueued on one in-order {@link #queue()} without waiting, and a transfer
 * back to the host (a blocking read on the same queue) sees every op before it.
 *
 * <p>Adding a kernel: put {@code foo.cl} under {@code src/main/resources/dev/corvus/opencl/kernels/}
 * (it may {@code #include "common.cl"}), name its kernels in {@link ClKernels} ({@code FOO_F32("foo.cl")}:
 * ClKernelsTest fails until source and table agree), then
 *
 * <pre>{@code
 * ClKernel k = programs().kernel(ClKernels.FOO_F32, "-DTILE=16");    // built once, cached
 * synchronized (k) {                                                  // kernels are shared
 *     k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(out)).arg(3, out.offset()).arg(4, n);
 *     queue().run(k, new long[] {n}, null);                           // or submit(...) for a ClEvent
 * }
 * }</pre>
 *
 * Offsets are passed in elements: a device tensor may be a view into a larger buffer.
 */
public final class OpenClBackend implements Backend, AutoCloseable {
    static final String EXACT = "-cl-fp32-correctly-rounded-divide-sqrt";

    /**
     * Build options of elementwise.cl and reduce.cl: their op codes, {@code -DOP_ADD=0 ...} from
     * the Java enums (a kernel's op argument is the constant's ordinal), so the one list is the enum.
     */
    static final String ELEMENTWISE = EXACT + codes("OP_", BinaryOp.values()) + codes("U_", UnaryOp.values()),
            REDUCE = codes("R_", ReduceOp.values());

    /** {@code -D<prefix><NAME>=<ordinal>} for every constant. */
    static String codes(String prefix, Enum<?>[] constants) {
        StringBuilder sb = new StringBuilder();
        for (Enum<?> c : constants) sb.append(" -D").append(prefix).append(c.name()).append('=').append(c.ordinal());
        return sb.toString();
    }

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
    @Override
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
    public boolean has(Capability capability) {
        return switch (capability) {
            case FUSED_ATTENTION, DEVICE_MEMORY, ASYNC_TRANSFER, PINNED_MEMORY -> true;
        };
    }

    /** PoCL and other OpenCL CPU devices run their kernels on the host's cores. */
    @Override
    public boolean sharesHostCores() {
        return clDevice.isCpu();
    }

    // ---------------------------------------------------------------- queues, events, pinned memory

    private ClQueue queue(CommandQueue q) {
        return q == CommandQueue.COMPUTE ? queue : transferQueue;
    }

    @Override
    public DeviceEvent transferAsync(Tensor src, Tensor dst, CommandQueue q, DeviceEvent... after) {
        Backend.requireTransferable("opencl transferAsync", src, dst);
        if (src.storage().isHost() == dst.storage().isHost()) {
            throw new IllegalArgumentException("opencl transferAsync: exactly one of src (on " + src.device() + ") and dst (on " + dst.device()
                    + ") must be in host memory; copy between device tensors with Ops.copy");
        }
        long bytes = src.dtype().byteSize(src.numel());
        ClEvent[] waits = clEvents(after);
        if (bytes == 0) {
            // OpenCL has no empty transfer; what the caller waits for is the wait list itself
            return waits.length == 0 ? DeviceEvent.DONE : queue(q).marker(waits);
        }
        ClQueue cq = queue(q);
        if (src.storage().isHost()) return cq.writeAsync(buffer(dst), dst.byteOffset(), src.segment().asSlice(src.byteOffset(), bytes), waits);
        return cq.readAsync(buffer(src), src.byteOffset(), dst.segment().asSlice(dst.byteOffset(), bytes), waits);
    }

    /**
     * A CL_MEM_ALLOC_HOST_PTR buffer mapped once for reading and writing: the driver DMAs to and
     * from it without staging. The mapping and the buffer are released when the scope closes.
     */
    @Override
    public Tensor allocatePinned(MemoryScope scope, DType dtype, int... shape) {
        long n = 1;
        for (int s : shape) n = Math.multiplyExact(n, s);
        long bytes = dtype.byteSize(n);
        if (bytes == 0) return Tensor.zeros(scope, dtype, shape);
        ClBuffer buf = context.pinnedBuffer(bytes);
        try {
            MemorySegment host = transferQueue.map(buf, Cl.CL_MAP_READ | Cl.CL_MAP_WRITE, 0, bytes);
            scope.onClose(() -> {
                transferQueue.unmap(buf, host);
                buf.close();
            });
            host.fill((byte) 0);
            return Tensor.wrap(Storage.wrap(host, scope), dtype, 0, shape);
        } catch (RuntimeException e) {
            if (!buf.isClosed()) buf.close();
            throw e;
        }
    }

    @Override
    public DeviceEvent marker(CommandQueue q) {
        return queue(q).marker();
    }

    @Override
    public void waitFor(CommandQueue q, DeviceEvent... events) {
        ClEvent[] waits = clEvents(events);
        if (waits.length > 0) queue(q).barrier(waits);
    }

    /** The OpenCL events among {@code events}; {@link DeviceEvent#DONE} has nothing to wait for, and another backend's event is refused. */
    private static ClEvent[] clEvents(DeviceEvent... events) {
        int n = 0;
        ClEvent[] out = new ClEvent[events.length];
        for (DeviceEvent e : events) {
            if (e == DeviceEvent.DONE) continue;
            if (!(e instanceof ClEvent c)) {
                throw new IllegalArgumentException("opencl: cannot wait on " + e + " (" + e.getClass().getName() + "), not an OpenCL event; await it on the host first");
            }
            out[n++] = c;
        }
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }

    /**
     * Refuses a dtype this backend has no kernels for, saying what to do instead: the quantised
     * types other than Q8_0 (Q4_K and friends) are decoded only by the CPU backends so far.
     */
    static void requireKernels(String op, DType t) {
        if (t.isQuantized() && t != DType.Q8_0) {
            throw new UnsupportedOperationException("opencl " + op + ": the OpenCL backend has no kernels for " + t
                    + " (it supports F32, F16, BF16, I32 and Q8_0); keep " + t + " weights on the CPU backend (vector), "
                    + "or convert them on the CPU first (Ops.convert(w, DType.Q8_0) or DType.F16) and move the result");
        }
    }

    @Override
    public Tensor allocate(MemoryScope scope, DType dtype, int... shape) {
        requireKernels("allocate", dtype);
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
        requireKernels("copy", s);
        requireKernels("copy", d);
        if (s == d && src.isContiguous() && dst.isContiguous()) {
            queue.copy(buffer(src), src.byteOffset(), buffer(dst), dst.byteOffset(), s.byteSize(n));
        } else if (s == DType.Q8_0 && d == DType.F32) {
            requireContiguous("copy", src, dst);
            launch1(ClKernels.Q8_TO_F32, EXACT, n, k -> k.arg(0, buffer(src)).arg(1, src.byteOffset()).arg(2, buffer(dst))
                    .arg(3, dst.offset()).arg(4, n));
        } else if (s == DType.F32 && d == DType.Q8_0) {
            requireContiguous("copy", src, dst);
            long blocks = n / DType.Q8_0.blockSize();
            launch1(ClKernels.F32_TO_Q8, EXACT, blocks, k -> k.arg(0, buffer(src)).arg(1, src.offset()).arg(2, buffer(dst))
                    .arg(3, dst.byteOffset()).arg(4, blocks));
        } else {
            ClKernels kernel = ClKernels.stridedCopy(s, d).orElseThrow(() -> new IllegalArgumentException("opencl copy: cannot copy " + s + " to " + d));
            int rank = src.rank();
            if (rank > 8) throw new UnsupportedOperationException("opencl copy: rank " + rank + " > 8 for a strided copy");
            long[] shape = new long[8], ss = new long[8], ds = new long[8];
            for (int i = 0; i < 8; i++) {
                int dim = i - (8 - rank);
                shape[i] = dim < 0 ? 1 : src.size(dim);
                ss[i] = dim < 0 ? 0 : src.stride(dim);
                ds[i] = dim < 0 ? 0 : dst.stride(dim);
            }
            launch1(kernel, EXACT, n, k -> k.arg(0, buffer(src)).arg(1, src.offset()).arg(2, ss).arg(3, buffer(dst))
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
            default -> {
                requireKernels("kernel for", t);
                throw new AssertionError(t);
            }
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
        int code = op.ordinal(); // OP_* in elementwise.cl, by ELEMENTWISE
        launch1(ClKernels.BINARY_F32, ELEMENTWISE, n, k -> k.arg(0, buffer(a)).arg(1, a.offset()).arg(2, buffer(b)).arg(3, b.offset())
                .arg(4, m).arg(5, buffer(out)).arg(6, out.offset()).arg(7, code));
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        int code = op.ordinal(); // U_* in elementwise.cl, by ELEMENTWISE
        launch1(ClKernels.UNARY_F32, ELEMENTWISE, x.numel(), k -> k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(out))
                .arg(3, out.offset()).arg(4, code));
    }

    @Override
    public void scale(Tensor x, float factor, Tensor out) {
        launch1(ClKernels.SCALE_F32, ELEMENTWISE, x.numel(), k -> k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, factor)
                .arg(3, buffer(out)).arg(4, out.offset()));
    }

    @Override
    public void reduce(ReduceOp op, Tensor x, Tensor out) {
        int cols = cols(x);
        long rows = out.numel();
        int code = op.ordinal(); // R_* in reduce.cl, by REDUCE
        ClKernel k = programs.kernel(ClKernels.REDUCE_F32, REDUCE);
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
        ClKernel k = programs.kernel(ClKernels.ARGMAX_F32, REDUCE);
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
        requireKernels("embedding", t);
        long tableOffset = t == DType.Q8_0 ? table.byteOffset() : table.offset();
        ClKernel k = programs.kernel(ClKernels.embedding(t).orElseThrow(() -> new AssertionError("no embedding kernel for " + t)), "");
        synchronized (k) {
            k.arg(0, buffer(table)).arg(1, tableOffset).arg(2, buffer(ids)).arg(3, ids.offset()).arg(4, buffer(out)).arg(5, out.offset()).arg(6, d);
            queue.run(k, new long[] {d, count}, null);
        }
    }

    // ---------------------------------------------------------------- matmul (matmul.cl)

    /** Tiled GEMM: 64x64 output tiles, K in slices of 16 through local memory, 4x4 outputs per item (work-groups of 16x16). */
    private static final int GEMM_TM = 64, GEMM_TN = 64, GEMM_TK = 16, GEMM_RM = 4, GEMM_RN = 4;
    /** GEMV: up to 4 rows of a, 4 outputs per work-group of 64 items. */
    private static final int GEMV_M = 4, GEMV_R = 4, GEMV_WG = 64;
    static final String MATMUL_OPTIONS = "-DTM=" + GEMM_TM + " -DTN=" + GEMM_TN + " -DTK=" + GEMM_TK + " -DRM=" + GEMM_RM
            + " -DRN=" + GEMM_RN + " -DGEMV_M=" + GEMV_M + " -DGEMV_R=" + GEMV_R + " -DGEMV_WG=" + GEMV_WG;

    /**
     * out[z] = a[z] · b[z]. A few rows of a (decode) against b in weight layout run the GEMV
     * kernel (a work-group per 4 outputs, K reduced in local memory; Q8_0 a quarter block per
     * step); a few rows against a row-major F32 b run one item per output; everything else runs
     * the tiled GEMM, which reads F16/BF16/Q8_0 weights directly and dequantizes each K-slice of
     * the tile into local memory (no F32 copy of the weight).
     */
    @Override
    public void matmul(Tensor a, Tensor b, Tensor out) {
        checkMatmul(a, b, out);
        int batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
        if (batch == 0 || m == 0 || n == 0) return;
        if (k == 0) {
            queue.fillZero(buffer(out), out.byteOffset(), 4L * out.numel());
            return;
        }
        DType bt = b.dtype();
        String options = MATMUL_OPTIONS + " -DB_" + suffix(bt).toUpperCase(java.util.Locale.ROOT);
        long sab = batch == 1 ? 0 : a.stride(0), sam = a.stride(1), sak = a.stride(2);
        long sbb = batch == 1 ? 0 : b.stride(0), sbk = b.stride(1), sbn = n == 1 ? k : b.stride(2);
        ClBuffer ab = buffer(a), bb = buffer(b), ob = buffer(out);
        if (m <= GEMV_M && sbk == 1 && (bt != DType.Q8_0 || q8BlockAligned(k, b.offset(), sbb, sbn))) {
            ClKernel kr = programs.kernel(ClKernels.GEMV, options);
            synchronized (kr) {
                kr.arg(0, m).arg(1, n).arg(2, k).arg(3, ab).arg(4, a.offset()).arg(5, sab).arg(6, sam).arg(7, sak)
                        .arg(8, bb).arg(9, b.offset()).arg(10, sbb).arg(11, sbn).arg(12, ob).arg(13, out.offset());
                queue.run(kr, new long[] {ceilDiv(n, GEMV_R) * GEMV_WG, batch}, new long[] {GEMV_WG, 1});
            }
        } else if (m <= GEMV_M && bt == DType.F32) {
            ClKernel kr = programs.kernel(ClKernels.GEMV_ROWS, options);
            synchronized (kr) {
                kr.arg(0, m).arg(1, n).arg(2, k).arg(3, ab).arg(4, a.offset()).arg(5, sab).arg(6, sam).arg(7, sak)
                        .arg(8, bb).arg(9, b.offset()).arg(10, sbb).arg(11, sbk).arg(12, sbn).arg(13, ob).arg(14, out.offset());
                queue.run(kr, new long[] {n, m, batch}, null);
            }
        } else {
            ClKernel kr = programs.kernel(ClKernels.GEMM, options);
            int wx = GEMM_TN / GEMM_RN, wy = GEMM_TM / GEMM_RM;
            synchronized (kr) {
                kr.arg(0, m).arg(1, n).arg(2, k).arg(3, ab).arg(4, a.offset()).arg(5, sab).arg(6, sam).arg(7, sak)
                        .arg(8, bb).arg(9, b.offset()).arg(10, sbb).arg(11, sbk).arg(12, sbn).arg(13, ob).arg(14, out.offset());
                queue.run(kr, new long[] {ceilDiv(n, GEMM_TN) * wx, ceilDiv(m, GEMM_TM) * wy, batch}, new long[] {wx, wy, 1});
            }
        }
    }

    private static void checkMatmul(Tensor a, Tensor b, Tensor out) {
        if (a.rank() != 3 || b.rank() != 3 || out.rank() != 3) {
            throw new IllegalArgumentException("opencl matmul: expected a [B, M, K], b [B, K, N] and out [B, M, N], got ranks "
                    + a.rank() + ", " + b.rank() + " and " + out.rank());
        }
        int batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
        if (b.size(0) != batch || b.size(1) != k || out.size(0) != batch || out.size(1) != m || out.size(2) != n) {
            throw new IllegalArgumentException("opencl matmul: shapes " + java.util.Arrays.toString(a.shape()) + " x "
                    + java.util.Arrays.toString(b.shape()) + " -> " + java.util.Arrays.toString(out.shape())
                    + " do not match (expected [B, M, K] x [B, K, N] -> [B, M, N])");
        }
        if (a.dtype() != DType.F32 || out.dtype() != DType.F32 || !out.isContiguous()) {
            throw new IllegalArgumentException("opencl matmul: expected F32 a and a contiguous F32 out, got " + a.dtype() + " a and "
                    + (out.isContiguous() ? "" : "non-contiguous ") + out.dtype() + " out");
        }
        DType bt = b.dtype();
        if (bt == DType.I32) throw new IllegalArgumentException("opencl matmul: b is I32; expected F32, F16, BF16 or Q8_0");
        requireKernels("matmul", bt);
        if (bt != DType.F32 && (b.stride(1) != 1 || (n > 1 && b.stride(2) != k))) {
            throw new IllegalArgumentException("opencl matmul: a " + bt + " b must be the transpose of a row-major [N, K] weight "
                    + "(strides [*, 1, " + k + "]), got strides " + java.util.Arrays.toString(b.strides()));
        }
    }

    /** Whether every row of a Q8_0 weight starts on a 32-element block (the GEMV reads whole quarter blocks). */
    private static boolean q8BlockAligned(int k, long offset, long batchStride, long rowStride) {
        int block = DType.Q8_0.blockSize();
        return k % block == 0 && offset % block == 0 && batchStride % block == 0 && rowStride % block == 0;
    }

    private static long ceilDiv(long x, long d) {
        return (x + d - 1) / d;
    }

    // ---------------------------------------------------------------- row ops (rows.cl), attention (attention.cl)

    @Override
    public void softmax(Tensor x, Tensor out, int queries, boolean causal, boolean log) {
        int cols = cols(x);
        long rows = rows(x, cols);
        if (rows == 0) return;
        ClKernel k = programs.kernel(ClKernels.SOFTMAX_F32, EXACT);
        int wg = rowGroupSize(k, cols);
        synchronized (k) {
            k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(out)).arg(3, out.offset()).arg(4, cols).arg(5, Math.max(queries, 1))
                    .arg(6, causal ? 1 : 0).arg(7, log ? 1 : 0).local(8, 4L * wg);
            queue.run(k, new long[] {rows * wg}, new long[] {wg});
        }
    }

    @Override
    public void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) {
        int cols = cols(x);
        long rows = rows(x, cols);
        if (rows == 0) return;
        ClKernel k = programs.kernel(ClKernels.RMSNORM_F32, EXACT);
        int wg = rowGroupSize(k, cols);
        synchronized (k) {
            k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(weight == null ? x : weight)).arg(3, weight == null ? 0L : weight.offset())
                    .arg(4, weight == null ? 0 : 1).arg(5, buffer(out)).arg(6, out.offset()).arg(7, cols).arg(8, eps).local(9, 4L * wg);
            queue.run(k, new long[] {rows * wg}, new long[] {wg});
        }
    }

    @Override
    public void layernorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        int cols = cols(x);
        long rows = rows(x, cols);
        if (rows == 0) return;
        ClKernel k = programs.kernel(ClKernels.LAYERNORM_F32, EXACT);
        int wg = rowGroupSize(k, cols);
        synchronized (k) {
            k.arg(0, buffer(x)).arg(1, x.offset())
                    .arg(2, buffer(weight == null ? x : weight)).arg(3, weight == null ? 0L : weight.offset()).arg(4, weight == null ? 0 : 1)
                    .arg(5, buffer(bias == null ? x : bias)).arg(6, bias == null ? 0L : bias.offset()).arg(7, bias == null ? 0 : 1)
                    .arg(8, buffer(out)).arg(9, out.offset()).arg(10, cols).arg(11, eps).local(12, 4L * wg);
            queue.run(k, new long[] {rows * wg}, new long[] {wg});
        }
    }

    @Override
    public void rope(Tensor x, Tensor out, RopeTable table, int rowsPerPosition, RopeStyle style) {
        int d = cols(x), half = d / 2;
        long rows = rows(x, d);
        if (rows == 0 || half == 0) return;
        // The table is per call and small ([positions, d/2] twice): upload it, run, release. The
        // release is deferred by OpenCL until the kernel that reads it has finished.
        int n = table.positions() * half;
        try (ClBuffer t = context.buffer(Cl.CL_MEM_READ_ONLY, 8L * n);
             Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(8L * n, 64);
            MemorySegment.copy(table.cos(), 0, host, ValueLayout.JAVA_FLOAT, 0, n);
            MemorySegment.copy(table.sin(), 0, host, ValueLayout.JAVA_FLOAT, 4L * n, n);
            queue.write(t, 0, host);
            ClKernel k = programs.kernel(ClKernels.ROPE_F32, EXACT);
            synchronized (k) {
                k.arg(0, buffer(x)).arg(1, x.offset()).arg(2, buffer(out)).arg(3, out.offset()).arg(4, t).arg(5, half)
                        .arg(6, table.positions()).arg(7, (long) Math.max(rowsPerPosition, 1)).arg(8, style == RopeStyle.INTERLEAVED ? 0 : 1);
                queue.run(k, new long[] {half, rows}, null);
            }
        }
    }

    /** The largest head dimension the fused attention kernel holds in private memory. */
    public static final int ATTENTION_MAX_HEAD_DIM = 256;

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, boolean causal, long queryStart, long keyStart, float scale, Tensor out,
            Tensor lse) {
        int batch = q.size(0), hq = q.size(1), nq = q.size(2), d = q.size(3);
        int hkv = k.size(1), nk = k.size(2);
        if (batch == 0 || hq == 0 || nq == 0) return;
        if (d > ATTENTION_MAX_HEAD_DIM) {
            throw new UnsupportedOperationException("opencl attention: head dimension D=" + d + " exceeds the kernel's maximum "
                    + ATTENTION_MAX_HEAD_DIM + " (q " + java.util.Arrays.toString(q.shape()) + ")");
        }
        if (d == 0) throw new UnsupportedOperationException("opencl attention: head dimension D=0 is not supported");
        requireContiguous("attention", q, k, v, out, lse);
        // Keys per tile: K and V tiles take 2 * BC * D floats of local memory, 32 KiB at most.
        int bc = Math.clamp(4096 / Integer.highestOneBit(Math.max(1, 2 * d - 1)), 8, 64);
        while (bc > 8 && 8L * bc * d > clDevice.localMemSize()) bc /= 2;
        ClKernel kk = programs.kernel(ClKernels.ATTENTION_FWD_F32, EXACT + " -DHEAD_D=" + d + " -DBC=" + bc);
        int br = (int) Long.highestOneBit(Math.max(1, Math.min(64, kk.maxWorkGroupSize())));
        long blocks = (nq + br - 1) / br;
        synchronized (kk) {
            kk.arg(0, buffer(q)).arg(1, q.offset()).arg(2, buffer(k)).arg(3, k.offset()).arg(4, buffer(v)).arg(5, v.offset())
                    .arg(6, buffer(out)).arg(7, out.offset()).arg(8, buffer(lse)).arg(9, lse.offset()).arg(10, hq).arg(11, hkv)
                    .arg(12, nq).arg(13, nk).arg(14, causal ? 1 : 0).arg(15, queryStart - keyStart).arg(16, scale)
                    .local(17, 4L * bc * d).local(18, 4L * bc * d);
            queue.run(kk, new long[] {blocks * br, (long) batch * hq}, new long[] {br, 1});
        }
    }

    // ---------------------------------------------------------------- launching

    /** Arms a cached kernel and runs it over a 1-D range of {@code n} items (skipped when n == 0). */
    private void launch1(ClKernels kernel, String options, long n, java.util.function.Consumer<ClKernel> args) {
        if (n == 0) return;
        ClKernel k = programs.kernel(kernel, options);
        synchronized (k) {
            args.accept(k);
            queue.run(k, new long[] {n}, null);
        }
    }

    /**
     * A power-of-two work-group size for a one-group-per-row kernel: enough items to cover the row,
     * from 32 (a GPU's smallest schedule unit; few distinct sizes also keep PoCL, which builds code
     * per size, quick) up to 256, and no more than the kernel can run.
     */
    private static int rowGroupSize(ClKernel k, int cols) {
        long max = Long.highestOneBit(Math.max(1, Math.min(256, k.maxWorkGroupSize())));
        long want = Math.max(32, Long.highestOneBit(Math.max(1, cols - 1)) * 2);
        return (int) Math.min(max, want);
    }

    private static long rows(Tensor x, int cols) {
        return cols == 0 ? 0 : x.numel() / cols;
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
