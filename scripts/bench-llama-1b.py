#!/usr/bin/env python3
"""Writes a Llama-3.2-1B-shaped GGUF with random weights, for speed comparisons only.

Shape as Llama 3.2 1B: dim 2048, hidden 8192, 16 layers, 32 heads, 8 KV heads (head size 64),
RoPE theta 500000, RMSNorm eps 1e-5, the classifier tied to the token embedding; the real Llama 3
vocabulary (128,256 tokens, byte-level BPE) copied from llama.cpp's models/ggml-vocab-llama-bpe.gguf.
Matrices are F16 (about 2.3 GiB), norms F32 and 1; matrix entries are N(0, 0.02²), fixed seed, so
a re-run writes the same bytes. The output means nothing: it exists so llama-bench and corvus
bench run the same GEMM/GEMV shapes and vocabulary as the real model (quantise it with
llama-quantize for Q8_0, Q4_0, Q4_K_M). Context length 8192, enough for a 4,096-token depth.

Tensors are generated and written one at a time, so the peak memory is one tensor (the 128256 x 2048
embedding, 0.5 GiB in F16, plus a float32 chunk).

Usage: scripts/bench-llama-1b.py OUTPUT.gguf [llama.cpp source dir]
(default source: $CORVUS_LLAMA_CPP, else the directory named in ~/.cache/corvus/llama.cpp-src.ok;
scripts/llama-cpp.sh fetches it).
"""
import os
import sys
from pathlib import Path

import numpy as np

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS = 2048, 8192, 16, 32, 8
HEAD_DIM = DIM // HEADS
CONTEXT = 8192
STD = 0.02
SEED = 20261202


def llama_cpp_dir() -> Path:
    if len(sys.argv) > 2:
        return Path(sys.argv[2])
    if os.environ.get("CORVUS_LLAMA_CPP"):
        return Path(os.environ["CORVUS_LLAMA_CPP"])
    marker = Path.home() / ".cache/corvus/llama.cpp-src.ok"
    if marker.exists():
        return Path(marker.read_text().strip())
    sys.exit("bench-llama-1b: no llama.cpp source: pass its directory, set CORVUS_LLAMA_CPP or run scripts/llama-cpp.sh")


if len(sys.argv) < 2:
    sys.exit(__doc__)
SRC = llama_cpp_dir()
sys.path.insert(0, str(SRC / "gguf-py"))
from gguf import GGUFReader, GGUFValueType, GGUFWriter  # noqa: E402


def copy_vocabulary(writer: GGUFWriter, vocab_file: Path) -> int:
    """Copies every tokenizer.* key of the vocabulary file; returns its token count."""
    reader = GGUFReader(vocab_file)
    n_vocab = 0
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        kind = field.types[0]
        if kind == GGUFValueType.ARRAY:
            sub = field.types[1]
            if sub == GGUFValueType.STRING:
                values = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                values = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(key, values, kind, sub_type=sub)
            if key == "tokenizer.ggml.tokens":
                n_vocab = len(values)
        elif kind == GGUFValueType.STRING:
            writer.add_key_value(key, bytes(field.parts[field.data[0]]).decode("utf-8"), kind)
        else:
            writer.add_key_value(key, field.parts[field.data[0]].tolist()[0], kind)
    if n_vocab == 0:
        sys.exit(f"bench-llama-1b: {vocab_file} has no tokenizer.ggml.tokens")
    return n_vocab


def main() -> None:
    out = Path(sys.argv[1])
    vocab_file = SRC / "models/ggml-vocab-llama-bpe.gguf"
    if not vocab_file.is_file():
        sys.exit(f"bench-llama-1b: {vocab_file} is missing (expected in the llama.cpp source)")
    tmp = out.with_name(out.name + ".tmp")
    writer = GGUFWriter(tmp, "llama")
    writer.add_name("llama-3.2-1b-shape-random")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(DIM)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(HIDDEN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(500000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(1)  # LLAMA_FTYPE_MOSTLY_F16
    n_vocab = copy_vocabulary(writer, vocab_file)
    writer.add_vocab_size(n_vocab)

    # (name, numpy shape [rows, cols], is a matrix)
    tensors = [("token_embd.weight", (n_vocab, DIM), True)]
    for layer in range(LAYERS):
        p = f"blk.{layer}."
        tensors += [
            (p + "attn_norm.weight", (DIM,), False),
            (p + "attn_q.weight", (HEADS * HEAD_DIM, DIM), True),
            (p + "attn_k.weight", (KV_HEADS * HEAD_DIM, DIM), True),
            (p + "attn_v.weight", (KV_HEADS * HEAD_DIM, DIM), True),
            (p + "attn_output.weight", (DIM, HEADS * HEAD_DIM), True),
            (p + "ffn_norm.weight", (DIM,), False),
            (p + "ffn_gate.weight", (HIDDEN, DIM), True),
            (p + "ffn_up.weight", (HIDDEN, DIM), True),
            (p + "ffn_down.weight", (DIM, HIDDEN), True),
        ]
    tensors.append(("output_norm.weight", (DIM,), False))
    for name, shape, matrix in tensors:
        dtype = np.float16 if matrix else np.float32
        writer.add_tensor_info(name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(SEED)
    for i, (name, shape, matrix) in enumerate(tensors):
        if matrix:
            data = np.empty(shape, dtype=np.float16)
            step = max(1, (1 << 24) // shape[1])  # 16M floats of float32 scratch at a time
            for r in range(0, shape[0], step):
                data[r:r + step] = rng.standard_normal((min(step, shape[0] - r), shape[1]), dtype=np.float32) * STD
        else:
            data = np.ones(shape, dtype=np.float32)
        writer.write_tensor_data(data)
        print(f"\rbench-llama-1b: {i + 1}/{len(tensors)} tensors", end="", file=sys.stderr, flush=True)
    writer.close()
    print(file=sys.stderr)
    tmp.replace(out)
    print(f"bench-llama-1b: wrote {out} ({out.stat().st_size / 2**30:.2f} GiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
