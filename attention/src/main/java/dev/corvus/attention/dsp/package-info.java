/**
 * Dynamic Sequence Parallelism: the split, gather and dynamic-switch primitives with padding
 * ({@link dev.corvus.attention.dsp.DspSharding}, {@link dev.corvus.attention.dsp.DspLayout}) and a
 * spatial-temporal transformer block stack run with DSP, with Ulysses and on one device
 * ({@link dev.corvus.attention.dsp.SpatialTemporalTransformer}).
 */
package dev.corvus.attention.dsp;
