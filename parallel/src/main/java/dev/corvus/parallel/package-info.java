/**
 * Sequence-parallel attention over a {@link dev.corvus.comm.Communicator}: ring attention with the
 * zigzag layout ({@link dev.corvus.parallel.RingAttention}), StarTrail/WallFacer
 * concentric rings ({@link dev.corvus.parallel.StarTrailAttention}) and DeepSpeed-Ulysses
 * ({@link dev.corvus.parallel.UlyssesAttention}). Each equals single-device attention;
 * {@link dev.corvus.parallel.CommVolume} gives the exact bytes per rank each one sends.
 */
package dev.corvus.parallel;
