package dev.corvus.tensor;

import java.util.Arrays;

/**
 * The op set, defined once: each op checks its arguments, works out the output shape, lays its
 * operands out as the {@link Backend} contract says, allocates the output and dispatches to the
 * backend of the operands' device.
 *
 * <p>Outputs are allocated in the current {@link MemoryScope}, or, when none is open on this
 * thread, in the scope of the first operand. Arithmetic runs in F32: F16 and BF16 operands are
 * widened first, and the results are F32.
 */
public final class Ops {
    private Ops() {}

    // ---------------------------------------------------------------- plumbing

    static MemoryScope outputScope(Tensor first) {
        MemoryScope current = MemoryScope.current();
        return current != null ? current : first.scope();
    }

    /** A zeroed output on the same device as {@code like}, in the output scope. */
    static Tensor newOutput(Tensor like, DType dtype, int... shape) {
        return Backends.of(like.device()).allocate(outputScope(like), dtype, shape);
    }

    // ---------------------------------------------------------------- devices

    /**
     * This tensor on {@code device}: itself if already there, else a contiguous copy made by the
     * device's backend (host to device, device to host, or through the host between devices).
     */
    public static Tensor toDevice(Tensor x, Device device) {
        return toDevice(x, device, outputScope(x));
    }

    /** Like {@link #toDevice(Tensor, Device)}, with the copy allocated in {@code scope} (long-lived weights, say). */
    public static Tensor toDevice(Tensor x, Device device, MemoryScope scope) {
        if (x.device().equals(device)) return x;
        if (!x.device().equals(Device.CPU) && !device.equals(Device.CPU)) return toDevice(toDevice(x, Device.CPU), device, scope);
        Tensor src = x.isContiguous() ? x : copy(x);
        if (device.equals(Device.CPU)) {
            Tensor host = Tensor.zeros(scope, x.dtype(), x.shape());
            Backends.of(x.device()).transfer(src, host);
            return host;
        }
        Backend target = Backends.of(device);
        Tensor out = target.allocate(scope, x.dtype(), x.shape());
        target.transfer(src, out);
        return out;
    }

    /** The backend for the operands' common device; every operand must be alive and on it. */
    static Backend backend(String op, Tensor... operands) {
        Device device = null;
        for (Tensor t : operands) {
            if (t == null) continue;
            if (!t.scope().isAlive()) {
                throw new IllegalStateException(op + ": operand " + t.dtype() + " " + Shapes.str(t.shape())
                        + " belongs to MemoryScope '" + t.scope().name() + "', which is closed");
            }
            if (device == null) device = t.device();
            else if (!device.equals(t.device())) {
                throw new IllegalArgumentException(op + ": operands are on different devices (" + device + " and " + t.device()
                        + "); transfer one explicitly first");
            }
        }
        return Backends.of(device == null ? Device.CPU : device);
    }

    /** t as a contiguous F32 tensor, widening F16/BF16 and dequantizing quantised types; I32 is refused. */
    static Tensor f32(String op, Tensor t) {
        if (t.dtype() == DType.F32) return t.contiguous();
        if (t.dtype() == DType.I32) throw new IllegalArgumentException(op + ": expected a floating-point tensor, got I32 " + Shapes.str(t.shape()));
        return convert(t, DType.F32);
    }

    static void requireShape(String op, String what, Tensor t, int... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + what + " has shape " + Shapes.str(t.shape()) + ", expected " + Shapes.str(expected));
        }
    }

    static void requireRank(String op, Tensor t, int min) {
        if (t.rank() < min) {
            throw new IllegalArgumentException(op + ": needs rank >= " + min + ", got shape " + Shapes.str(t.shape()));
        }
    }

    // ---------------------------------------------------------------- copies and conversions

    /** A contiguous copy with the same dtype. */
    public static Tensor copy(Tensor x) {
        Backend be = backend("copy", x);
        if (x.dtype().isQuantized() && !x.isContiguous()) {
            throw new IllegalArgumentException("copy: a non-contiguous " + x.dtype() + " view cannot be re-blocked; convert it to F32 instead");
        }
        Tensor out = newOutput(x, x.dtype(), x.shape());
        be.copy(x, out);
        return out;
    }

    /**
     * Copies src into dst (same shape; dst may be a view, e.g. a slice of a larger tensor). The
     * result is always as if src were read whole before dst is written: when the two may share
     * memory ({@code copyInto(m.t(), m)}, overlapping slices of one tensor) src goes through a
     * temporary first, since the backends copy element by element and would otherwise read values
     * they had already overwritten; src and dst the very same view is a no-op. A dst whose
     * elements share memory with each other (a stride-0 dimension, as {@link Tensor#expand}
     * makes) is refused: which write would win is undefined.
     */
    public static void copyInto(Tensor src, Tensor dst) {
        Backend be = backend("copyInto", src, dst);
        if (!Arrays.equals(src.shape(), dst.shape())) {
            throw new IllegalArgumentException("copyInto: source shape " + Shapes.str(src.shape()) + " and destination shape "
                    + Shapes.str(dst.shape()) + " differ");
        }
        checkConversion("copyInto", src.dtype(), dst.dtype());
        if (dst.dtype().isQuantized() && (!dst.isContiguous() || src.dtype() != DType.F32)) {
            throw new IllegalArgumentException("copyInto: a " + dst.dtype() + " destination must be contiguous and fed from F32");
        }
        if (src.dtype().isQuantized() && dst.dtype() != DType.F32 && dst.dtype() != src.dtype()) {
            throw new IllegalArgumentException("copyInto: " + src.dtype() + " can only be dequantized to F32, not " + dst.dtype());
        }
        int[] shape = dst.shape();
        long[] strides = dst.strides();
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] > 1 && strides[d] == 0) {
                throw new IllegalArgumentException("copyInto: destination " + Shapes.str(shape) + " with strides " + Arrays.toString(strides)
                        + " repeats memory along dim " + d + " (an expanded view), so its elements cannot each get their own value;"
                        + " copy into a tensor of its own instead");
            }
        }
        if (!sharesMemory(src, dst)) {
            be.copy(src, dst);
        } else if (src.storage() != dst.storage() || src.dtype() != dst.dtype() || src.offset() != dst.offset()
                || !Arrays.equals(src.strides(), strides)) {
            // Staged in dst's dtype: the conversion happens on the way in, and the way out is a plain copy into a layout dst accepts.
            try (MemoryScope staging = MemoryScope.detached("copyInto staging")) {
                Tensor tmp = be.allocate(staging, dst.dtype(), src.shape());
                be.copy(src, tmp);
                be.copy(tmp, dst);
            }
        }
    }

    /**
     * Whether a and b may touch the same bytes: their byte extents intersect in one storage, or in
     * one piece of host memory seen through two storages. Conservative for interleaved views (two
     * columns of one matrix), which then take copyInto's temporary: correct, only slower.
     */
    static boolean sharesMemory(Tensor a, Tensor b) {
        if (a.numel() == 0 || b.numel() == 0) return false;
        Storage sa = a.storage(), sb = b.storage();
        long baseA = 0, baseB = 0;
        if (sa != sb) {
            if (!sa.isHost() || !sb.isHost()) return false;
            java.lang.foreign.MemorySegment x = sa.segment(), y = sb.segment();
            if (x.isNative() != y.isNative() || (!x.isNative() && x.heapBase().orElse(null) != y.heapBase().orElse(null))) return false;
            baseA = x.address();
            baseB = y.address();
        }
        long[] ea = byteExtent(a), eb = byteExtent(b);
        return baseA + ea[0] < baseB + eb[1] && baseB + eb[0] < baseA + ea[1];
    }

    /** [first byte, last byte + 1) that t's elements occupy in its storage (whole blocks for quantised types). */
    private static long[] byteExtent(Tensor t) {
        long lo = t.offset(), hi = t.offset();
        int[] shape = t.shape();
        long[] strides = t.strides();
        for (int d = 0; d < shape.length; d++) {
            long reach = (shape[d] - 1) * strides[d];
            if (reach < 0) lo += reach;
            else hi += reach;
        }
        DType dt = t.dtype();
        if (dt.isQuantized()) return new long[] {lo / dt.blockSize() * dt.blockBytes(), (hi / dt.blockSize() + 1) * dt.blockBytes()};
        return new long[] {lo * dt.elementBytes(), (hi + 1) * dt.elementBytes()};
    }

    /** A contiguous copy converted to {@code target}. */
    public static Tensor convert(Tensor x, DType target) {
        checkConversion("convert", x.dtype(), target);
        Backend be = backend("convert", x);
        if (x.dtype() == target) return copy(x);
        Tensor src = x;
        // Quantised types only talk to F32; other pairs go through it.
        if ((target.isQuantized() && x.dtype() != DType.F32) || (x.dtype().isQuantized() && target != DType.F32)) {
            src = convert(x, DType.F32);
        }
        Tensor out = newOutput(x, target, x.shape());
        be.copy(src, out);
        return out;
    }

    /** What to do instead of quantising to a type Corvus has no quantiser for. */
    static final String QUANTISE_ELSEWHERE = "Corvus quantises only to Q8_0; make other types with llama.cpp's llama-quantize "
            + "(e.g. llama-quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M) and load the result";

    private static void checkConversion(String op, DType from, DType to) {
        if ((from == DType.I32) != (to == DType.I32)) {
            throw new IllegalArgumentException(op + ": cannot convert " + from + " to " + to + " (I32 holds indices, not values)");
        }
        if (to.isQuantized() && to != DType.Q8_0 && from != to) {
            throw new UnsupportedOperationException(op + ": cannot quantise " + from + " to " + to + "; " + QUANTISE_ELSEWHERE);
        }
    }

    /** F32 to Q8_0 (GGUF blocks of 32 along the last dimension). */
    public static Tensor quantize(Tensor x) {
        return convert(x, DType.Q8_0);
    }

    /** Any quantised or float type to F32. */
    public static Tensor dequantize(Tensor x) {
        return convert(x, DType.F32);
    }

    // ---------------------------------------------------------------- matrix products

    /**
     * Batched matrix product of a [..., M, K] and b [..., K, N]; batch dimensions broadcast. b may
     * be a transposed F16/BF16/quantised weight ({@code w.t()} for w of shape [N, K]), which is read as
     * stored, without conversion.
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        final String op = "matmul";
        Backend be = backend(op, a, b);
        requireRank(op, a, 2);
        requireRank(op, b, 2);
        int m = a.size(-2), k = a.size(-1), kb = b.size(-2), n = b.size(-1);
        if (k != kb) {
            throw new IllegalArgumentException(op + ": shapes " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape())
                    + " do not match on K (" + k + " vs " + kb + ")");
        }
        if (a.dtype() != DType.F32) a = f32(op, a);
        boolean weightLayout = b.stride(-2) == 1 && (n == 1 || b.stride(-1) == rowElementsOf(b));
        if (b.dtype() == DType.I32) throw new IllegalArgumentException(op + ": b is I32; expected F32, F16, BF16 or a quantised type (" + Quants.SUPPORTED + ")");
        if (b.dtype() != DType.F32 && !weightLayout) {
            if (b.dtype().isQuantized()) {
                throw new IllegalArgumentException(op + ": a " + b.dtype() + " operand must be the transpose of a row-major [N, K] weight (w.t()), got shape "
                        + Shapes.str(b.shape()) + " strides " + Arrays.toString(b.strides()));
            }
            b = f32(op, b);
        }
        int[] batch = Shapes.broadcast(op, Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2));
        if (k == 0 || Shapes.numel(concat(batch, m, n)) == 0) {
            // PyTorch's answer: an empty product is empty, and one over K = 0 is all zeros (the output starts zeroed).
            // Flattening an empty batch below would ask view() to infer -1 from 0 elements.
            return newOutput(a, DType.F32, concat(batch, m, n));
        }
        Tensor a3 = flattenBatch(a.expand(concat(batch, m, k)));
        Tensor b3 = flattenBatch(b.expand(concat(batch, k, n)));
        if (a3 == null) a3 = a.expand(concat(batch, m, k)).contiguous().reshape(-1, m, k);
        if (b3 == null) {
            if (b.dtype() != DType.F32) b = f32(op, b);
            b3 = b.expand(concat(batch, k, n)).contiguous().reshape(-1, k, n);
        }
        Tensor out = newOutput(a, DType.F32, concat(batch, m, n));
        be.matmul(a3, b3, out.reshape(-1, m, n));
        return out;
    }

    /** matmul with optional transposes of either operand's last two dimensions. */
    public static Tensor matmul(Tensor a, Tensor b, boolean transposeA, boolean transposeB) {
        return matmul(transposeA ? a.t() : a, transposeB ? b.t() : b);
    }

    /** x · wᵀ + bias for x [..., K], w [N, K] (F32, F16, BF16 or quantised), bias [N] or null. */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        final String op = "linear";
        if (w.rank() != 2) throw new IllegalArgumentException(op + ": weight must be [N, K], got shape " + Shapes.str(w.shape()));
        requireRank(op, x, 1);
        if (x.size(-1) != w.size(1)) {
            throw new IllegalArgumentException(op + ": input " + Shapes.str(x.shape()) + " and weight " + Shapes.str(w.shape())
                    + " do not match on K (" + x.size(-1) + " vs " + w.size(1) + ")");
        }
        if (bias != null) requireShape(op, "bias", bias, w.size(0));
        if (w.dtype().isQuantized() && !w.isContiguous()) {
            throw new IllegalArgumentException(op + ": a " + w.dtype() + " weight must be contiguous, got strides " + Arrays.toString(w.strides()));
        }
        Tensor x2 = x.rank() == 1 ? x.unsqueeze(0) : x;
        Tensor y = matmul(x2, w.t());
        if (bias != null) y = add(y, bias);
        return x.rank() == 1 ? y.squeeze(0) : y;
    }

    /** Elements between consecutive rows of the storage b views as a transposed [N, K] weight. */
    private static long rowElementsOf(Tensor b) {
        return b.size(-2);
    }

    /** A view of t [..., r, c] as [B, r, c] when its batch dimensions collapse into one stride; else null. */
    private static Tensor flattenBatch(Tensor t) {
        int rank = t.rank();
        int[] shape = t.shape();
        long[] strides = t.strides();
        long batchStride = 0;
        int inner = -1;
        for (int d = rank - 3; d >= 0; d--) {
            if (shape[d] == 1) continue;
            if (inner < 0) batchStride = strides[d];
            else if (strides[d] != strides[inner] * shape[inner]) return null;
            inner = d;
        }
        return new Tensor(t.storage(), t.dtype(), new int[] {(int) Shapes.prod(shape, 0, rank - 2), shape[rank - 2], shape[rank - 1]},
                new long[] {batchStride, strides[rank - 2], strides[rank - 1]}, t.offset());
    }

    private static int[] concat(int[] head, int... tail) {
        int[] r = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, r, head.length, tail.length);
        return r;
    }

    // ---------------------------------------------------------------- element-wise

    public static Tensor add(Tensor a, Tensor b) {
        return binary(BinaryOp.ADD, a, b);
    }

    public static Tensor sub(Tensor a, Tensor b) {
        return binary(BinaryOp.SUB, a, b);
    }

    public static Tensor mul(Tensor a, Tensor b) {
        return binary(BinaryOp.MUL, a, b);
    }

    public static Tensor div(Tensor a, Tensor b) {
        return binary(BinaryOp.DIV, a, b);
    }

    /** a op b with numpy broadcasting. */
    public static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        String name = op.name().toLowerCase();
        Backend be = backend(name, a, b);
        int[] shape = Shapes.broadcast(name, a.shape(), b.shape());
        boolean swap = (op == BinaryOp.ADD || op == BinaryOp.MUL) && !Arrays.equals(a.shape(), shape) && Arrays.equals(b.shape(), shape);
        if (swap) {
            Tensor t = a;
            a = b;
            b = t;
        }
        Tensor full = f32(name, Arrays.equals(a.shape(), shape) ? a : a.expand(shape));
        Tensor tiled = Arrays.equals(b.shape(), shape) || Shapes.tilesAsRows(b.shape(), shape) ? f32(name, b) : f32(name, b.expand(shape));
        Tensor out = newOutput(full, DType.F32, shape);
        be.binary(op, full, tiled, out);
        return out;
    }

    public static Tensor scale(Tensor x, float factor) {
        Backend be = backend("scale", x);
        Tensor in = f32("scale", x);
        Tensor out = newOutput(in, DType.F32, in.shape());
        be.scale(in, factor, out);
        return out;
    }

    public static Tensor unary(UnaryOp op, Tensor x) {
        String name = op.name().toLowerCase();
        Backend be = backend(name, x);
        Tensor in = f32(name, x);
        Tensor out = newOutput(in, DType.F32, in.shape());
        be.unary(op, in, out);
        return out;
    }

    public static Tensor exp(Tensor x) {
        return unary(UnaryOp.EXP, x);
    }

    public static Tensor silu(Tensor x) {
        return unary(UnaryOp.SILU, x);
    }

    public static Tensor relu(Tensor x) {
        return unary(UnaryOp.RELU, x);
    }

    public static Tensor neg(Tensor x) {
        return unary(UnaryOp.NEG, x);
    }

    public static Tensor tanh(Tensor x) {
        return unary(UnaryOp.TANH, x);
    }

    /** GELU: the tanh approximation (GPT-2, most checkpoints) or the exact erf form. */
    public static Tensor gelu(Tensor x, boolean tanhApproximation) {
        return unary(tanhApproximation ? UnaryOp.GELU_TANH : UnaryOp.GELU_ERF, x);
    }

    // ---------------------------------------------------------------- softmax and norms

    public static Tensor softmax(Tensor x, int dim) {
        return softmax(x, dim, false, false);
    }

    /** Softmax along the last dimension with a causal mask over [..., queries, keys]. */
    public static Tensor causalSoftmax(Tensor x) {
        return softmax(x, -1, true, false);
    }

    /**
     * Causal softmax over [..., queries, keys] where query row q sees keys j &lt;= q + diagonal, for
     * diagonal &lt;= keys - queries (the usual mask has diagonal = keys - queries). A block of query
     * rows cut from a longer causal softmax uses the block's own diagonal, so a chunked loop over
     * queries equals the whole. Keys no row of the block can see are not touched.
     */
    public static Tensor causalSoftmax(Tensor x, int diagonal) {
        requireRank("causalSoftmax", x, 2);
        int queries = x.size(-2), keys = x.size(-1);
        if (diagonal == keys - queries) return softmax(x, -1, true, false);
        if (diagonal > keys - queries) {
            throw new IllegalArgumentException("causalSoftmax: diagonal " + diagonal + " lets a row of " + Shapes.str(x.shape())
                    + " see past the last key; it must be <= keys - queries = " + (keys - queries));
        }
        Tensor out = newOutput(x, DType.F32, x.shape());
        int visible = queries + diagonal; // keys seen by the last row
        if (visible > 0) copyInto(softmax(x.narrow(-1, 0, visible), -1, true, false), out.narrow(-1, 0, visible));
        return out;
    }

    public static Tensor logSoftmax(Tensor x, int dim) {
        return softmax(x, dim, false, true);
    }

    /**
     * Softmax (or log-softmax) along {@code dim}. With {@code causal}, dim must be the last one and
     * the tensor [..., queries, keys]: query q sees keys j &lt;= q + keys - queries.
     */
    public static Tensor softmax(Tensor x, int dim, boolean causal, boolean log) {
        String op = log ? "logSoftmax" : "softmax";
        Backend be = backend(op, x);
        requireRank(op, x, 1);
        int d = Shapes.dim(op, dim, x.rank());
        int last = x.rank() - 1;
        if (causal) {
            requireRank(op, x, 2);
            if (d != last) throw new IllegalArgumentException(op + ": a causal mask applies along the last dimension, not " + dim);
        }
        Tensor in = f32(op, d == last ? x : x.transpose(d, last));
        Tensor out = newOutput(in, DType.F32, in.shape());
        be.softmax(in, out, causal ? x.size(-2) : 1, causal, log);
        return d == last ? out : out.transpose(d, last).contiguous();
    }

    /** x / sqrt(mean(x²) + eps) * weight along the last dimension; weight [C] or null. */
    public static Tensor rmsnorm(Tensor x, Tensor weight, float eps) {
        Backend be = backend("rmsnorm", x, weight);
        requireRank("rmsnorm", x, 1);
        checkEps("rmsnorm", eps);
        if (weight != null) requireShape("rmsnorm", "weight", weight, x.size(-1));
        Tensor in = f32("rmsnorm", x);
        Tensor out = newOutput(in, DType.F32, in.shape());
        be.rmsnorm(in, weight == null ? null : f32("rmsnorm", weight), eps, out);
        return out;
    }

    /** (x - mean) / sqrt(var + eps) * weight + bias along the last dimension; weight, bias [C] or null. */
    public static Tensor layernorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        Backend be = backend("layernorm", x, weight, bias);
        requireRank("layernorm", x, 1);
        checkEps("layernorm", eps);
        if (weight != null) requireShape("layernorm", "weight", weight, x.size(-1));
        if (bias != null) requireShape("layernorm", "bias", bias, x.size(-1));
        Tensor in = f32("layernorm", x);
        Tensor out = newOutput(in, DType.F32, in.shape());
        be.layernorm(in, weight == null ? null : f32("layernorm", weight), bias == null ? null : f32("layernorm", bias), eps, out);
        return out;
    }

    /** A negative or NaN eps turns every row into NaN without a word; refuse it. 0 is allowed (an all-zero row then gives NaN, as in PyTorch). */
    private static void checkEps(String op, float eps) {
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException(op + ": eps " + eps + " must be a finite number >= 0 (models use 1e-5 or 1e-6)");
        }
    }

    /**
     * Rotary position embedding of x [..., T, ..., D], where dimension {@code seqDim} indexes
     * positions {@code positionOffset .. positionOffset+T-1} and D is the head dimension.
     */
    public static Tensor rope(Tensor x, int seqDim, int positionOffset, double theta, RopeStyle style) {
        requireRank("rope", x, 2);
        if (x.size(-1) % 2 != 0) throw new IllegalArgumentException("rope: head dimension " + x.size(-1) + " of " + Shapes.str(x.shape()) + " is odd");
        return rope(x, seqDim, positionOffset, RopeTable.frequencies(x.size(-1), theta, 1, null), 1, style);
    }

    /**
     * RoPE with explicit per-pair angular frequencies (D/2 of them, see {@link RopeTable#frequencies}),
     * cos and sin scaled by {@code magnitude}: the form RoPE-scaled models (linear, Llama 3 factors) need.
     */
    public static Tensor rope(Tensor x, int seqDim, int positionOffset, double[] frequencies, double magnitude, RopeStyle style) {
        Backend be = backend("rope", x);
        requireRank("rope", x, 2);
        int s = Shapes.dim("rope", seqDim, x.rank());
        if (s == x.rank() - 1) throw new IllegalArgumentException("rope: the sequence dimension cannot be the last (feature) dimension");
        if (positionOffset < 0) throw new IllegalArgumentException("rope: position offset " + positionOffset + " is negative");
        int headDim = x.size(-1);
        if (headDim % 2 != 0) throw new IllegalArgumentException("rope: head dimension " + headDim + " of " + Shapes.str(x.shape()) + " is odd");
        if (frequencies.length != headDim / 2) {
            throw new IllegalArgumentException("rope: " + frequencies.length + " frequencies for head dimension " + headDim + ", expected " + headDim / 2);
        }
        for (int i = 0; i < frequencies.length; i++) {
            if (!Double.isFinite(frequencies[i])) {
                throw new IllegalArgumentException("rope: frequency " + i + " of " + frequencies.length + " is " + frequencies[i]
                        + "; check the rope theta, scale and factors it came from");
            }
        }
        if (!Double.isFinite(magnitude)) throw new IllegalArgumentException("rope: magnitude " + magnitude + " must be a finite number");
        Tensor in = f32("rope", x);
        Tensor out = newOutput(in, DType.F32, in.shape());
        int[] shape = in.shape();
        RopeTable table = RopeTable.of(positionOffset, shape[s], frequencies, magnitude);
        be.rope(in, out, table, (int) Shapes.prod(shape, s + 1, shape.length - 1), style);
        return out;
    }

    // ---------------------------------------------------------------- gathers and reductions

    /** Rows of table [V, D] (any dtype) picked by I32 ids of any shape: F32 [..ids, D]. */
    public static Tensor embedding(Tensor table, Tensor ids) {
        Backend be = backend("embedding", table, ids);
        if (table.rank() != 2) throw new IllegalArgumentException("embedding: table must be [V, D], got " + Shapes.str(table.shape()));
        if (ids.dtype() != DType.I32) throw new IllegalArgumentException("embedding: ids must be I32, got " + ids.dtype());
        if (!table.isContiguous()) table = table.dtype().isQuantized() ? table : table.contiguous();
        if (!table.isContiguous()) throw new IllegalArgumentException("embedding: a " + table.dtype() + " table must be contiguous");
        Tensor idc = ids.contiguous();
        int vocab = table.size(0);
        if (idc.device().equals(Device.CPU)) {
            int[] values = idc.toIntArray();
            for (int i = 0; i < values.length; i++) {
                if (values[i] < 0 || values[i] >= vocab) {
                    throw new IndexOutOfBoundsException("embedding: id " + values[i] + " at position " + i + " is outside the table's range [0, " + vocab + ")");
                }
            }
        }
        Tensor out = newOutput(table, DType.F32, concat(ids.shape(), table.size(1)));
        be.embedding(table, idc, out);
        return out;
    }

    /** Index of the largest element along {@code dim} (I32, that dimension removed). */
    public static Tensor argmax(Tensor x, int dim) {
        Backend be = backend("argmax", x);
        requireRank("argmax", x, 1);
        int d = Shapes.dim("argmax", dim, x.rank());
        if (x.size(d) == 0) throw new IllegalArgumentException("argmax: dimension " + d + " of " + Shapes.str(x.shape()) + " is empty");
        Tensor in = f32("argmax", d == x.rank() - 1 ? x : x.transpose(d, x.rank() - 1));
        int[] shape = in.shape();
        Tensor out = newOutput(in, DType.I32, Arrays.copyOf(shape, shape.length - 1));
        be.argmax(in, out);
        return d == x.rank() - 1 ? out : unmoveLast(out, d);
    }

    public static Tensor sum(Tensor x, int dim, boolean keepDim) {
        return reduce(ReduceOp.SUM, x, dim, keepDim);
    }

    public static Tensor mean(Tensor x, int dim, boolean keepDim) {
        return reduce(ReduceOp.MEAN, x, dim, keepDim);
    }

    public static Tensor max(Tensor x, int dim, boolean keepDim) {
        return reduce(ReduceOp.MAX, x, dim, keepDim);
    }

    public static Tensor reduce(ReduceOp op, Tensor x, int dim, boolean keepDim) {
        String name = op.name().toLowerCase();
        Backend be = backend(name, x);
        requireRank(name, x, 1);
        int d = Shapes.dim(name, dim, x.rank());
        if (op == ReduceOp.MAX && x.size(d) == 0) throw new IllegalArgumentException("max: dimension " + d + " of " + Shapes.str(x.shape()) + " is empty");
        if (x.numel() == 0) {
            // Nothing to read (the kernels expect rows): as in PyTorch, a sum over nothing is 0 and a mean NaN.
            if (x.dtype() == DType.I32) f32(name, x); // the same refusal as below
            int[] shape = x.shape();
            shape[d] = 1;
            Tensor out = newOutput(x, DType.F32, shape);
            if (op == ReduceOp.MEAN && out.numel() > 0) out = scale(out, Float.NaN); // 0 · NaN
            return keepDim ? out : out.squeeze(d);
        }
        int last = x.rank() - 1;
        Tensor in = f32(name, d == last ? x : x.transpose(d, last));
        int[] shape = in.shape();
        Tensor out = newOutput(in, DType.F32, Arrays.copyOf(shape, shape.length - 1));
        be.reduce(op, in, out);
        Tensor result = d == last ? out : unmoveLast(out, d);
        return keepDim ? result.unsqueeze(d) : result;
    }

    /**
     * Reductions ran over x.transpose(d, last) with the last dimension removed; the remaining dims
     * are in transposed order with the old last dim sitting at position d. Put it back at the end.
     */
    private static Tensor unmoveLast(Tensor reduced, int d) {
        int rank = reduced.rank();
        if (d >= rank) return reduced;
        int[] order = new int[rank];
        // Dimension d of the reduced tensor holds original dimension `last`; move it to the end.
        for (int i = 0, j = 0; i < rank; i++) if (i != d) order[j++] = i;
        order[rank - 1] = d;
        return reduced.permute(order).contiguous();
    }

    // ---------------------------------------------------------------- joining and splitting

    /** Joins tensors of equal shape but for {@code dim}, along {@code dim}. */
    public static Tensor concat(int dim, Tensor... parts) {
        if (parts.length == 0) throw new IllegalArgumentException("concat: no tensors given");
        Tensor first = parts[0];
        backend("concat", parts);
        int d = Shapes.dim("concat", dim, first.rank());
        int total = 0;
        for (Tensor p : parts) {
            if (p.rank() != first.rank() || p.dtype() != first.dtype()) {
                throw new IllegalArgumentException("concat: " + p.dtype() + " " + Shapes.str(p.shape()) + " does not match "
                        + first.dtype() + " " + Shapes.str(first.shape()));
            }
            for (int i = 0; i < first.rank(); i++) {
                if (i != d && p.size(i) != first.size(i)) {
                    throw new IllegalArgumentException("concat: shapes " + Shapes.str(first.shape()) + " and " + Shapes.str(p.shape())
                            + " differ at dimension " + i + " (" + first.size(i) + " vs " + p.size(i) + ")");
                }
            }
            total += p.size(d);
        }
        int[] shape = first.shape();
        shape[d] = total;
        Tensor out = newOutput(first, first.dtype(), shape);
        int at = 0;
        for (Tensor p : parts) {
            if (first.dtype().isQuantized()) {
                throw new IllegalArgumentException("concat: " + first.dtype() + " tensors cannot be joined; dequantize first");
            }
            copyInto(p, out.narrow(d, at, p.size(d)));
            at += p.size(d);
        }
        return out;
    }

    /** Views of consecutive pieces of the given sizes along {@code dim}; the sizes must add up to its size. */
    public static Tensor[] split(Tensor x, int dim, int... sizes) {
        int d = Shapes.dim("split", dim, x.rank());
        long sum = 0;
        for (int s : sizes) sum += s;
        if (sum != x.size(d)) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " add up to " + sum + ", but dimension " + d
                    + " of " + Shapes.str(x.shape()) + " has size " + x.size(d));
        }
        Tensor[] parts = new Tensor[sizes.length];
        int at = 0;
        for (int i = 0; i < sizes.length; i++) {
            parts[i] = x.narrow(d, at, sizes[i]);
            at += sizes[i];
        }
        return parts;
    }
}
