package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Tensor;

/**
 * One op, defined once: its name, its typed attribute record {@code A}, its argument checks and
 * output inference (the same method for eager and traced execution), its dimension rule (for
 * chunking), its memory rule (views and scratch, for the estimator), how its attributes shift on
 * a slice, its cost terms, its eager execution on a {@link Backend} and a slot for its backward
 * rule. {@link Ops} and the chunking tracer are thin front ends over these definitions;
 * {@link OpRegistry#all()} lists them.
 *
 * <p>Operands are passed as arrays in the op's own order; an optional operand the caller left out
 * is simply absent from the end (a bias-free linear gets two operands, not a null third).
 *
 * @param <A> the attribute record: everything but the operands that the op's result depends on
 */
public abstract class OpDef<A extends Record> {
    /** In a dimension rule: the operand is read whole by every chunk (a weight, a broadcast size-1 dim). */
    public static final int WHOLE = -1;

    private final String name;
    private final String apiName;
    private final Class<A> attrsType;

    /**
     * @param name      short name used in error messages and graph dumps, e.g. "softmax"
     * @param apiName   the front-end method that runs it, e.g. "Ops.softmax"
     * @param attrsType the attribute record's class
     */
    protected OpDef(String name, String apiName, Class<A> attrsType) {
        this.name = name;
        this.apiName = apiName;
        this.attrsType = attrsType;
    }

    /** How an op computes on a {@link Backend}. */
    public enum Kernel {
        /** Through a method of {@link Backend} (matmul, binary, copy, ...): every backend has its own kernel. */
        BACKEND_METHOD,
        /**
         * Through {@link Backend#run}: a backend's own kernel where {@link Backend#supports} says it
         * has one, else the op's {@link #referenceKernel} on the host.
         */
        REGISTRY,
        /** None: the op returns a view of its operand. */
        VIEW
    }

    /** How this op computes; most ops through a {@link Backend} method. */
    public Kernel kernelKind() {
        return Kernel.BACKEND_METHOD;
    }

    /** What an op produces: the output's dtype and shape. */
    public record Output(DType dtype, int[] shape) {}

    /**
     * Gradients of an op's inputs, given what the forward pass saw: a tape calls it with the
     * attributes, the inputs, the output and the gradient of the loss with respect to the output,
     * and gets one gradient per input back (null for an input that needs none, such as indices).
     *
     * @param <A> the op's attribute record
     */
    @FunctionalInterface
    public interface Backward<A extends Record> {
        Tensor[] gradients(A attrs, Tensor[] inputs, Tensor output, Tensor outputGradient);
    }

    public final String name() {
        return name;
    }

    /** The front-end method that runs this op, e.g. {@code Ops.softmax}. */
    public final String apiName() {
        return apiName;
    }

    public final Class<A> attrsType() {
        return attrsType;
    }

    /** What a graph dump calls one application: the name, or a finer one ("add", "silu", "causalSoftmax"). */
    public String label(A attrs) {
        return name;
    }

    /** {@code attrs} as this op's attribute record; an error naming both when it is another op's. */
    public final A cast(Record attrs) {
        if (!attrsType.isInstance(attrs)) {
            throw new IllegalArgumentException(name + ": attributes " + attrs + " are not " + attrsType.getSimpleName());
        }
        return attrsType.cast(attrs);
    }

    // ---------------------------------------------------------------- checks and inference

    /**
     * Checks the operands and attributes and says what the op produces; the error messages are the
     * ones eager code sees.
     */
    public abstract Output infer(A attrs, Operand... in);

    /** The device the result lives on when the operands are on {@code operands}: theirs, but for an op that moves data. */
    public Device outputDevice(A attrs, Device operands) {
        return operands;
    }

    // ---------------------------------------------------------------- eager execution

    /**
     * Runs the op on the backend of its operands' device (all operands must be alive and on one
     * device); a {@link Tape} recording on this thread keeps the application for its backward.
     */
    public final Tensor run(A attrs, Tensor... in) {
        Tape tape = Tape.recording();
        return tape == null ? run(OpSupport.backend(name, in), attrs, in) : tape.run(this, attrs, in);
    }

    /** Runs the op with {@code backend}'s kernels; the operands must be on its device. */
    public abstract Tensor run(Backend backend, A attrs, Tensor... in);

    /**
     * The scalar reference result: the op run by the scalar backend on host copies of the
     * operands. Every other backend is tested against it.
     */
    public Tensor reference(A attrs, Tensor... in) {
        Tensor[] host = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) host[i] = Ops.toDevice(in[i], Device.CPU);
        return run(Backends.scalar(), attrs, host);
    }

    /**
     * Runs a {@link Kernel#REGISTRY} op: the backend's kernel when it {@link Backend#supports}
     * the op, else {@link #referenceKernel} on the host (operands on a device go there and back).
     */
    protected final void dispatch(Backend backend, A attrs, Tensor[] in, Tensor out) {
        if (backend.supports(this)) {
            if (!backend.run(this, attrs, in, out)) {
                throw new IllegalStateException(backend.name() + " says it supports " + name + " but its run(op) did not take it");
            }
            return;
        }
        if (out.storage().isHost()) {
            referenceKernel(attrs, in, out);
            return;
        }
        Tensor[] host = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) host[i] = Ops.toDevice(in[i], Device.CPU);
        Tensor hostOut = Ops.toDevice(out, Device.CPU);
        referenceKernel(attrs, host, hostOut);
        backend.transfer(hostOut, out);
    }

    /**
     * The plain-loop kernel for an op without a {@link Backend} method: host memory, operands and
     * out laid out as {@link #run} prepared them. Ops with a Backend method do not need one.
     */
    protected void referenceKernel(A attrs, Tensor[] in, Tensor out) {
        throw new UnsupportedOperationException(name + " has no reference kernel; it runs through a Backend method");
    }

    // ---------------------------------------------------------------- chunking

    /**
     * The dimension rule: for output dimension {@code d}, per operand the dimension a chunk along
     * d slices, or {@link #WHOLE}; null when the op mixes values along d (a chunk loop cannot cut
     * it). A chunk of output slice [s, s+len) along d needs the same slice of each operand along
     * its entry.
     */
    public abstract int[] flow(A attrs, Operand[] in, int[] outShape, int d);

    /** A dimension rule entry for an op that slices its first operand along d and reads the rest whole (weights, norms' vectors). */
    protected static int[] firstAlong(int operands, int d) {
        int[] r = new int[operands];
        java.util.Arrays.fill(r, WHOLE);
        r[0] = d;
        return r;
    }

    /**
     * The attributes that make the op compute output slice [start, start+length) along {@code dim}
     * of a full output of shape {@code outShape} from operand slices: ops that depend on absolute
     * positions (a causal diagonal, a rope offset, a reshape's size) shift them. The default keeps
     * the attributes.
     */
    public A slice(A attrs, int dim, int start, int length, int[] outShape) {
        return attrs;
    }

    // ---------------------------------------------------------------- memory

    /** True for ops that may return a view of their first operand (no new memory) when the layout allows. */
    public boolean mayView() {
        return false;
    }

    /** True when, for these operand layouts, the result is a view of the first operand. */
    public boolean isView(A attrs, Layout[] in) {
        return false;
    }

    /** The output's layout for these operand layouts and output shape: contiguous unless a view says otherwise. */
    public Layout outputLayout(A attrs, Layout[] in, int[] outShape) {
        return Layout.contiguous(outShape);
    }

    /** Bytes the op allocates and frees while it runs, besides its output (contiguous F32 copies, temporaries). */
    public long scratchBytes(A attrs, Layout[] in, DType[] dtypes, int[] outShape) {
        return 0;
    }

    /**
     * Bytes a contiguous F32 copy of a {@code dtype} operand laid out as {@code l} costs: zero when
     * it is F32 and contiguous already (used as is), else a full F32 copy.
     */
    public static long f32Copy(Layout l, DType dtype) {
        return dtype == DType.F32 && l.isContiguous() ? 0 : DType.F32.byteSize(l.numel());
    }

    // ---------------------------------------------------------------- cost

    /** Floating-point operations of a product (matmul, attention); 0 for bandwidth-bound ops. */
    public double flops(A attrs, Operand[] in, int[] outShape) {
        return 0;
    }

    /** Rows of one product (M of a matmul); 1 for ops without a product. */
    public long productRows(A attrs, Operand[] in, int[] outShape) {
        return 1;
    }

    /** True when a chunk along output dimension d cuts the product's rows (so each chunk runs fewer). */
    public boolean chunkCutsRows(A attrs, int[] outShape, int d) {
        return d == outShape.length - 2;
    }

    /** Bytes a chunk loop along d moves besides the op's own traffic (a narrowed copy, say); 0 by default. */
    public long chunkExtraBytes(A attrs, int[] outShape, int d) {
        return 0;
    }

    // ---------------------------------------------------------------- training

    /** The backward rule, or null while the op has none. */
    public Backward<A> backward() {
        return null;
    }

    /**
     * False for ops whose output has no gradient to pass back (an index, as argmax gives): the
     * tape stops there instead of asking for a rule. Every other op must have a {@link #backward()}.
     */
    public boolean differentiable() {
        return true;
    }

    @Override
    public String toString() {
        return name;
    }
}
