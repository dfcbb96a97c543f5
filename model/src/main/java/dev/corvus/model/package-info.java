/**
 * Llama-family language models: checkpoints ({@link dev.corvus.model.Checkpoints} loads llama2.c
 * and GGUF files), the forward pass with its KV cache ({@link dev.corvus.model.LlamaModel}),
 * sampling ({@link dev.corvus.model.Sampler}), the token loop ({@link dev.corvus.model.Generator}),
 * tokenizers ({@link dev.corvus.model.Tokenizer}) and the default model's download
 * ({@link dev.corvus.model.ModelStore}). Malformed files raise a
 * {@link dev.corvus.model.CheckpointException} naming the file and what is wrong.
 *
 * <p>This module brings corvus-vector-backend at runtime, so the fast CPU backend is there; run
 * with {@code --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED}.
 *
 * <p>Internal: {@link dev.corvus.model.MappedFile} and {@link dev.corvus.model.SegmentCursor} are
 * public only because the {@code gguf} and {@code tokenizer} packages use them; they are not
 * supported API and may change in any release.
 */
package dev.corvus.model;
