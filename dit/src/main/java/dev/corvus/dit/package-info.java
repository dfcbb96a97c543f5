/**
 * Video diffusion transformers and their sequence parallelism.
 *
 * <ul>
 *   <li>{@link dev.corvus.dit.VideoDiT}: a video DiT (3-D patch embedding, timestep and class
 *       conditioning with adaLN-Zero, spatial, temporal and cross attention, the OpenSora STDiT and
 *       Latte block schedules) sized by {@link dev.corvus.dit.DitConfig}; its forward runs on one
 *       device or with the tokens sharded over ranks under DSP, Ulysses or ring attention, and is
 *       built from ops a tape can differentiate.
 *   <li>{@link dev.corvus.dit.RectifiedFlowSampler}: fixed-step Euler sampling of the rectified flow.
 *   <li>{@link dev.corvus.dit.MovingSquares} and {@link dev.corvus.dit.VideoStrip}: the synthetic
 *       bouncing-squares videos and PNG strips of videos.
 *   <li>{@link dev.corvus.dit.SpatialTemporalTransformer}: the earlier LayerNorm-attention-MLP block
 *       stack with a hand-written backward ({@link dev.corvus.dit.LayerBackward}), equal to one
 *       device under DSP and Ulysses; kept as the backward reference until the tape replaces it.
 * </ul>
 */
package dev.corvus.dit;
