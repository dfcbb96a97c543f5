package dev.corvus.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * An n-dimensional array: shape, strides and offset (in elements) over a {@link Storage}, with a
 * {@link DType}. Views (reshape, transpose, permute, narrow, expand) share storage and copy
 * nothing; {@link #contiguous()} copies only when the layout needs it.
 *
 * <p>Factories allocate in the current {@link MemoryScope} unless given one. Ops live in
 * {@link Ops}.
 */
public final class Tensor implements dev.corvus.tensor.op.Operand {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final Storage storage;
    private final DType dtype;
    private final int[] shape;
    private final long[] strides;
    private final long offset;

    Tensor(Storage storage, DType dtype, int[] shape, long[] strides, long offset) {
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
    }

    // ---------------------------------------------------------------- creation

    /** A zero-filled tensor in {@code scope}. */
    public static Tensor zeros(MemoryScope scope, DType dtype, int... shape) {
        Shapes.checkValid(shape);
        int[] s = shape.clone();
        if (dtype.isQuantized() && (s.length == 0 || s[s.length - 1] % dtype.blockSize() != 0)) {
            throw new IllegalArgumentException(dtype + " tensors need a last dimension that is a multiple of "
                    + dtype.blockSize() + ", got shape " + Shapes.str(s));
        }
        Storage st = Storage.allocate(scope, dtype.byteSize(Shapes.numel(s)));
        return new Tensor(st, dtype, s, Shapes.contiguousStrides(s), 0);
    }

    /** A zero-filled tensor in the current scope. */
    public static Tensor zeros(DType dtype, int... shape) {
        return zeros(MemoryScope.require("Tensor.zeros"), dtype, shape);
    }

    public static Tensor full(MemoryScope scope, float value, int... shape) {
        Tensor t = zeros(scope, DType.F32, shape);
        MemorySegment seg = t.storage.segment();
        for (long i = 0, n = t.numel(); i < n; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, value);
        return t;
    }

    public static Tensor full(float value, int... shape) {
        return full(MemoryScope.require("Tensor.full"), value, shape);
    }

    public static Tensor ones(int... shape) {
        return full(1f, shape);
    }

    /** An F32 tensor holding a copy of {@code data}, whose length must equal the shape's size. */
    public static Tensor of(MemoryScope scope, float[] data, int... shape) {
        Tensor t = zeros(scope, DType.F32, checkLength(data.length, shape));
        MemorySegment.copy(data, 0, t.storage.segment(), ValueLayout.JAVA_FLOAT, 0, data.length);
        return t;
    }

    public static Tensor of(float[] data, int... shape) {
        return of(MemoryScope.require("Tensor.of"), data, shape);
    }

    /** An I32 tensor holding a copy of {@code data}. */
    public static Tensor ofInts(MemoryScope scope, int[] data, int... shape) {
        Tensor t = zeros(scope, DType.I32, checkLength(data.length, shape));
        MemorySegment.copy(data, 0, t.storage.segment(), ValueLayout.JAVA_INT, 0, data.length);
        return t;
    }

    public static Tensor ofInts(int[] data, int... shape) {
        return ofInts(MemoryScope.require("Tensor.ofInts"), data, shape);
    }

    /** A tensor over existing memory (for example a mapped checkpoint), row-major. */
    public static Tensor wrap(Storage storage, DType dtype, long byteOffset, int... shape) {
        Shapes.checkValid(shape);
        long bytes = dtype.byteSize(Shapes.numel(shape));
        if (byteOffset < 0 || byteOffset + bytes > storage.byteSize()) {
            throw new IllegalArgumentException("wrap: " + dtype + " " + Shapes.str(shape) + " needs bytes [" + byteOffset + ", "
                    + (byteOffset + bytes) + ") but the storage has " + storage.byteSize());
        }
        long elemOffset;
        if (dtype.isQuantized()) {
            if (byteOffset % dtype.blockBytes() != 0) throw new IllegalArgumentException("wrap: " + dtype + " offset " + byteOffset + " is not block aligned");
            elemOffset = byteOffset / dtype.blockBytes() * dtype.blockSize();
        } else {
            if (byteOffset % dtype.elementBytes() != 0) throw new IllegalArgumentException("wrap: " + dtype + " offset " + byteOffset + " is not element aligned");
            elemOffset = byteOffset / dtype.elementBytes();
        }
        return new Tensor(storage, dtype, shape.clone(), Shapes.contiguousStrides(shape), elemOffset);
    }

    /** Standard normal values times {@code std}, from a fixed seed. */
    public static Tensor randn(MemoryScope scope, long seed, float std, int... shape) {
        Tensor t = zeros(scope, DType.F32, shape);
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment seg = t.storage.segment();
        for (long i = 0, n = t.numel(); i < n; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (r.nextGaussian() * std));
        return t;
    }

    public static Tensor randn(long seed, int... shape) {
        return randn(MemoryScope.require("Tensor.randn"), seed, 1f, shape);
    }

    /** Uniform values in [lo, hi), from a fixed seed. */
    public static Tensor rand(MemoryScope scope, long seed, float lo, float hi, int... shape) {
        Tensor t = zeros(scope, DType.F32, shape);
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment seg = t.storage.segment();
        for (long i = 0, n = t.numel(); i < n; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (lo + (hi - lo) * r.nextDouble()));
        return t;
    }

    public static Tensor rand(long seed, float lo, float hi, int... shape) {
        return rand(MemoryScope.require("Tensor.rand"), seed, lo, hi, shape);
    }

    /** [start, start + step, ...) below end, as F32. */
    public static Tensor arange(float start, float end, float step) {
        if (step == 0 || Float.isNaN(step)) throw new IllegalArgumentException("arange: step must be non-zero, got " + step);
        int n = (int) Math.max(0, Math.ceil((end - start) / (double) step));
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = start + i * step;
        return of(v, n);
    }

    public static Tensor arange(int n) {
        return arange(0, n, 1);
    }

    private static int[] checkLength(int length, int[] shape) {
        Shapes.checkValid(shape);
        if (Shapes.numel(shape) != length) {
            throw new IllegalArgumentException("data of length " + length + " does not fill shape " + Shapes.str(shape)
                    + " (" + Shapes.numel(shape) + " elements)");
        }
        return shape;
    }

    // ---------------------------------------------------------------- properties

    public DType dtype() {
        return dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int size(int dim) {
        return shape[Shapes.dim("size", dim, shape.length)];
    }

    public int rank() {
        return shape.length;
    }

    public long[] strides() {
        return strides.clone();
    }

    public long stride(int dim) {
        return strides[Shapes.dim("stride", dim, shape.length)];
    }

    /** Offset of the first element, in elements. */
    public long offset() {
        return offset;
    }

    public long numel() {
        return Shapes.numel(shape);
    }

    public Storage storage() {
        return storage;
    }

    public Device device() {
        return storage.device();
    }

    public MemoryScope scope() {
        return storage.scope();
    }

    /** The storage's memory; an IllegalStateException if its scope is closed. */
    public MemorySegment segment() {
        return storage.segment();
    }

    /** Byte offset of the first element in {@link #segment()}. */
    public long byteOffset() {
        return dtype.isQuantized() ? offset / dtype.blockSize() * dtype.blockBytes() : offset * dtype.elementBytes();
    }

    /** Row-major with no gaps (size-1 dimensions may have any stride). */
    public boolean isContiguous() {
        return Shapes.isContiguous(shape, strides);
    }

    // ---------------------------------------------------------------- views

    /** The same elements in a new shape; one size may be -1. Needs a contiguous layout; see {@link #reshape}. */
    public Tensor view(int... newShape) {
        int[] s = inferShape("view", newShape);
        if (!isContiguous()) {
            throw new IllegalStateException("view: tensor of shape " + Shapes.str(shape) + " with strides " + Arrays.toString(strides)
                    + " is not contiguous; use reshape() (which copies) or contiguous() first");
        }
        if (dtype.isQuantized() && (s.length == 0 || s[s.length - 1] % dtype.blockSize() != 0)) {
            throw new IllegalArgumentException("view: " + dtype + " needs a last dimension that is a multiple of " + dtype.blockSize() + ", got " + Shapes.str(s));
        }
        return new Tensor(storage, dtype, s, Shapes.contiguousStrides(s), offset);
    }

    /** Like {@link #view}, copying first when the layout is not contiguous. */
    public Tensor reshape(int... newShape) {
        return isContiguous() ? view(newShape) : contiguous().view(newShape);
    }

    private int[] inferShape(String op, int[] newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException(op + ": more than one -1 in " + Shapes.str(newShape));
                infer = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException(op + ": negative size in " + Shapes.str(newShape));
            } else {
                known *= s[i];
            }
        }
        long n = numel();
        if (infer >= 0) {
            if (known == 0) {
                throw new IllegalArgumentException(op + ": cannot infer -1 in " + Shapes.str(newShape) + " for " + Shapes.str(shape)
                        + ": the other sizes multiply to 0, so any size would fit; give it explicitly");
            }
            if (n % known != 0) {
                throw new IllegalArgumentException(op + ": cannot infer -1 in " + Shapes.str(newShape) + " for " + n + " elements of " + Shapes.str(shape));
            }
            s[infer] = (int) (n / known);
        } else if (known != n) {
            throw new IllegalArgumentException(op + ": shape " + Shapes.str(shape) + " (" + n + " elements) cannot become "
                    + Shapes.str(newShape) + " (" + known + " elements)");
        }
        return s;
    }

    /** Swaps two dimensions. */
    public Tensor transpose(int dim0, int dim1) {
        int a = Shapes.dim("transpose", dim0, rank()), b = Shapes.dim("transpose", dim1, rank());
        int[] order = new int[rank()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        order[a] = b;
        order[b] = a;
        return permute(order);
    }

    /** The transpose of the last two dimensions. */
    public Tensor t() {
        if (rank() < 2) throw new IllegalArgumentException("t: needs rank >= 2, got shape " + Shapes.str(shape));
        return transpose(-2, -1);
    }

    /** Reorders dimensions: result dimension i is this tensor's dimension order[i]. */
    public Tensor permute(int... order) {
        if (order.length != rank()) {
            throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " does not match rank " + rank() + " of " + Shapes.str(shape));
        }
        boolean[] seen = new boolean[rank()];
        int[] s = new int[rank()];
        long[] st = new long[rank()];
        for (int i = 0; i < order.length; i++) {
            int d = Shapes.dim("permute", order[i], rank());
            if (seen[d]) throw new IllegalArgumentException("permute: dimension " + d + " repeats in " + Arrays.toString(order));
            seen[d] = true;
            s[i] = shape[d];
            st[i] = strides[d];
        }
        return new Tensor(storage, dtype, s, st, offset);
    }

    /** Elements [start, start + length) along {@code dim}. */
    public Tensor narrow(int dim, int start, int length) {
        int d = Shapes.dim("narrow", dim, rank());
        if (start < 0 || length < 0 || (long) start + length > shape[d]) {
            throw new IndexOutOfBoundsException("narrow: range [" + start + ", " + ((long) start + length) + ") is outside dimension "
                    + d + " of size " + shape[d] + " in shape " + Shapes.str(shape));
        }
        if (dtype.isQuantized() && strides[d] == 1 && (start % dtype.blockSize() != 0 || length % dtype.blockSize() != 0)) {
            throw new IllegalArgumentException("narrow: " + dtype + " can only be cut along its block dimension at multiples of " + dtype.blockSize());
        }
        int[] s = shape.clone();
        s[d] = length;
        return new Tensor(storage, dtype, s, strides.clone(), offset + start * strides[d]);
    }

    /** Elements [start, end) along {@code dim}. */
    public Tensor slice(int dim, int start, int end) {
        if (end < start) throw new IndexOutOfBoundsException("slice: end " + end + " is before start " + start);
        return narrow(dim, start, end - start);
    }

    /** The sub-tensor at {@code index} along {@code dim}, with that dimension removed. */
    public Tensor select(int dim, int index) {
        int d = Shapes.dim("select", dim, rank());
        return narrow(d, index, 1).squeeze(d);
    }

    /** Broadcasts size-1 dimensions (and new leading ones) to {@code newShape} without copying. */
    public Tensor expand(int... newShape) {
        if (newShape.length < rank()) {
            throw new IllegalArgumentException("expand: cannot expand " + Shapes.str(shape) + " to fewer dimensions " + Shapes.str(newShape));
        }
        int lead = newShape.length - rank();
        int[] s = new int[newShape.length];
        long[] st = new long[newShape.length];
        for (int i = 0; i < newShape.length; i++) {
            int src = i - lead;
            int want = newShape[i];
            if (src < 0) {
                if (want < 0) throw new IllegalArgumentException("expand: new leading dimension " + i + " cannot be -1");
                s[i] = want;
                st[i] = 0;
            } else if (want == -1 || want == shape[src]) {
                s[i] = shape[src];
                st[i] = strides[src];
            } else if (shape[src] == 1) {
                s[i] = want;
                st[i] = 0;
            } else {
                throw new IllegalArgumentException("expand: shape " + Shapes.str(shape) + " cannot expand to " + Shapes.str(newShape)
                        + " at dimension " + i + " (" + shape[src] + " vs " + want + ")");
            }
        }
        return new Tensor(storage, dtype, s, st, offset);
    }

    /** Inserts a size-1 dimension at {@code dim}. */
    public Tensor unsqueeze(int dim) {
        int d = Shapes.dim("unsqueeze", dim, rank() + 1);
        int[] s = new int[rank() + 1];
        long[] st = new long[rank() + 1];
        for (int i = 0, j = 0; i < s.length; i++) {
            if (i == d) {
                s[i] = 1;
                st[i] = j < rank() ? strides[j] * shape[j] : 1;
            } else {
                s[i] = shape[j];
                st[i] = strides[j++];
            }
        }
        return new Tensor(storage, dtype, s, st, offset);
    }

    /** Removes dimension {@code dim}, which must have size 1. */
    public Tensor squeeze(int dim) {
        int d = Shapes.dim("squeeze", dim, rank());
        if (shape[d] != 1) throw new IllegalArgumentException("squeeze: dimension " + d + " of " + Shapes.str(shape) + " has size " + shape[d] + ", not 1");
        int[] s = new int[rank() - 1];
        long[] st = new long[rank() - 1];
        for (int i = 0, j = 0; i < rank(); i++) {
            if (i == d) continue;
            s[j] = shape[i];
            st[j++] = strides[i];
        }
        return new Tensor(storage, dtype, s, st, offset);
    }

    /**
     * This tensor if contiguous, else a contiguous copy in the current scope (or this tensor's),
     * made by the registered {@link dev.corvus.tensor.op.Contiguous} op so that a
     * {@link dev.corvus.tensor.op.Tape} sees it.
     */
    public Tensor contiguous() {
        return isContiguous() ? this : dev.corvus.tensor.op.Contiguous.OP.run(dev.corvus.tensor.op.Contiguous.ATTRS, this);
    }

    /** This tensor on {@code device} (itself when already there, else a copy). */
    public Tensor to(Device device) {
        return Ops.toDevice(this, device);
    }

    /** A copy converted to {@code target} (F32, F16, BF16; quantised types to F32, F32 to Q8_0). */
    public Tensor to(DType target) {
        return Ops.convert(this, target);
    }

    // ---------------------------------------------------------------- element access (slow; for tests and tools)

    /** All elements in row-major order as floats (dequantized / converted as needed). */
    public float[] toFloatArray() {
        if (!device().equals(Device.CPU)) {
            try (MemoryScope tmp = MemoryScope.open("toFloatArray")) {
                return to(Device.CPU).toFloatArray();
            }
        }
        Tensor t = dtype == DType.F32 && isContiguous() ? this : Ops.convert(this, DType.F32);
        long n = t.numel();
        if (n > Integer.MAX_VALUE) throw new IllegalStateException("toFloatArray: " + n + " elements do not fit in an array");
        float[] out = new float[(int) n];
        MemorySegment.copy(t.segment(), ValueLayout.JAVA_FLOAT, t.byteOffset(), out, 0, (int) n);
        return out;
    }

    /** All elements of an I32 tensor in row-major order. */
    public int[] toIntArray() {
        if (dtype != DType.I32) throw new IllegalArgumentException("toIntArray: tensor is " + dtype + ", not I32");
        if (!device().equals(Device.CPU)) {
            try (MemoryScope tmp = MemoryScope.open("toIntArray")) {
                return to(Device.CPU).toIntArray();
            }
        }
        int[] out = new int[Math.toIntExact(numel())];
        MemorySegment seg = segment();
        for (int i = 0; i < out.length; i++) out[i] = seg.get(I32, 4 * elementIndex(i));
        return out;
    }

    /** Element at a multi-index, as float (quantised types dequantized, I32 widened). */
    public float get(int... index) {
        if (index.length != rank()) throw new IllegalArgumentException("get: index " + Arrays.toString(index) + " does not match shape " + Shapes.str(shape));
        long e = offset;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("get: index " + Arrays.toString(index) + " is outside shape " + Shapes.str(shape));
            }
            e += index[i] * strides[i];
        }
        if (!device().equals(Device.CPU)) {
            try (MemoryScope tmp = MemoryScope.open("get")) {
                return narrowTo(index).to(Device.CPU).item();
            }
        }
        return readAsFloat(segment(), dtype, e);
    }

    /** The one-element view at {@code index}. */
    private Tensor narrowTo(int[] index) {
        Tensor t = this;
        for (int d = 0; d < index.length; d++) t = t.narrow(d, index[d], 1);
        return t;
    }

    /** The single element of a one-element tensor. */
    public float item() {
        if (numel() != 1) throw new IllegalStateException("item: tensor of shape " + Shapes.str(shape) + " has " + numel() + " elements, not 1");
        return get(new int[rank()]);
    }

    /** Storage index (in elements) of the {@code linear}-th element in row-major order. */
    public long elementIndex(long linear) {
        long e = offset;
        for (int d = rank() - 1; d >= 0; d--) {
            long i = linear % shape[d];
            linear /= shape[d];
            e += i * strides[d];
        }
        return e;
    }

    static float readAsFloat(MemorySegment seg, DType dtype, long element) {
        return switch (dtype) {
            case F32 -> seg.get(F32, element * 4);
            case F16 -> FloatFormats.f16ToFloat(seg.get(I16, element * 2));
            case BF16 -> FloatFormats.bf16ToFloat(seg.get(I16, element * 2));
            case I32 -> seg.get(I32, element * 4);
            default -> Quants.value(dtype, seg, element / dtype.blockSize() * dtype.blockBytes(), (int) (element % dtype.blockSize()));
        };
    }

    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + Shapes.str(shape) + (isContiguous() ? "" : " strides=" + Arrays.toString(strides)) + " on " + device() + "]";
    }
}
