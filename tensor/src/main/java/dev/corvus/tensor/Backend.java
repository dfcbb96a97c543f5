package dev.corvus.tensor;

/**
 * The kernels behind {@link Ops}. {@code Ops} checks arguments, computes output shapes,
 * broadcasts and lays operands out as each method below states; a backend only computes. The
 * scalar backend is the reference every other one is tested against.
 *
 * <p>"Rows" below are the last dimension of a contiguous tensor: a tensor of shape [..., c] is
 * numel/c rows of c elements. Unless stated otherwise tensors are F32 and contiguous.
 */
public interface Backend {
    /** Short name, e.g. "scalar" or "vector". */
    String name();

    /** One line saying what this backend runs on, for logs and {@code corvus info}. */
    String description();

    /**
     * A zero-filled contiguous tensor on this backend's device: host memory for CPU backends,
     * device memory for accelerators. Every op's output comes from here.
     */
    default Tensor allocate(MemoryScope scope, DType dtype, int... shape) {
        return Tensor.zeros(scope, dtype, shape);
    }

    /**
     * Copies between host and this backend's device: src and dst have the same shape and dtype,
     * are contiguous, and exactly one of them is in host memory. Only accelerator backends have
     * anything to do here.
     */
    default void transfer(Tensor src, Tensor dst) {
        throw new UnsupportedOperationException(name() + " has no device memory to transfer to or from");
    }

    /**
     * Fused attention forward, for accelerator backends (on the CPU, flash attention lives in the
     * attention module on top of {@link #tiles()}). q [B, Hq, Nq, D], k and v [B, Hkv, Nk, D]
     * (Hkv divides Hq), all contiguous F32; out [B, Hq, Nq, D] and lse [B, Hq, Nq] F32. With
     * {@code causal}, query row i (position queryStart + i) sees key row j (position keyStart + j)
     * iff keyStart + j &lt;= queryStart + i; a row that sees no key gets out 0 and lse -infinity.
     */
    default void attention(Tensor q, Tensor k, Tensor v, boolean causal, long queryStart, long keyStart, float scale,
            Tensor out, Tensor lse) {
        throw new UnsupportedOperationException(name() + " has no fused attention kernel");
    }

    /** Heap-array tile kernels for fused algorithms (flash attention); the scalar ones by default. */
    default TileKernels tiles() {
        return ScalarTileKernels.INSTANCE;
    }

    /**
     * dst = src, element for element; same shape, any strides on both sides. Converts between F32,
     * F16 and BF16; I32 copies only to I32. Q8_0 (both contiguous) quantizes from F32; every
     * quantised type (both contiguous) copies to itself and dequantizes to F32.
     */
    void copy(Tensor src, Tensor dst);

    /**
     * out[b] = a[b] · b[b] for each batch b. a: [B, M, K] F32, any strides. b: [B, K, N], either F32
     * with any strides, or F16/BF16/quantised "weight" layout: the transpose of row-major [N, K] rows
     * (stride 1 along K, {@code Ops#rowBytes} between columns). out: [B, M, N].
     */
    void matmul(Tensor a, Tensor b, Tensor out);

    /**
     * out = a op b. a and out have n elements; b has m elements, m divides n, and repeats with
     * period m (m == n: same shape; m == 1: a scalar; otherwise a row broadcast).
     */
    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out);

    /** out = op(x); same shape. */
    void unary(UnaryOp op, Tensor x, Tensor out);

    /** out = x * factor. */
    void scale(Tensor x, float factor, Tensor out);

    /**
     * Softmax (or log-softmax) of each row. With {@code causal}, rows form [..., queries, keys]
     * blocks and row q of a block sees keys j &lt;= q + (keys - queries); a row that sees no key gives
     * zeros (log-softmax: -infinity).
     */
    void softmax(Tensor x, Tensor out, int queries, boolean causal, boolean log);

    /** out = x / sqrt(mean(x^2) + eps) * weight, per row; weight [c] or null. */
    void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out);

    /** out = (x - mean) / sqrt(var + eps) * weight + bias, per row; weight and bias [c] or null. */
    void layernorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out);

    /**
     * Rotary embedding of rows of length d (a head). Row r is at table position
     * (r / rowsPerPosition) % table.positions().
     */
    void rope(Tensor x, Tensor out, RopeTable table, int rowsPerPosition, RopeStyle style);

    /** out[i, :] = table[ids[i], :] as F32; table [V, D] in any dtype, ids I32 in range. */
    void embedding(Tensor table, Tensor ids, Tensor out);

    /** out[r] = reduction of row r; out has one element per row. */
    void reduce(ReduceOp op, Tensor x, Tensor out);

    /** out[r] = index of the largest element of row r (the first one on ties; NaN is largest). I32. */
    void argmax(Tensor x, Tensor out);

    // ---------------------------------------------------------------- optional operations, queues and events

    /**
     * Whether this backend has one of the optional operations (see {@link Capability}); none by
     * default. Ask this instead of calling and catching UnsupportedOperationException.
     */
    default boolean has(Capability capability) {
        return false;
    }

    /**
     * Whether this backend computes on the host's own cores (every CPU backend; an OpenCL CPU
     * device such as PoCL): work split between it and the CPU competes for the same cores instead
     * of overlapping.
     */
    default boolean sharesHostCores() {
        return true;
    }

    /**
     * Starts copying src into dst on {@code queue} once every event in {@code after} has
     * completed, and returns the copy's event (the caller closes it). src and dst have the same
     * shape and dtype and are contiguous; on an accelerator exactly one of them is in host memory,
     * and that host memory must stay alive and untouched until the event completes (best from
     * {@link #allocatePinned}). By default the copy runs at once on the calling thread (a host copy
     * when both are on the host, else {@link #transfer}) and the result is {@link DeviceEvent#DONE}.
     */
    default DeviceEvent transferAsync(Tensor src, Tensor dst, CommandQueue queue, DeviceEvent... after) {
        requireTransferable(name() + " transferAsync", src, dst);
        DeviceEvent.awaitAll(after);
        if (src.storage().isHost() && dst.storage().isHost()) copy(src, dst);
        else transfer(src, dst);
        return DeviceEvent.DONE;
    }

    /**
     * A zero-filled host tensor in memory the device reads and writes directly (page-locked,
     * device-visible), the best source and target of {@link #transferAsync}; released when the
     * scope closes. Allocate it once, at load time: pinned memory is scarce. CPU backends have
     * nothing to pin and return ordinary host memory.
     */
    default Tensor allocatePinned(MemoryScope scope, DType dtype, int... shape) {
        return Tensor.zeros(scope, dtype, shape);
    }

    /**
     * An event that completes when every command enqueued on {@code queue} so far has completed
     * (the ops on {@link CommandQueue#COMPUTE}, say, for a copy on {@link CommandQueue#COPY} to wait
     * on). CPU backends have finished everything already: {@link DeviceEvent#DONE}.
     */
    default DeviceEvent marker(CommandQueue queue) {
        return DeviceEvent.DONE;
    }

    /**
     * Commands enqueued on {@code queue} after this call start only once every event has
     * completed, without blocking the caller where the device can order them itself. By default
     * the caller waits for the events.
     */
    default void waitFor(CommandQueue queue, DeviceEvent... events) {
        DeviceEvent.awaitAll(events);
    }

    /** Blocks until every command enqueued on either queue has finished; errors of asynchronous commands surface here. */
    default void synchronize() {}

    /**
     * The argument rules of {@link #transfer} and {@link #transferAsync}: same shape and dtype,
     * both contiguous. {@code who} starts the error message.
     */
    static void requireTransferable(String who, Tensor src, Tensor dst) {
        if (src.dtype() != dst.dtype() || !java.util.Arrays.equals(src.shape(), dst.shape())) {
            throw new IllegalArgumentException(who + ": src " + src.dtype() + " " + Shapes.str(src.shape()) + " and dst " + dst.dtype() + " "
                    + Shapes.str(dst.shape()) + " differ; a transfer copies bytes, so shape and dtype must match");
        }
        if (!src.isContiguous() || !dst.isContiguous()) {
            throw new IllegalArgumentException(who + ": src and dst must be contiguous (strides " + java.util.Arrays.toString(src.strides())
                    + " and " + java.util.Arrays.toString(dst.strides()) + "); copy a strided view with contiguous() first");
        }
    }

    /**
     * Whether this backend computes {@code op} with a kernel of its own: every op with a method
     * above ({@link dev.corvus.tensor.op.OpDef.Kernel#BACKEND_METHOD}); an op without one
     * ({@link dev.corvus.tensor.op.OpDef.Kernel#REGISTRY}) only where this backend's {@link #run}
     * takes it, else the op's scalar reference kernel runs on the host; a view computes nothing.
     */
    default boolean supports(dev.corvus.tensor.op.OpDef<?> op) {
        return op.kernelKind() == dev.corvus.tensor.op.OpDef.Kernel.BACKEND_METHOD;
    }

    /**
     * Runs a registry op that has no method of its own above (see {@link dev.corvus.tensor.op.OpDef}):
     * out is allocated and the operands laid out as the op's definition says. Called only for the
     * ops {@link #supports} names; returns false for any other. A new op needs only its registry
     * entry, and a backend adds a fast path when it wants one (supports and run both).
     */
    default boolean run(dev.corvus.tensor.op.OpDef<?> op, Record attrs, Tensor[] in, Tensor out) {
        return false;
    }
}
