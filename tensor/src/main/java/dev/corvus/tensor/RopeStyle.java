package dev.corvus.tensor;

/** Which pairs of a head's features RoPE rotates together. */
public enum RopeStyle {
    /** Pairs (2i, 2i+1): llama2.c, Meta's original Llama code, GGUF "normal" rope. */
    INTERLEAVED,
    /** Pairs (i, i + d/2): Hugging Face's rotate_half, GPT-NeoX, GGUF "neox" rope. */
    HALF_SPLIT
}
