package dev.corvus.model;

import dev.corvus.tensor.RopeStyle;
import java.util.Collections;
import java.util.List;

/**
 * Hyper-parameters of a decoder of the Llama family ({@link Architecture}: Llama 2/3, Mistral,
 * Qwen 2/3, Phi-3, Gemma 2/3). Weight matrices are stored [out, in] (rows are outputs), as
 * {@code Ops.linear} takes them. What the blocks contain (biases, q/k norms, post norms) is read
 * off the weights; this record holds the numbers.
 *
 * @param dim                 model width (the residual stream)
 * @param hiddenDim           MLP width
 * @param layers              transformer blocks
 * @param heads               query heads
 * @param kvHeads             key/value heads (divides heads; fewer means grouped-query attention)
 * @param vocabSize           tokens
 * @param seqLen              longest context the model was trained for
 * @param ropeTheta           RoPE base of the full-attention layers (10000 for llama2.c)
 * @param normEps             RMSNorm epsilon (1e-5 for llama2.c)
 * @param ropeStyle           which feature pairs RoPE rotates
 * @param sharedClassifier    whether the classifier is the token embedding
 * @param architecture        the family, for writing the model back
 * @param headDim             features per query/key/value head; dim / heads unless the file says otherwise (Qwen3, Gemma)
 * @param activation          the MLP's gate activation
 * @param ropeScale           linear RoPE position scale of the full-attention layers (1 / rope.scaling.factor; 1 for none)
 * @param ropeThetaSliding    RoPE base of the sliding-window layers
 * @param ropeScaleSliding    linear RoPE position scale of the sliding-window layers
 * @param ropeMagnitude       factor on RoPE's cos and sin (rope.scaling.attn_factor; 1 for none)
 * @param ropeOriginalContext context the RoPE factors were trained for: beyond it Phi-3 uses its long factors
 * @param slidingWindow       keys a sliding-window layer's query sees, itself included (0: no such layers)
 * @param slidingLayers       per layer, whether it attends through the sliding window
 * @param attentionScale      the factor on q·k (1/sqrt(headDim) but for Gemma's query_pre_attn_scalar)
 * @param attentionSoftcap    attention-logit soft-capping c in c·tanh(s/c) (0: none)
 * @param finalSoftcap        final-logit soft-capping (0: none)
 * @param embeddingScale      factor on the token embeddings (sqrt(dim) for Gemma, else 1)
 */
public record LlamaConfig(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocabSize, int seqLen,
        float ropeTheta, float normEps, RopeStyle ropeStyle, boolean sharedClassifier,
        Architecture architecture, int headDim, Activation activation,
        float ropeScale, float ropeThetaSliding, float ropeScaleSliding, float ropeMagnitude, int ropeOriginalContext,
        int slidingWindow, List<Boolean> slidingLayers, float attentionScale, float attentionSoftcap, float finalSoftcap,
        float embeddingScale) {

    /** The MLP's activation: act(gate) · up, both projections of the normalised input. */
    public enum Activation {
        /** SwiGLU: silu(x) = x · sigmoid(x). */
        SILU,
        /** GeGLU with GELU's tanh approximation (Gemma; ggml's gelu). */
        GELU_TANH
    }

    public LlamaConfig {
        if (dim <= 0 || hiddenDim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocabSize <= 0 || seqLen <= 0 || headDim <= 0) {
            throw new IllegalArgumentException("every size must be positive: dim " + dim + ", hiddenDim " + hiddenDim + ", layers " + layers
                    + ", heads " + heads + ", kvHeads " + kvHeads + ", vocab " + vocabSize + ", seqLen " + seqLen + ", headDim " + headDim);
        }
        if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " is not a multiple of kvHeads " + kvHeads);
        if (headDim % 2 != 0) throw new IllegalArgumentException("head size " + headDim + " is odd (RoPE rotates pairs)");
        if ((long) heads * headDim > Integer.MAX_VALUE / 4) throw new IllegalArgumentException("heads " + heads + " x headDim " + headDim + " is too large");
        if (architecture == null || ropeStyle == null || activation == null) throw new IllegalArgumentException("architecture, ropeStyle and activation are required");
        requirePositive("ropeTheta", ropeTheta);
        requirePositive("ropeThetaSliding", ropeThetaSliding);
        requirePositive("ropeScale", ropeScale);
        requirePositive("ropeScaleSliding", ropeScaleSliding);
        requirePositive("ropeMagnitude", ropeMagnitude);
        requirePositive("attentionScale", attentionScale);
        requirePositive("embeddingScale", embeddingScale);
        if (!(normEps > 0) || normEps >= 1) throw new IllegalArgumentException("normEps " + normEps + " must be a small positive number");
        if (!(attentionSoftcap >= 0) || Float.isInfinite(attentionSoftcap)) throw new IllegalArgumentException("attentionSoftcap " + attentionSoftcap + " must be >= 0");
        if (!(finalSoftcap >= 0) || Float.isInfinite(finalSoftcap)) throw new IllegalArgumentException("finalSoftcap " + finalSoftcap + " must be >= 0");
        if (ropeOriginalContext <= 0) throw new IllegalArgumentException("ropeOriginalContext " + ropeOriginalContext + " must be positive");
        slidingLayers = List.copyOf(slidingLayers);
        if (slidingLayers.size() != layers) throw new IllegalArgumentException(slidingLayers.size() + " sliding-layer flags for " + layers + " layers");
        if (slidingWindow < 0) throw new IllegalArgumentException("slidingWindow " + slidingWindow + " is negative");
        if (slidingWindow == 0 && slidingLayers.contains(true)) throw new IllegalArgumentException("sliding-window layers need a window > 0");
    }

    /** A plain Llama (llama2.c, Llama 2): head size dim / heads, no RoPE scaling, no sliding window or soft-capping. */
    public LlamaConfig(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocabSize, int seqLen,
            float ropeTheta, float normEps, RopeStyle ropeStyle, boolean sharedClassifier) {
        this(dim, hiddenDim, layers, heads, kvHeads, vocabSize, seqLen, ropeTheta, normEps, ropeStyle, sharedClassifier,
                Architecture.LLAMA, plainHeadDim(dim, heads), Activation.SILU, 1f, ropeTheta, 1f, 1f, seqLen,
                0, Collections.nCopies(Math.max(layers, 0), false), (float) (1 / Math.sqrt(plainHeadDim(dim, heads))), 0f, 0f, 1f);
    }

    private static int plainHeadDim(int dim, int heads) {
        if (heads <= 0 || dim <= 0) throw new IllegalArgumentException("dim " + dim + " and heads " + heads + " must be positive");
        if (dim % heads != 0) throw new IllegalArgumentException("dim " + dim + " is not a multiple of heads " + heads);
        return dim / heads;
    }

    private static void requirePositive(String what, float v) {
        if (!(v > 0) || Float.isInfinite(v)) throw new IllegalArgumentException(what + " " + v + " must be a positive number");
    }

    /** Query features per position: heads · headDim (dim itself unless the file sets key_length). */
    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Whether layer {@code l} attends through the sliding window. */
    public boolean isSliding(int layer) {
        return slidingLayers.get(layer);
    }
}
