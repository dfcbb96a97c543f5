package dev.corvus.attention;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Capability;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.Operand;
import java.util.Arrays;

/**
 * Tiled attention with an online softmax that never materialises the N x N score matrix.
 * Layout: q [B, Hq, Nq, D]; k, v [B, Hkv, Nk, D] with Hkv dividing Hq (query head h reads kv head
 * h / (Hq/Hkv)); inputs F32, F16 or BF16 (any strides); out [B, Hq, Nq, D] F32; lse [B, Hq, Nq]
 * F32 (natural log of the softmax denominator; -infinity for a row that sees no key, whose out
 * row is 0).
 *
 * <p>This class checks arguments and allocates outputs (in the current {@link MemoryScope}, else
 * in q's). The forward runs on the backend of the tensors it is given: a backend with
 * {@link Capability#FUSED_ATTENTION} runs its own kernel; otherwise the tile loops in
 * {@code FlashKernels} run on the shared pool through the CPU backend's
 * {@link dev.corvus.tensor.TileKernels} (device tensors of a backend without the kernel are
 * copied to the host and the results back). Work buffers are per-thread heap tiles: memory
 * beyond the inputs is O(B·H·N·D) for the outputs only.
 */
public final class FlashAttention {
    private FlashAttention() {}

    /** Output and log-sum-exp of an attention call. */
    public record Result(Tensor out, Tensor lse) {}

    /** Gradients with the shapes of q, k, v (F32). */
    public record Gradients(Tensor dq, Tensor dk, Tensor dv) {}

    /** softmax(scale · q·kᵀ + mask)·v, with the log-sum-exp of every row. */
    public static Result forward(Tensor q, Tensor k, Tensor v, Mask mask, float scale) {
        return forward(q, k, v, mask, scale, 0f);
    }

    /**
     * softmax(softcap(scale · q·kᵀ) + mask)·v with softcap(s) = cap · tanh(s / cap) (Gemma 2's
     * attention-logit soft-capping; {@code cap} 0 means none), and the log-sum-exp of every row.
     * Sliding-window masks and soft-capping are not in the fused kernels of accelerator backends:
     * there they are refused.
     */
    public static Result forward(Tensor q, Tensor k, Tensor v, Mask mask, float scale, float softcap) {
        FlashKernels.Call c = call("flashAttention", q, k, v, mask, scale, softcap);
        MemoryScope scope = outputScope(q);
        // the operands' device was checked by call(); host tensors always run on Backends.cpu(),
        // whose tile kernels FlashKernels holds in a constant
        Backend backend = Backends.of(q.device());
        if (backend.has(Capability.FUSED_ATTENTION)) {
            if (mask.windowed() || softcap != 0f) {
                throw new UnsupportedOperationException("flashAttention: sliding-window masks and soft-capping are not in the fused kernel of "
                        + backend.name() + " on " + q.device() + " (window " + (mask.windowed() ? mask.window() : "none") + ", softcap " + softcap
                        + "); run them on the CPU");
            }
            Tensor out = backend.allocate(scope, DType.F32, c.batch(), c.hq(), c.nq(), c.d());
            Tensor lse = backend.allocate(scope, DType.F32, c.batch(), c.hq(), c.nq());
            backend.attention(f32(q), f32(k), f32(v), mask.causal(), mask.queryStart(), mask.keyStart(), scale, out, lse);
            return new Result(out, lse);
        }
        if (!q.device().equals(Device.CPU)) return viaHost(backend, scope, q, k, v, mask, scale, softcap);
        Tensor out = Tensor.zeros(scope, DType.F32, c.batch(), c.hq(), c.nq(), c.d());
        Tensor lse = Tensor.zeros(scope, DType.F32, c.batch(), c.hq(), c.nq());
        FlashKernels.forward(c, TileView.of(out), TileView.of(lse));
        return new Result(out, lse);
    }

    /**
     * The forward of device tensors whose backend has no fused kernel: the CPU algorithm on host
     * copies, results copied back into {@code scope} on the device.
     */
    private static Result viaHost(Backend backend, MemoryScope scope, Tensor q, Tensor k, Tensor v, Mask mask, float scale, float softcap) {
        try (MemoryScope host = MemoryScope.open("flashAttention host copies")) {
            Result r = forward(q.to(Device.CPU), k.to(Device.CPU), v.to(Device.CPU), mask, scale, softcap);
            Tensor out = backend.allocate(scope, DType.F32, r.out().shape());
            Tensor lse = backend.allocate(scope, DType.F32, r.lse().shape());
            backend.transfer(r.out(), out);
            backend.transfer(r.lse(), lse);
            return new Result(out, lse);
        }
    }

    /** t as contiguous F32 on its own device. */
    private static Tensor f32(Tensor t) {
        return t.dtype() == DType.F32 ? t.contiguous() : Ops.convert(t, DType.F32);
    }

    /**
     * dq, dk, dv from the forward's inputs, out and lse and the gradient of out, recomputing
     * scores tile by tile (no N x N buffer).
     */
    public static Gradients backward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dOut, Mask mask, float scale) {
        return backward(q, k, v, out, lse, dOut, mask, scale, 0f);
    }

    /**
     * The backward of {@link #forward(Tensor, Tensor, Tensor, Mask, float, float)}: sliding
     * windows (key tiles outside every row's window are skipped, as in the forward) and
     * soft-capped scores (dS times 1 - tanh²(s / cap), recomputed per score). lse must be the
     * forward's with the same mask and softcap.
     */
    public static Gradients backward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dOut, Mask mask, float scale,
            float softcap) {
        String op = "flashAttention.backward";
        call(op, q, k, v, mask, scale, softcap);
        requireSame(op, "out", out, "q", q);
        requireFloat(op, "out", out);
        Tensor delta = delta(dOut, out);
        MemoryScope scope = outputScope(q);
        Tensor dq = Tensor.zeros(scope, DType.F32, q.shape());
        Tensor dk = Tensor.zeros(scope, DType.F32, k.shape());
        Tensor dv = Tensor.zeros(scope, DType.F32, v.shape());
        backwardAccumulate(q, k, v, dOut, lse, delta, mask, scale, softcap, dq, dk, dv, null);
        return new Gradients(dq, dk, dv);
    }

    /**
     * Accumulating block backward for sequence-parallel schemes: with the global lse and
     * delta = rowsum(dOut ∘ out) of the query rows, adds this key block's contribution to dq
     * (for these queries) and to dk, dv (for these keys). dq, dk, dv are F32 accumulators with
     * the shapes of q, k, v.
     */
    public static void backwardAccumulate(Tensor q, Tensor k, Tensor v, Tensor dOut, Tensor lse, Tensor delta,
            Mask mask, float scale, Tensor dq, Tensor dk, Tensor dv) {
        backwardAccumulate(q, k, v, dOut, lse, delta, mask, scale, 0f, dq, dk, dv, null);
    }

    /** As above for soft-capped scores (softcap 0: none); the mask may carry a sliding window. */
    public static void backwardAccumulate(Tensor q, Tensor k, Tensor v, Tensor dOut, Tensor lse, Tensor delta,
            Mask mask, float scale, float softcap, Tensor dq, Tensor dk, Tensor dv) {
        backwardAccumulate(q, k, v, dOut, lse, delta, mask, scale, softcap, dq, dk, dv, null);
    }

    /** As above; onePass null lets the kernel choose its parallel scheme (tests force each). */
    static void backwardAccumulate(Tensor q, Tensor k, Tensor v, Tensor dOut, Tensor lse, Tensor delta,
            Mask mask, float scale, float softcap, Tensor dq, Tensor dk, Tensor dv, Boolean onePass) {
        String op = "flashAttention.backward";
        FlashKernels.Call c = call(op, q, k, v, mask, scale, softcap);
        if (!q.device().equals(Device.CPU)) {
            throw new UnsupportedOperationException(op + ": the backward runs on host tensors; q is on " + q.device() + ", copy with to(Device.CPU)");
        }
        requireSame(op, "dOut", dOut, "q", q);
        requireFloat(op, "dOut", dOut);
        int[] rows = {c.batch(), c.hq(), c.nq()};
        requireF32(op, "lse", lse, rows);
        requireF32(op, "delta", delta, rows);
        requireF32(op, "dq", dq, q.shape());
        requireF32(op, "dk", dk, k.shape());
        requireF32(op, "dv", dv, v.shape());
        TileView vDo = TileView.of(dOut), vLse = TileView.of(lse), vDelta = TileView.of(delta);
        TileView vDq = TileView.of(dq), vDk = TileView.of(dk), vDv = TileView.of(dv);
        if (onePass == null) FlashKernels.backward(c, vDo, vLse, vDelta, vDq, vDk, vDv);
        else FlashKernels.backward(c, vDo, vLse, vDelta, vDq, vDk, vDv, onePass);
    }

    /** delta[b, h, i] = sum_d dOut[b, h, i, d] · out[b, h, i, d], F32 [B, H, N]. */
    public static Tensor delta(Tensor dOut, Tensor out) {
        String op = "flashAttention.delta";
        requireRank(op, "dOut", dOut, 4, "[B, H, N, D]");
        requireFloat(op, "dOut", dOut);
        requireFloat(op, "out", out);
        requireSame(op, "out", out, "dOut", dOut);
        int[] s = dOut.shape();
        Tensor delta = Tensor.zeros(outputScope(dOut), DType.F32, s[0], s[1], s[2]);
        FlashKernels.delta(TileView.of(dOut), TileView.of(out), TileView.of(delta), s[0], s[1], s[2], s[3]);
        return delta;
    }

    /**
     * Merges a partial result over a disjoint set of keys into (out, lse) in place:
     * lse' = max + log1p(exp(-|lse1 - lse2|)), out' = exp(lse1 - lse')·out1 + exp(lse2 - lse')·out2,
     * with (0, -inf) the identity and two -inf rows staying (0, -inf).
     */
    public static void merge(Tensor out, Tensor lse, Tensor partOut, Tensor partLse) {
        String op = "flashAttention.merge";
        requireRank(op, "out", out, 4, "[B, H, N, D]");
        int[] s = out.shape();
        requireF32(op, "out", out, s);
        requireF32(op, "lse", lse, s[0], s[1], s[2]);
        requireSame(op, "partOut", partOut, "out", out);
        requireFloat(op, "partOut", partOut);
        requireF32(op, "partLse", partLse, s[0], s[1], s[2]);
        FlashKernels.merge(TileView.of(out), TileView.of(lse), TileView.of(partOut), TileView.of(partLse), s[0], s[1], s[2], s[3]);
    }

    /**
     * One decode step: q [B, Hq, 1, D] (the newest token) against the first {@code length}
     * positions of a KV cache kCache, vCache [B, Hkv, capacity, D]; no mask needed (the cache
     * holds only the past). Returns out [B, Hq, 1, D].
     */
    public static Tensor decode(Tensor q, Tensor kCache, Tensor vCache, int length, float scale) {
        return decode(q, kCache, vCache, length, scale, 0f);
    }

    /**
     * {@link #decode} with soft-capped scores (see {@link #forward(Tensor, Tensor, Tensor, Mask, float, float)}).
     * A sliding window needs no mask here: pass the cache narrowed to the window's last positions.
     */
    public static Tensor decode(Tensor q, Tensor kCache, Tensor vCache, int length, float scale, float softcap) {
        String op = "flashAttention.decode";
        FlashKernels.Call c = call(op, q, kCache, vCache, Mask.NONE, scale, softcap);
        if (c.nq() != 1) {
            throw new IllegalArgumentException(op + ": q must hold one query row per head [B, Hq, 1, D], got shape " + str(q));
        }
        if (length < 0 || length > c.nk()) {
            throw new IllegalArgumentException(op + ": length " + length + " is outside the cache capacity " + c.nk()
                    + " of kCache " + str(kCache));
        }
        if (!q.device().equals(Device.CPU)) {
            // The cache holds only the past, so an unmasked fused attention over its first rows is a decode step.
            return forward(q, kCache.narrow(2, 0, length), vCache.narrow(2, 0, length), Mask.NONE, scale, softcap).out();
        }
        Tensor out = Tensor.zeros(outputScope(q), DType.F32, c.batch(), c.hq(), 1, c.d());
        FlashKernels.decode(c, length, TileView.of(out));
        return out;
    }

    // ---------------------------------------------------------------- checks

    private static FlashKernels.Call call(String op, Tensor q, Tensor k, Tensor v, Mask mask, float scale, float softcap) {
        check(op, q, k, v, mask, scale, softcap);
        int hq = q.size(1), hkv = k.size(1);
        if (!q.device().equals(k.device()) || !q.device().equals(v.device())) {
            throw new IllegalArgumentException(op + ": q, k and v are on different devices (" + q.device() + ", " + k.device() + ", "
                    + v.device() + "); move them with to(device) first");
        }
        boolean host = q.device().equals(Device.CPU);
        return new FlashKernels.Call(host ? TileView.of(q) : null, host ? TileView.of(k) : null, host ? TileView.of(v) : null,
                q.size(0), hq, Math.max(hkv, 1),
                q.size(2), k.size(2), q.size(3), mask.causal(), mask.queryStart(), mask.keyStart(), mask.window(), scale, softcap);
    }

    /** The shape, dtype and argument checks of an attention call, over tensors or traced values alike. */
    static void check(String op, Operand q, Operand k, Operand v, Mask mask, float scale, float softcap) {
        requireRank(op, "q", q, 4, "[B, Hq, Nq, D]");
        requireRank(op, "k", k, 4, "[B, Hkv, Nk, D]");
        requireRank(op, "v", v, 4, "[B, Hkv, Nk, D]");
        requireFloat(op, "q", q);
        requireFloat(op, "k", k);
        requireFloat(op, "v", v);
        if (!Arrays.equals(k.shape(), v.shape())) {
            throw new IllegalArgumentException(op + ": k " + str(k) + " and v " + str(v) + " must have the same shape");
        }
        if (q.size(0) != k.size(0)) {
            throw new IllegalArgumentException(op + ": q " + str(q) + " and k " + str(k) + " differ in batch (" + q.size(0)
                    + " vs " + k.size(0) + ")");
        }
        if (q.size(3) != k.size(3)) {
            throw new IllegalArgumentException(op + ": q " + str(q) + " and k " + str(k) + " differ in head dimension D ("
                    + q.size(3) + " vs " + k.size(3) + ")");
        }
        int hq = q.size(1), hkv = k.size(1);
        if (hkv == 0 ? hq != 0 : hq % hkv != 0) {
            throw new IllegalArgumentException(op + ": query heads " + hq + " (q " + str(q) + ") must be a multiple of kv heads "
                    + hkv + " (k " + str(k) + ")");
        }
        if (mask == null) throw new IllegalArgumentException(op + ": mask is null; pass Mask.NONE for full attention");
        if (!Float.isFinite(scale)) throw new IllegalArgumentException(op + ": scale must be finite, got " + scale);
        if (!(softcap >= 0f) || Float.isInfinite(softcap)) {
            throw new IllegalArgumentException(op + ": softcap must be a positive number or 0 for none, got " + softcap);
        }
    }

    private static MemoryScope outputScope(Tensor first) {
        return MemoryScope.forOutputOf(first);
    }

    private static void requireRank(String op, String what, Operand t, int rank, String layout) {
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is null");
        if (t.rank() != rank) {
            throw new IllegalArgumentException(op + ": " + what + " must be rank " + rank + " " + layout + ", got shape " + str(t));
        }
    }

    private static void requireFloat(String op, String what, Operand t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is null");
        DType d = t.dtype();
        if (d != DType.F32 && d != DType.F16 && d != DType.BF16) {
            throw new IllegalArgumentException(op + ": " + what + " must be F32, F16 or BF16, got " + d + " " + str(t));
        }
    }

    private static void requireSame(String op, String what, Tensor t, String otherName, Tensor other) {
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is null");
        if (!Arrays.equals(t.shape(), other.shape())) {
            throw new IllegalArgumentException(op + ": " + what + " has shape " + str(t) + ", expected the shape of " + otherName
                    + " " + str(other));
        }
    }

    private static void requireF32(String op, String what, Tensor t, int... shape) {
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is null");
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(op + ": " + what + " has shape " + str(t) + ", expected " + Arrays.toString(shape));
        }
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": " + what + " must be F32, got " + t.dtype() + " " + str(t));
        }
    }

    private static String str(Operand t) {
        return Arrays.toString(t.shape());
    }
}
