package dev.corvus.tensor;

import dev.corvus.tensor.op.Argmax;
import dev.corvus.tensor.op.Binary;
import dev.corvus.tensor.op.Concat;
import dev.corvus.tensor.op.Convert;
import dev.corvus.tensor.op.Copy;
import dev.corvus.tensor.op.CopyInto;
import dev.corvus.tensor.op.Embedding;
import dev.corvus.tensor.op.LayerNorm;
import dev.corvus.tensor.op.Linear;
import dev.corvus.tensor.op.Matmul;
import dev.corvus.tensor.op.Narrow;
import dev.corvus.tensor.op.Reduce;
import dev.corvus.tensor.op.RmsNorm;
import dev.corvus.tensor.op.Rope;
import dev.corvus.tensor.op.Scale;
import dev.corvus.tensor.op.Softmax;
import dev.corvus.tensor.op.Softplus;
import dev.corvus.tensor.op.ToDevice;
import dev.corvus.tensor.op.Unary;
import java.util.Arrays;

/**
 * The eager front end of the op set: each method builds its op's attribute record and runs the
 * op's definition ({@link dev.corvus.tensor.op.OpRegistry}), which checks the arguments, works out
 * the output shape, lays the operands out as the {@link Backend} contract says, allocates the
 * output and dispatches to the backend of the operands' device.
 *
 * <p>Outputs are allocated in the current {@link MemoryScope}, or, when none is open on this
 * thread, in the scope of the first operand. Arithmetic runs in F32: F16 and BF16 operands are
 * widened first, and the results are F32.
 */
public final class Ops {
    private Ops() {}

    // ---------------------------------------------------------------- plumbing

    /** A zeroed output on the same device as {@code like}, in the output scope. */
    static Tensor newOutput(Tensor like, DType dtype, int... shape) {
        return OpSupport.newOutput(Backends.of(like.device()), like, dtype, shape);
    }

    // ---------------------------------------------------------------- devices

    /**
     * This tensor on {@code device}: itself if already there, else a contiguous copy made by the
     * device's backend (host to device, device to host, or through the host between devices).
     */
    public static Tensor toDevice(Tensor x, Device device) {
        return toDevice(x, device, MemoryScope.forOutputOf(x));
    }

    /** Like {@link #toDevice(Tensor, Device)}, with the copy allocated in {@code scope} (long-lived weights, say). */
    public static Tensor toDevice(Tensor x, Device device, MemoryScope scope) {
        return ToDevice.move(x, device, scope);
    }

    static Backend backend(String op, Tensor... operands) {
        return OpSupport.backend(op, operands);
    }

    // ---------------------------------------------------------------- copies and conversions

    /** A contiguous copy with the same dtype. */
    public static Tensor copy(Tensor x) {
        return Copy.OP.run(Copy.ATTRS, x);
    }

    /**
     * Copies src into dst (same shape; dst may be a view, e.g. a slice of a larger tensor), as if
     * src were read whole first even when the two share memory; an expanded dst is refused
     * ({@link CopyInto} says how). A write, not a value: a recording {@link dev.corvus.tensor.op.Tape} does not see it.
     */
    public static void copyInto(Tensor src, Tensor dst) {
        CopyInto.OP.run(backend("copyInto", src, dst), CopyInto.ATTRS, dst, src);
    }

    /** A contiguous copy converted to {@code target}. */
    public static Tensor convert(Tensor x, DType target) {
        return Convert.OP.run(new Convert(target), x);
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
        return Matmul.OP.run(Matmul.ATTRS, a, b);
    }

    /** matmul with optional transposes of either operand's last two dimensions. */
    public static Tensor matmul(Tensor a, Tensor b, boolean transposeA, boolean transposeB) {
        return matmul(transposeA ? a.t() : a, transposeB ? b.t() : b);
    }

    /** x · wᵀ + bias for x [..., K], w [N, K] (F32, F16, BF16 or quantised), bias [N] or null. */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        return bias == null ? Linear.OP.run(Linear.ATTRS, x, w) : Linear.OP.run(Linear.ATTRS, x, w, bias);
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
        return Binary.OP.run(Binary.of(op), a, b);
    }

    public static Tensor scale(Tensor x, float factor) {
        return Scale.OP.run(new Scale(factor), x);
    }

    public static Tensor unary(UnaryOp op, Tensor x) {
        return Unary.OP.run(Unary.of(op), x);
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

    /** softplus(x) = log(1 + e^x), a smooth ReLU. */
    public static Tensor softplus(Tensor x) {
        return Softplus.OP.run(Softplus.ATTRS, x);
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
        return Softmax.OP.run(new Softmax(-1, true, false, diagonal), x);
    }

    public static Tensor logSoftmax(Tensor x, int dim) {
        return softmax(x, dim, false, true);
    }

    /**
     * Softmax (or log-softmax) along {@code dim}. With {@code causal}, dim must be the last one and
     * the tensor [..., queries, keys]: query q sees keys j &lt;= q + keys - queries.
     */
    public static Tensor softmax(Tensor x, int dim, boolean causal, boolean log) {
        return Softmax.OP.run(new Softmax(dim, causal, log, Softmax.BOTTOM_RIGHT), x);
    }

    /** x / sqrt(mean(x²) + eps) * weight along the last dimension; weight [C] or null. */
    public static Tensor rmsnorm(Tensor x, Tensor weight, float eps) {
        RmsNorm attrs = new RmsNorm(eps);
        return weight == null ? RmsNorm.OP.run(attrs, x) : RmsNorm.OP.run(attrs, x, weight);
    }

    /** (x - mean) / sqrt(var + eps) * weight + bias along the last dimension; weight, bias [C] or null. */
    public static Tensor layernorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        LayerNorm attrs = new LayerNorm(eps, weight != null, bias != null);
        if (weight != null && bias != null) return LayerNorm.OP.run(attrs, x, weight, bias);
        if (weight != null) return LayerNorm.OP.run(attrs, x, weight);
        return bias != null ? LayerNorm.OP.run(attrs, x, bias) : LayerNorm.OP.run(attrs, x);
    }

    /**
     * Rotary position embedding of x [..., T, ..., D], where dimension {@code seqDim} indexes
     * positions {@code positionOffset .. positionOffset+T-1} and D is the head dimension.
     */
    public static Tensor rope(Tensor x, int seqDim, int positionOffset, double theta, RopeStyle style) {
        return Rope.OP.run(Rope.withTheta(x, seqDim, positionOffset, theta, style), x);
    }

    /**
     * RoPE with explicit per-pair angular frequencies (D/2 of them, see {@link RopeTable#frequencies}),
     * cos and sin scaled by {@code magnitude}: the form RoPE-scaled models (linear, Llama 3 factors) need.
     */
    public static Tensor rope(Tensor x, int seqDim, int positionOffset, double[] frequencies, double magnitude, RopeStyle style) {
        return Rope.OP.run(new Rope(seqDim, positionOffset, frequencies, magnitude, style), x);
    }

    // ---------------------------------------------------------------- gathers and reductions

    /** Rows of table [V, D] (any dtype) picked by I32 ids of any shape: F32 [..ids, D]. */
    public static Tensor embedding(Tensor table, Tensor ids) {
        return Embedding.OP.run(Embedding.ATTRS, table, ids);
    }

    /** Index of the largest element along {@code dim} (I32, that dimension removed). */
    public static Tensor argmax(Tensor x, int dim) {
        return Argmax.OP.run(new Argmax(dim), x);
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
        return Reduce.OP.run(new Reduce(op, dim, keepDim), x);
    }

    // ---------------------------------------------------------------- joining and splitting

    /** Joins tensors of equal shape but for {@code dim}, along {@code dim}. */
    public static Tensor concat(int dim, Tensor... parts) {
        return Concat.OP.run(new Concat(dim), parts);
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
        Backend be = backend("split", x);
        Tensor[] parts = new Tensor[sizes.length];
        int at = 0;
        for (int i = 0; i < sizes.length; i++) {
            parts[i] = Narrow.OP.run(be, new Narrow(d, at, sizes[i]), x); // views, as Tensor.narrow: a tape traces them through the storage
            at += sizes[i];
        }
        return parts;
    }
}
