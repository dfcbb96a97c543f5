/**
 * Training around a model's gradients: {@link dev.corvus.train.DecoderGradients} gets them for a
 * Llama-family decoder by recording its forward on the op registry's
 * {@link dev.corvus.tensor.op.Tape}; {@link dev.corvus.train.Parameters} holds F32 master
 * values and gradients (from a Llama-family model's weights, quantised ones decoded);
 * {@link dev.corvus.train.AdamW}, global-norm clipping
 * ({@link dev.corvus.train.Parameters#clipGradNorm}) and
 * {@link dev.corvus.train.LearningRateSchedule} (warm-up + cosine) update them;
 * {@link dev.corvus.train.CrossEntropy} is the causal-LM loss and its gradients, chunked over
 * rows; {@link dev.corvus.train.Trainer} is the loop (gradient accumulation, clipping, updates,
 * checkpoints, validation) around a loss-and-gradients function;
 * {@link dev.corvus.train.TrainingCheckpoint} saves and resumes a run bit for bit;
 * {@link dev.corvus.train.TokenDataset} packs tokenised text into sequences; and
 * {@link dev.corvus.train.Parameters#exportGguf} writes the result as a GGUF model.
 * {@link dev.corvus.train.SequenceParallelGradients} is the same loss with the sequence split
 * over the ranks of a {@link dev.corvus.comm.Communicator} (ring, StarTrail or Ulysses attention,
 * {@link dev.corvus.train.SequenceParallelScheme}, as the tape op
 * {@link dev.corvus.train.SequenceParallelAttention}; gradients all-reduced in buckets,
 * {@link dev.corvus.train.GradientBuckets}; the loss the global token mean), so every rank takes
 * the one-device step; both losses can checkpoint activations per decoder block.
 *
 * <p>The update loops run on the Vector API when the CPU backend chosen is the vector one; run
 * with {@code --add-modules jdk.incubator.vector}.
 */
package dev.corvus.train;
