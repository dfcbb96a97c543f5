/**
 * Three models traced for AutoChunk, used by its tests, benchmarks and {@code corvus chunk}: a
 * Llama-style transformer stack ({@link dev.corvus.chunking.models.TransformerStack}), an
 * Evoformer pair block ({@link dev.corvus.chunking.models.EvoformerPairBlock}) and a ViT encoder
 * ({@link dev.corvus.chunking.models.VitEncoder}), by name in
 * {@link dev.corvus.chunking.models.ModelCase}.
 */
package dev.corvus.chunking.models;
