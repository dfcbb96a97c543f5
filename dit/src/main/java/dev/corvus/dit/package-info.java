/**
 * Video diffusion transformers and their sequence parallelism.
 *
 * <ul>
 *   <li>{@link dev.corvus.dit.VideoDiT}: a video DiT (3-D patch embedding, timestep and class
 *       conditioning with adaLN-Zero, spatial, temporal and cross attention, the OpenSora STDiT and
 *       Latte block schedules) sized by {@link dev.corvus.dit.DitConfig}; its forward runs on one
 *       device or with the tokens sharded over ranks under DSP, Ulysses or ring attention, and is
 *       built from ops a tape can differentiate.
 *   <li>{@link dev.corvus.dit.DitTraining}: the rectified-flow loss and every parameter gradient,
 *       from the tape, on one device or summed over the ranks with one all-reduce
 *       ({@link dev.corvus.dit.SequenceParallelOps} gives the collectives their adjoints);
 *       {@link dev.corvus.dit.DitTrainer} runs AdamW over them; {@link dev.corvus.dit.DitVolume}
 *       is the bytes a rank sends; {@link dev.corvus.dit.DitBenchmark} times steps.
 *   <li>{@link dev.corvus.dit.RectifiedFlowSampler}: fixed-step Euler sampling of the rectified flow.
 *   <li>{@link dev.corvus.dit.MovingSquares}, {@link dev.corvus.dit.MovingSquaresTask} and
 *       {@link dev.corvus.dit.VideoStrip}: the synthetic bouncing-squares videos, the training set
 *       and batches drawn from them, and PNG strips of videos.
 * </ul>
 */
package dev.corvus.dit;
