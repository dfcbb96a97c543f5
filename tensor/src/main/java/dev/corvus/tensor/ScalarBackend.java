package dev.corvus.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/**
 * The reference backend: every op as a plain loop, reductions in double precision. It is the
 * oracle the other backends are tested against, and the fallback where the Vector API cannot run.
 * Clarity beats speed here.
 */
final class ScalarBackend implements Backend {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED;

    static final class Provider implements BackendProvider {
        @Override
        public String name() {
            return "scalar";
        }

        @Override
        public int priority() {
            return 0;
        }

        @Override
        public Optional<String> unavailableReason() {
            return Optional.empty();
        }

        @Override
        public Backend create() {
            return Backends.scalar();
        }
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public String description() {
        return "scalar reference kernels, plain Java loops";
    }

    private static float get(Tensor t, long i) {
        return t.segment().get(F, t.byteOffset() + 4 * i);
    }

    private static void set(Tensor t, long i, float v) {
        t.segment().set(F, t.byteOffset() + 4 * i, v);
    }

    private static int rows(Tensor t) {
        return t.rank() == 0 ? 1 : Math.toIntExact(t.numel() / Math.max(1, t.size(-1)));
    }

    private static int cols(Tensor t) {
        return t.rank() == 0 ? 1 : t.size(-1);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        long n = src.numel();
        MemorySegment in = src.segment(), out = dst.segment();
        if (src.dtype() == dst.dtype() && src.dtype().isQuantized()) {
            MemorySegment.copy(in, src.byteOffset(), out, dst.byteOffset(), src.dtype().byteSize(n));
        } else if (dst.dtype() == DType.Q8_0) {
            int size = DType.Q8_0.blockSize();
            float[] block = new float[size];
            for (long b = 0; b < n / size; b++) {
                float amax = 0;
                for (int i = 0; i < size; i++) {
                    block[i] = Tensor.readAsFloat(in, src.dtype(), src.elementIndex(b * size + i));
                    amax = Math.max(amax, Math.abs(block[i]));
                }
                float d = FloatFormats.q8Scale(amax);
                float inv = d == 0 ? 0 : 1 / d;
                long base = dst.byteOffset() + b * DType.Q8_0.blockBytes();
                out.set(S, base, FloatFormats.floatToF16(d));
                for (int i = 0; i < size; i++) out.set(ValueLayout.JAVA_BYTE, base + 2 + i, FloatFormats.q8Quantize(block[i], inv));
            }
        } else if (dst.dtype().isQuantized()) {
            throw new IllegalArgumentException("copy: " + src.dtype() + " cannot be quantised to " + dst.dtype() + " here; " + dev.corvus.tensor.op.Convert.QUANTISE_ELSEWHERE);
        } else if (src.dtype() == DType.I32) {
            for (long i = 0; i < n; i++) out.set(I, 4 * dst.elementIndex(i), in.get(I, 4 * src.elementIndex(i)));
        } else {
            for (long i = 0; i < n; i++) {
                float v = Tensor.readAsFloat(in, src.dtype(), src.elementIndex(i));
                long e = dst.elementIndex(i);
                switch (dst.dtype()) {
                    case F32 -> out.set(F, 4 * e, v);
                    case F16 -> out.set(S, 2 * e, FloatFormats.floatToF16(v));
                    case BF16 -> out.set(S, 2 * e, FloatFormats.floatToBf16(v));
                    default -> throw new IllegalArgumentException("copy: cannot write " + dst.dtype());
                }
            }
        }
    }

    @Override
    public void matmul(Tensor a, Tensor b, Tensor out) {
        int batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
        MemorySegment as = a.segment(), bs = b.segment();
        long[] sa = a.strides(), sb = b.strides();
        for (int bi = 0; bi < batch; bi++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int p = 0; p < k; p++) {
                        float x = as.get(F, 4 * (a.offset() + bi * sa[0] + i * sa[1] + p * sa[2]));
                        float y = Tensor.readAsFloat(bs, b.dtype(), b.offset() + bi * sb[0] + p * sb[1] + j * sb[2]);
                        acc += (double) x * y;
                    }
                    set(out, ((long) bi * m + i) * n + j, (float) acc);
                }
            }
        }
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        long n = a.numel(), period = b.numel();
        for (long i = 0; i < n; i++) set(out, i, op.apply(get(a, i), get(b, i % period)));
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        for (long i = 0, n = x.numel(); i < n; i++) set(out, i, op.apply(get(x, i)));
    }

    @Override
    public void scale(Tensor x, float factor, Tensor out) {
        for (long i = 0, n = x.numel(); i < n; i++) set(out, i, get(x, i) * factor);
    }

    @Override
    public void softmax(Tensor x, Tensor out, int queries, boolean causal, boolean log) {
        int rows = rows(x), c = cols(x);
        for (int r = 0; r < rows; r++) {
            long base = (long) r * c;
            int visible = causal ? Math.max(0, Math.min(c, r % queries + (c - queries) + 1)) : c;
            if (visible == 0) {
                for (int j = 0; j < c; j++) set(out, base + j, log ? Float.NEGATIVE_INFINITY : 0f);
                continue;
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < visible; j++) max = Math.max(max, get(x, base + j));
            double sum = 0;
            for (int j = 0; j < visible; j++) sum += Math.exp(get(x, base + j) - max);
            for (int j = 0; j < c; j++) {
                float v;
                if (j >= visible) v = log ? Float.NEGATIVE_INFINITY : 0f;
                else v = (float) (log ? get(x, base + j) - max - Math.log(sum) : Math.exp(get(x, base + j) - max) / sum);
                set(out, base + j, v);
            }
        }
    }

    @Override
    public void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) {
        int rows = rows(x), c = cols(x);
        for (int r = 0; r < rows; r++) {
            long base = (long) r * c;
            double ss = 0;
            for (int j = 0; j < c; j++) ss += (double) get(x, base + j) * get(x, base + j);
            double inv = 1 / Math.sqrt(ss / c + eps);
            for (int j = 0; j < c; j++) set(out, base + j, (float) (get(x, base + j) * inv * (weight == null ? 1 : get(weight, j))));
        }
    }

    @Override
    public void layernorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        int rows = rows(x), c = cols(x);
        for (int r = 0; r < rows; r++) {
            long base = (long) r * c;
            double mean = 0;
            for (int j = 0; j < c; j++) mean += get(x, base + j);
            mean /= c;
            double var = 0;
            for (int j = 0; j < c; j++) var += (get(x, base + j) - mean) * (get(x, base + j) - mean);
            double inv = 1 / Math.sqrt(var / c + eps);
            for (int j = 0; j < c; j++) {
                double v = (get(x, base + j) - mean) * inv * (weight == null ? 1 : get(weight, j)) + (bias == null ? 0 : get(bias, j));
                set(out, base + j, (float) v);
            }
        }
    }

    @Override
    public void rope(Tensor x, Tensor out, RopeTable table, int rowsPerPosition, RopeStyle style) {
        int rows = rows(x), d = cols(x), half = d / 2;
        for (int r = 0; r < rows; r++) {
            int pos = (r / rowsPerPosition) % table.positions();
            long base = (long) r * d;
            for (int i = 0; i < half; i++) {
                int i0 = style == RopeStyle.INTERLEAVED ? 2 * i : i;
                int i1 = style == RopeStyle.INTERLEAVED ? 2 * i + 1 : i + half;
                float c = table.cos()[pos * half + i], s = table.sin()[pos * half + i];
                float x0 = get(x, base + i0), x1 = get(x, base + i1);
                set(out, base + i0, x0 * c - x1 * s);
                set(out, base + i1, x0 * s + x1 * c);
            }
        }
    }

    @Override
    public void embedding(Tensor table, Tensor ids, Tensor out) {
        int d = table.size(1);
        MemorySegment ts = table.segment();
        long n = ids.numel();
        for (long i = 0; i < n; i++) {
            int id = ids.segment().get(I, ids.byteOffset() + 4 * i);
            for (int j = 0; j < d; j++) set(out, i * d + j, Tensor.readAsFloat(ts, table.dtype(), table.offset() + (long) id * d + j));
        }
    }

    @Override
    public void reduce(ReduceOp op, Tensor x, Tensor out) {
        int rows = rows(x), c = cols(x);
        for (int r = 0; r < rows; r++) {
            long base = (long) r * c;
            double acc = op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : 0;
            for (int j = 0; j < c; j++) {
                float v = get(x, base + j);
                acc = op == ReduceOp.MAX ? (Float.isNaN(v) || Double.isNaN(acc) ? Double.NaN : Math.max(acc, v)) : acc + v;
            }
            set(out, r, (float) (op == ReduceOp.MEAN ? acc / c : acc));
        }
    }

    @Override
    public void argmax(Tensor x, Tensor out) {
        int rows = rows(x), c = cols(x);
        for (int r = 0; r < rows; r++) {
            long base = (long) r * c;
            int best = 0;
            float bestValue = get(x, base);
            for (int j = 1; j < c && !Float.isNaN(bestValue); j++) {
                float v = get(x, base + j);
                if (v > bestValue || Float.isNaN(v)) {
                    best = j;
                    bestValue = v;
                }
            }
            out.segment().set(I, out.byteOffset() + 4L * r, best);
        }
    }
}
