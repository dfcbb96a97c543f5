/**
 * Flash attention on the CPU ({@link dev.corvus.attention.FlashAttention}): tiled online softmax
 * that never materialises the scores, causal or full masks by absolute position
 * ({@link dev.corvus.attention.Mask}), grouped- and multi-query heads, the backward pass and a
 * decode path against a KV cache. Sequence-parallel schemes built on it are in
 * {@code dev.corvus.parallel} and {@code dev.corvus.parallel.dsp}.
 */
package dev.corvus.attention;
