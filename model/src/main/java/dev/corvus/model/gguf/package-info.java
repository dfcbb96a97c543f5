/**
 * GGUF files: {@link dev.corvus.model.gguf.GgufReader} parses and checks one (metadata, tensor
 * infos, zero-copy tensor views), {@link dev.corvus.model.gguf.GgufWriter} writes one, and
 * {@link dev.corvus.model.gguf.LlamaGguf} maps llama.cpp's key and tensor names onto a
 * {@link dev.corvus.model.LlamaConfig} and its weights for every supported architecture.
 */
package dev.corvus.model.gguf;
