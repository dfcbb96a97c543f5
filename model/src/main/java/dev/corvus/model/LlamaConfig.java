package dev.corvus.model;

import dev.corvus.tensor.RopeStyle;

/**
 * Hyper-parameters of a Llama-family model. Weight matrices are stored [out, in] (rows are
 * outputs), as {@code Ops.linear} takes them.
 *
 * @param dim              model width
 * @param hiddenDim        SwiGLU width
 * @param layers           transformer blocks
 * @param heads            query heads
 * @param kvHeads          key/value heads (divides heads; fewer means grouped-query attention)
 * @param vocabSize        tokens
 * @param seqLen           longest context the model was trained for
 * @param ropeTheta        RoPE base (10000 for llama2.c)
 * @param normEps          RMSNorm epsilon (1e-5 for llama2.c)
 * @param ropeStyle        which feature pairs RoPE rotates
 * @param sharedClassifier whether the classifier is the token embedding
 */
public record LlamaConfig(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocabSize, int seqLen,
        float ropeTheta, float normEps, RopeStyle ropeStyle, boolean sharedClassifier) {
    public LlamaConfig {
        if (dim <= 0 || hiddenDim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocabSize <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("every size must be positive: " + this);
        }
        if (dim % heads != 0) throw new IllegalArgumentException("dim " + dim + " is not a multiple of heads " + heads);
        if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " is not a multiple of kvHeads " + kvHeads);
    }

    public int headDim() {
        return dim / heads;
    }

    public int kvDim() {
        return kvHeads * headDim();
    }
}
