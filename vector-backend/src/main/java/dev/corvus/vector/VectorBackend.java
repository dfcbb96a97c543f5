package dev.corvus.vector;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.RopeTable;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.TileKernels;
import dev.corvus.tensor.UnaryOp;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.Softplus;
import java.lang.foreign.MemorySegment;

/**
 * The Vector API backend: checks once per call that operands have the layout the {@link Backend}
 * contract promises (the kernels read raw memory, so a wrong layout would give silently wrong
 * numbers), then hands segments and byte offsets to the static kernels in {@link Elementwise},
 * {@link RowKernels} and {@link Conversions}.
 */
final class VectorBackend implements Backend {
    /** Rows of an embedding lookup a task should cover at least (in elements). */
    private static final int GRAIN_ELEMENTS = 16 * 1024;

    @Override
    public String name() {
        return "vector";
    }

    @Override
    public String description() {
        return "Vector API kernels, " + VectorShapes.describe();
    }

    @Override
    public TileKernels tiles() {
        return VectorTileKernels.INSTANCE;
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        Conversions.copy(src, dst);
    }

    /** Below this many flops per batch entry, batches are spread over the pool instead of each GEMM. */
    private static final long SMALL_GEMM_FLOPS = 1L << 22;

    @Override
    public void matmul(Tensor a, Tensor b, Tensor out) {
        int batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
        if (a.dtype() != DType.F32 || !out.isContiguous() || out.dtype() != DType.F32) {
            throw new IllegalArgumentException("matmul: expected F32 a and a contiguous F32 out, got " + a + " and " + out);
        }
        boolean weights = b.dtype() != DType.F32;
        if (weights && (b.stride(1) != 1 || (n > 1 && b.stride(2) != k))) {
            throw new IllegalArgumentException("matmul: a " + b.dtype() + " operand must be a transposed row-major [N, K] weight, got " + b);
        }
        long[] sa = a.strides(), sb = b.strides();
        MemorySegment as = a.segment(), bs = b.segment(), cs = out.segment();
        Parallel.RangeBody body = (start, end) -> {
            for (int i = start; i < end; i++) {
                long aOff = 4 * (a.offset() + i * sa[0]);
                long cOff = out.byteOffset() + 4L * i * m * n;
                if (weights) {
                    long wOff = b.dtype().byteSize(b.offset() + i * sb[0]);
                    Gemm.gemmWeights(m, n, k, as, aOff, sa[1], sa[2], b.dtype(), bs, wOff, cs, cOff, n);
                } else {
                    Gemm.sgemm(m, n, k, as, aOff, sa[1], sa[2], bs, 4 * (b.offset() + i * sb[0]), sb[1], sb[2], cs, cOff, n);
                }
            }
        };
        // Many small products (attention heads): one per task. Few large ones: each GEMM splits itself.
        boolean spreadBatches = batch > 1 && (batch >= 4 * Parallel.parallelism() || 2L * m * n * k < SMALL_GEMM_FLOPS);
        if (spreadBatches) Parallel.forRange(batch, 1, body);
        else body.run(0, batch);
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        String name = op.label();
        int n = dense(name, a), m = dense(name, b);
        sameSize(name, out, n);
        if (n == 0) return;
        if (m == 0 || n % m != 0) throw new IllegalArgumentException(name + ": " + m + " elements of b do not tile " + n + " of a");
        Elementwise.binary(op, a.segment(), a.byteOffset(), b.segment(), b.byteOffset(), m, out.segment(), out.byteOffset(), n);
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        String name = op.label();
        int n = dense(name, x);
        sameSize(name, out, n);
        Elementwise.unary(op, x.segment(), x.byteOffset(), out.segment(), out.byteOffset(), n);
    }

    @Override
    public boolean supports(OpDef<?> op) {
        return op == Softplus.OP || Backend.super.supports(op);
    }

    @Override
    public boolean run(OpDef<?> op, Record attrs, Tensor[] in, Tensor out) {
        if (op != Softplus.OP) return false;
        int n = dense("softplus", in[0]);
        sameSize("softplus", out, n);
        Elementwise.softplus(in[0].segment(), in[0].byteOffset(), out.segment(), out.byteOffset(), n);
        return true;
    }

    @Override
    public void scale(Tensor x, float factor, Tensor out) {
        int n = dense("scale", x);
        sameSize("scale", out, n);
        Elementwise.scale(x.segment(), x.byteOffset(), factor, out.segment(), out.byteOffset(), n);
    }

    @Override
    public void softmax(Tensor x, Tensor out, int queries, boolean causal, boolean log) {
        int n = dense("softmax", x);
        sameSize("softmax", out, n);
        if (causal && queries < 1) throw new IllegalArgumentException("softmax: causal mask needs queries >= 1, got " + queries);
        RowKernels.softmax(x.segment(), x.byteOffset(), out.segment(), out.byteOffset(), rows(x), cols(x), causal ? queries : 1, causal, log);
    }

    @Override
    public void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) {
        int n = dense("rmsnorm", x), c = cols(x);
        sameSize("rmsnorm", out, n);
        param("rmsnorm weight", weight, c);
        RowKernels.rmsnorm(x.segment(), x.byteOffset(), segment(weight), offset(weight), eps, out.segment(), out.byteOffset(), rows(x), c);
    }

    @Override
    public void layernorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        int n = dense("layernorm", x), c = cols(x);
        sameSize("layernorm", out, n);
        param("layernorm weight", weight, c);
        param("layernorm bias", bias, c);
        RowKernels.layernorm(x.segment(), x.byteOffset(), segment(weight), offset(weight), segment(bias), offset(bias), eps,
                out.segment(), out.byteOffset(), rows(x), c);
    }

    @Override
    public void rope(Tensor x, Tensor out, RopeTable table, int rowsPerPosition, RopeStyle style) {
        int n = dense("rope", x), d = cols(x);
        sameSize("rope", out, n);
        if (d % 2 != 0 || table.halfDim() != d / 2) {
            throw new IllegalArgumentException("rope: rows of " + d + " do not match a table for half dimension " + table.halfDim());
        }
        if (rowsPerPosition < 1) throw new IllegalArgumentException("rope: rowsPerPosition must be >= 1, got " + rowsPerPosition);
        if (n == 0) return;
        RowKernels.rope(x.segment(), x.byteOffset(), out.segment(), out.byteOffset(), rows(x), d, table, rowsPerPosition, style);
    }

    @Override
    public void embedding(Tensor table, Tensor ids, Tensor out) {
        DType dt = table.dtype();
        if (!table.isContiguous() || dt == DType.I32 || ids.dtype() != DType.I32 || !ids.isContiguous()) {
            Backends.scalar().embedding(table, ids, out);
            return;
        }
        int d = table.size(1), vocab = table.size(0);
        int count = Math.toIntExact(ids.numel());
        dense("embedding", out);
        sameSize("embedding", out, (long) count * d);
        MemorySegment ts = table.segment(), is = ids.segment(), os = out.segment();
        long tOff = table.offset(), iOff = ids.byteOffset(), oOff = out.byteOffset();
        Parallel.forRange(count, Math.max(1, GRAIN_ELEMENTS / Math.max(1, d)), (start, end) -> {
            for (int i = start; i < end; i++) {
                int id = is.get(Conversions.I32, iOff + 4L * i);
                if (id < 0 || id >= vocab) throw new IndexOutOfBoundsException("embedding: id " + id + " is outside [0, " + vocab + ")");
                long row = Conversions.byteOffset(dt, tOff + (long) id * d);
                Conversions.span(dt, ts, row, DType.F32, os, oOff + 4L * i * d, d);
            }
        });
    }

    @Override
    public void reduce(ReduceOp op, Tensor x, Tensor out) {
        String name = op.label();
        dense(name, x);
        int rows = rows(x);
        sameSize(name, out, rows);
        RowKernels.reduce(op, x.segment(), x.byteOffset(), out.segment(), out.byteOffset(), rows, cols(x));
    }

    @Override
    public void argmax(Tensor x, Tensor out) {
        dense("argmax", x);
        int rows = rows(x), c = cols(x);
        if (out.dtype() != DType.I32 || !out.isContiguous()) throw new IllegalArgumentException("argmax: output must be contiguous I32, got " + out);
        sameSize("argmax", out, rows);
        if (rows > 0 && c == 0) throw new IllegalArgumentException("argmax: rows are empty");
        RowKernels.argmax(x.segment(), x.byteOffset(), out.segment(), out.byteOffset(), rows, c);
    }

    // ---------------------------------------------------------------- layout checks

    /** Elements of t, after checking it is contiguous F32 (which is what the kernels read). */
    private static int dense(String op, Tensor t) {
        if (t.dtype() != DType.F32 || !t.isContiguous()) {
            throw new IllegalArgumentException(op + ": the vector backend expects contiguous F32 operands, got " + t);
        }
        return Math.toIntExact(t.numel());
    }

    private static void sameSize(String op, Tensor t, long n) {
        if (t.numel() != n) throw new IllegalArgumentException(op + ": " + t + " has " + t.numel() + " elements, expected " + n);
        if (t.dtype() == DType.F32 && !t.isContiguous()) throw new IllegalArgumentException(op + ": " + t + " is not contiguous");
    }

    /** An optional per-column parameter (weight, bias): null, or c contiguous F32 values. */
    private static void param(String op, Tensor t, int c) {
        if (t != null && dense(op, t) != c) throw new IllegalArgumentException(op + ": " + t + " has " + t.numel() + " elements, expected " + c);
    }

    private static int rows(Tensor t) {
        return t.rank() == 0 ? 1 : Math.toIntExact(t.numel() / Math.max(1, t.size(-1)));
    }

    private static int cols(Tensor t) {
        return t.rank() == 0 ? 1 : t.size(-1);
    }

    private static MemorySegment segment(Tensor t) {
        return t == null ? null : t.segment();
    }

    private static long offset(Tensor t) {
        return t == null ? 0 : t.byteOffset();
    }
}
