/**
 * A spatial-temporal (video) diffusion transformer's block stack
 * ({@link dev.corvus.dit.SpatialTemporalTransformer}): spatial attention within each frame,
 * temporal attention across frames at each position, run on one device, with Dynamic Sequence
 * Parallelism (one all-to-all switch of the sharded dimension between the two) or with Ulysses,
 * and its backward pass written out by hand layer by layer ({@link dev.corvus.dit.LayerBackward}).
 * A model, so it lives here rather than in the attention library.
 */
package dev.corvus.dit;
