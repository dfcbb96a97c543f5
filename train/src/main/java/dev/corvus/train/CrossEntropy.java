package dev.corvus.train;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Causal-LM cross-entropy over the vocabulary, computed a chunk of rows at a time so that the
 * [N, vocab] logits never exist in full: for hidden states H [N, dim] (after the final norm), the
 * classifier W [vocab, dim] and targets [N], the loss of row i is
 * {@code logsumexp(H_i·Wᵀ) − (H_i·Wᵀ)[target_i]}; rows whose target is {@link #IGNORE} (padding)
 * count for nothing. With dl = softmax(H·Wᵀ) − onehot(target) (zero on ignored rows), the
 * gradients are dL/dH = dl·W and dL/dW = dlᵀ·H.
 *
 * <p>Scratch per chunk of C rows, freed before the next: the chunk's logits [C, vocab], turned into
 * dl in place (dlᵀ·H reads dl through its transpose, no copy), the chunk's dW share [vocab, dim]
 * before it is added into dW, and dH's chunk [C, dim]: {@link #scratchBytes} =
 * 4·(C·vocab + vocab·dim + C·dim) bytes at most. Logits come from the backend's F32 GEMM; the rows' softmax runs in parallel on
 * float lanes ({@link UpdateKernels#crossEntropyRows}), each row's log-sum-exp and the loss sums
 * in double. A classifier bias and final-logit soft-capping (Qwen2's, Gemma's) are applied by the
 * overload that takes them.
 */
public final class CrossEntropy {
    /** The target of a row that is not scored (padding), as PyTorch's {@code ignore_index}. */
    public static final int IGNORE = -100;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private CrossEntropy() {}

    /**
     * The summed loss and how many rows it is over.
     *
     * @param sum    Σ of the per-row losses over the scored rows
     * @param tokens scored rows (targets other than {@link #IGNORE})
     */
    public record Loss(double sum, long tokens) {
        /** The token mean (NaN when no row was scored). */
        public double mean() {
            return tokens == 0 ? Double.NaN : sum / tokens;
        }
    }

    /** Upper bound on the bytes one call allocates at a time with chunks of {@code chunkRows}. */
    public static long scratchBytes(int chunkRows, int vocab, int dim) {
        return 4L * ((long) chunkRows * vocab + (long) vocab * dim + (long) chunkRows * dim);
    }

    /** Scored rows of {@code targets}. */
    public static long scoredTokens(int[] targets) {
        long n = 0;
        for (int t : targets) if (t != IGNORE) n++;
        return n;
    }

    /** The mean loss over scored rows, with mean gradients: gradScale 1 / scored rows. */
    public static Loss mean(Tensor h, Tensor w, int[] targets, int chunkRows, Tensor dH, Tensor dW) {
        long n = scoredTokens(targets);
        return compute(h, w, targets, chunkRows, n == 0 ? 0f : (float) (1.0 / n), dH, dW);
    }

    /**
     * The summed loss over scored rows; writes {@code gradScale}·dL/dH into dH (overwriting it)
     * and adds {@code gradScale}·dL/dW into dW (accumulating, as gradients of micro-batches
     * add up). dH and dW may be null when that gradient is not wanted (both null: the loss alone,
     * e.g. for validation).
     *
     * @param h         [N, dim] F32
     * @param w         [vocab, dim], any dtype {@code Ops.matmul} takes as a transposed weight
     * @param targets   N token ids in [0, vocab), or {@link #IGNORE}
     * @param chunkRows rows per chunk, positive
     * @param dH        null or [N, dim] contiguous F32
     * @param dW        null or [vocab, dim] contiguous F32
     */
    public static Loss compute(Tensor h, Tensor w, int[] targets, int chunkRows, float gradScale, Tensor dH, Tensor dW) {
        return compute(h, w, null, 0f, targets, chunkRows, gradScale, dH, dW, null);
    }

    /**
     * As {@link #compute(Tensor, Tensor, int[], int, float, Tensor, Tensor)} with the logits
     * {@code softcap(H·Wᵀ + bias)}, softcap(z) = cap · tanh(z / cap) (Gemma's final-logit
     * soft-capping; cap 0: none) and {@code bias} [vocab] F32 or null (Qwen2's output bias):
     * dl is multiplied by the cap's derivative 1 − tanh²(z / cap) before dL/dH and dL/dW, and
     * {@code gradScale}·dL/dbias (dl's column sums) is added into {@code dBias} when not null.
     * The cap keeps one more [C, vocab] float buffer per chunk.
     */
    public static Loss compute(Tensor h, Tensor w, Tensor bias, float softcap, int[] targets, int chunkRows, float gradScale, Tensor dH, Tensor dW,
            Tensor dBias) {
        check(h, w, targets, chunkRows, dH, dW);
        int n = h.size(0), vocab = w.size(0), dim = h.size(1);
        if (bias != null && (bias.rank() != 1 || bias.size(0) != vocab)) {
            throw new IllegalArgumentException("cross-entropy: classifier bias must be [" + vocab + "], got " + bias);
        }
        if (!(softcap >= 0f) || Float.isInfinite(softcap)) throw new IllegalArgumentException("cross-entropy: softcap must be >= 0, got " + softcap);
        if (dBias != null && bias == null) throw new IllegalArgumentException("cross-entropy: dBias without a classifier bias");
        requireGradient("dBias", dBias, new int[] {vocab});
        float[] b = bias == null ? null : bias.toFloatArray();
        float[] biasGrad = dBias == null ? null : new float[vocab];
        float[] capSlope = softcap == 0f ? null : new float[Math.min(chunkRows, n) * vocab];
        double sum = 0;
        long scored = 0;
        for (int r0 = 0; r0 < n; r0 += chunkRows) {
            int c = Math.min(chunkRows, n - r0);
            int[] chunkTargets = Arrays.copyOfRange(targets, r0, r0 + c);
            if (scoredTokens(chunkTargets) == 0) {
                if (dH != null) UpdateKernels.memory(dH).asSlice(4L * r0 * dim, 4L * c * dim).fill((byte) 0);
                continue;
            }
            try (MemoryScope chunk = MemoryScope.open("cross-entropy chunk")) {
                Tensor hc = h.narrow(0, r0, c);
                Tensor logits = Ops.matmul(hc, w.t());
                MemorySegment rows = logits.segment().asSlice(logits.byteOffset(), 4L * c * vocab);
                if (b != null || capSlope != null) biasAndCap(rows, c, vocab, b, softcap, capSlope);
                sum += UpdateKernels.crossEntropyRows(rows, c, vocab, targets, r0, gradScale);
                if (capSlope != null) {
                    for (int e = 0; e < c * vocab; e++) rows.setAtIndex(F32, e, rows.getAtIndex(F32, e) * capSlope[e]);
                }
                if (biasGrad != null) {
                    for (int i = 0; i < c; i++) for (int j = 0; j < vocab; j++) biasGrad[j] += rows.getAtIndex(F32, (long) i * vocab + j);
                }
                scored += scoredTokens(chunkTargets);
                if (dH != null) Ops.copyInto(Ops.matmul(logits, w), dH.narrow(0, r0, c));
                if (dW != null) {
                    Tensor share = Ops.matmul(logits.t(), hc); // the GEMM packs dlᵀ straight from dl's rows
                    UpdateKernels.addInto(UpdateKernels.memory(dW), UpdateKernels.memory(share), (long) vocab * dim);
                }
            }
        }
        if (biasGrad != null) {
            MemorySegment g = UpdateKernels.memory(dBias);
            for (int j = 0; j < vocab; j++) g.setAtIndex(F32, j, g.getAtIndex(F32, j) + biasGrad[j]);
        }
        return new Loss(sum, scored);
    }

    /**
     * The summed loss of a decoder's final hidden states h through its classifier, bias and final
     * soft-cap as {@code p} holds them; with {@code gradients} the classifier's (and bias's)
     * gradients are added into theirs and dL/dH written into dH.
     */
    static Loss ofModel(Tensor h, Parameters p, int[] targets, int chunkRows, Tensor dH, boolean gradients) {
        Parameter w = p.classifier(), b = p.classifierBias();
        return compute(h, w.value(), b == null ? null : b.value(), p.config().finalSoftcap(), targets, chunkRows, 1f, dH,
                gradients ? w.grad() : null, gradients && b != null ? b.grad() : null);
    }

    /** logits += bias per row, then logits = cap · tanh(logits / cap) with slope = 1 − tanh² (cap 0: no cap). */
    private static void biasAndCap(MemorySegment rows, int c, int vocab, float[] bias, float cap, float[] slope) {
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < vocab; j++) {
                long e = (long) i * vocab + j;
                float z = rows.getAtIndex(F32, e);
                if (bias != null) z += bias[j];
                if (slope != null) {
                    float t = (float) Math.tanh(z / cap);
                    z = cap * t;
                    slope[(int) e] = 1f - t * t;
                }
                rows.setAtIndex(F32, e, z);
            }
        }
    }

    private static void check(Tensor h, Tensor w, int[] targets, int chunkRows, Tensor dH, Tensor dW) {
        if (h.rank() != 2 || h.dtype() != DType.F32) throw new IllegalArgumentException("cross-entropy: hidden states must be F32 [N, dim], got " + h);
        if (w.rank() != 2 || w.size(1) != h.size(1)) {
            throw new IllegalArgumentException("cross-entropy: classifier must be [vocab, " + h.size(1) + "], got " + w);
        }
        if (targets.length != h.size(0)) {
            throw new IllegalArgumentException("cross-entropy: " + targets.length + " targets for " + h.size(0) + " rows of hidden states");
        }
        if (chunkRows <= 0) throw new IllegalArgumentException("cross-entropy: chunk rows " + chunkRows + " must be positive");
        int vocab = w.size(0);
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] != IGNORE && (targets[i] < 0 || targets[i] >= vocab)) {
                throw new IllegalArgumentException("cross-entropy: target " + targets[i] + " at row " + i + " is outside the vocabulary [0, " + vocab
                        + ") and is not the ignore index " + IGNORE);
            }
        }
        if (dH != null && w.dtype().isQuantized()) {
            throw new IllegalArgumentException("cross-entropy: dL/dH needs the classifier as F32, F16 or BF16, not " + w.dtype()
                    + " (train from F32 masters; a quantised classifier serves the loss alone)");
        }
        requireGradient("dH", dH, h.shape());
        requireGradient("dW", dW, w.shape());
    }

    private static void requireGradient(String what, Tensor g, int[] shape) {
        if (g == null) return;
        if (g.dtype() != DType.F32 || !g.isContiguous() || !Arrays.equals(g.shape(), shape)) {
            throw new IllegalArgumentException("cross-entropy: " + what + " must be a contiguous F32 " + Arrays.toString(shape) + ", got " + g);
        }
    }
}
