/**
 * Tokenizers as llama.cpp defines them: byte-level BPE with the models' pre-tokenizers
 * ({@link dev.corvus.model.tokenizer.BpeTokenizer}), SentencePiece
 * ({@link dev.corvus.model.tokenizer.SentencePieceTokenizer}), special tokens in text, and
 * {@link dev.corvus.model.tokenizer.Tokenizers}, which builds the right one from GGUF metadata.
 */
package dev.corvus.model.tokenizer;
