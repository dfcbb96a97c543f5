/**
 * Dynamic Sequence Parallelism's primitives: split, gather and the dynamic switch of the sharded
 * dimension, with padding for sizes the ranks do not divide ({@link dev.corvus.parallel.dsp.DspSharding},
 * {@link dev.corvus.parallel.dsp.DspLayout}). The spatial-temporal transformer that runs on them is
 * in module corvus-dit.
 */
package dev.corvus.parallel.dsp;
