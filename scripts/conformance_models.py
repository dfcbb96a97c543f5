#!/usr/bin/env python3
"""Writes the GGUF conformance set: small random-weight models, one per architecture Corvus means
to run, each with a real vocabulary copied from llama.cpp's models/ggml-vocab-*.gguf, then
quantised by llama.cpp's own llama-quantize. scripts/conformance-models.sh runs this into a cache
directory named by a hash of this file, and checks that llama.cpp loads every file it wrote.

    conformance_models.py --llama-cpp DIR --out DIR

The output directory gets <model>-<variant>.gguf and manifest.tsv (model, architecture, vocab,
variant, file, the test's token ids, and for quantised files the name of llama.cpp's logits for
those tokens with the same weights dequantised to F32: see dequantised_reference), the table the
Java conformance test reads. Variants: F32 (the generator's own
file), F16, and llama-quantize presets with --pure, so every matrix has that one type and each
type is tested alone, plus Q4_K_M-mixed (the preset as users run it: Q4_K with Q6_K for some
tensors). The Llama 2 style model gets every type; the others get F32 (F16 for the big
vocabularies) and Q4_K_M-mixed, because quantised kernels do not depend on the architecture and
big vocabularies are costly (128256 x 256 floats is 131 MB). 860 MB in all (llama2 291 MB,
llama3 127, qwen2 144, qwen3 145, phi3 52, gemma2 51, gemma3 53); 3 CPU-minutes, most of it
dequantising in numpy, one process per model (6 minutes on 2 busy cores). Dims: embedding 256 and feed-forward 768, multiples of 256, so
K-quants (256-element blocks) apply to every matrix; two layers.

Weights are seeded normal draws scaled by 1/sqrt(fan-in), so activations stay O(1) through the
layers, with the vocabulary matrix drawn so logits spread by about 4 (a clear top-1 per
position); norm weights are near 1. Needs numpy and llama.cpp's gguf-py (found in --llama-cpp).
"""
import argparse
import concurrent.futures
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

DIM, HIDDEN, LAYERS = 256, 768, 2
SEQUENCE_LENGTH = 40

# Every model: llama.cpp architecture, vocabulary file, heads, kv heads, head size (None: dim /
# heads), tied classifier, rope base, norm epsilon, and the architecture's extras.
MODELS = {
    # Llama 2: MHA, untied classifier, SentencePiece vocabulary
    "llama2": dict(arch="llama", vocab="llama-spm", heads=4, kv=4, head=None, tied=False, theta=10000.0, eps=1e-5),
    # Llama 3.2: GQA, tied, BPE vocabulary, llama3 rope scaling as llama.cpp's converter stores
    # it (rope_freqs.weight: per-frequency divisors, no scaling keys)
    "llama3": dict(arch="llama", vocab="llama-bpe", heads=4, kv=2, head=None, tied=True, theta=500000.0, eps=1e-5,
                   llama3_rope=dict(factor=32.0, low=1.0, high=4.0, original=8192)),
    # Qwen2.5: GQA, q/k/v biases, NEOX rope
    "qwen2": dict(arch="qwen2", vocab="qwen2", heads=4, kv=2, head=None, tied=True, theta=1000000.0, eps=1e-6, qkv_bias=True),
    # Qwen3: q/k RMSNorm per head, head size 128 (heads x head size != embedding, as in Qwen3 0.6B)
    "qwen3": dict(arch="qwen3", vocab="qwen2", heads=4, kv=2, head=128, tied=True, theta=1000000.0, eps=1e-6, qk_norm=True),
    # Phi-3 mini: fused attn_qkv and fused gate|up (ffn_up holds both); tied here to save 33 MB
    # (Phi-3 is untied, but Llama 2 covers untied classifiers)
    "phi3": dict(arch="phi3", vocab="phi-3", heads=4, kv=4, head=None, tied=True, theta=10000.0, eps=1e-5, fused=True),
    # Gemma 2: embeddings times sqrt(dim), post-norms, GELU, attention and final logit
    # soft-capping, sliding-window attention every other layer (window 16 < the test's sequence)
    "gemma2": dict(arch="gemma2", vocab="llama-spm", heads=4, kv=2, head=None, tied=True, theta=10000.0, eps=1e-6,
                   gemma=True, q_scale=4.0,
                   keys={"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "attention.sliding_window": 16}),
    # Gemma 3: Gemma 2 without soft-capping, with q/k norms, head size 128, local layers with
    # their own rope base, global ones with linear rope scaling (as Gemma 3 4B)
    "gemma3": dict(arch="gemma3", vocab="phi-3", heads=4, kv=2, head=128, tied=True, theta=1000000.0, eps=1e-6,
                   gemma=True, qk_norm=True,
                   keys={"attention.sliding_window": 16, "attention.sliding_window_pattern": 2, "rope.freq_base_swa": 10000.0,
                         "rope.scaling.type": "linear", "rope.scaling.factor": 8.0}),
}

ALL_TYPES = ["F32", "F16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q4_K_M-mixed"]
# The big vocabularies (128256 and 151936 tokens) keep F16 instead of F32: 80 MB instead of 160 MB
# each, and F16 rounding of the weights is the same in llama.cpp and Corvus.
BIG_VOCAB = {"llama3", "qwen2", "qwen3"}
VARIANTS = {name: ALL_TYPES if name == "llama2" else ["F16" if name in BIG_VOCAB else "F32", "Q4_K_M-mixed"] for name in MODELS}


def copy_keys(gguf, writer, source, keep):
    """The keys of a GGUF file that keep(key) accepts, with their value types; the token count."""
    reader = gguf.GGUFReader(source)
    n_tokens = None
    for key, field in reader.fields.items():
        if not keep(key):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            value = field.contents()
            if key == "tokenizer.ggml.tokens":
                n_tokens = len(value)
            writer.add_key_value(key, value, vtype, sub_type=field.types[1])
        else:
            writer.add_key_value(key, field.contents(), vtype)
    return n_tokens


def sequence(n_vocab, bos):
    """The tokens the conformance test runs: BOS, the last id, then ids spread over the vocabulary
    by a multiplicative hash; SEQUENCE_LENGTH in all (longer than the sliding windows)."""
    return [bos, n_vocab - 1] + [(i * 2654435761) % n_vocab for i in range(2, SEQUENCE_LENGTH)]


def llama3_rope_factors(theta, head, factor, low, high, original):
    # llama.cpp's converter turns Llama 3.1's rope_scaling into these per-frequency divisors
    out = []
    for i in range(0, head, 2):
        freq = 1.0 / theta ** (i / head)
        wavelen = 2 * math.pi / freq
        if wavelen < original / high:
            out.append(1.0)
        elif wavelen > original / low:
            out.append(factor)
        else:
            smooth = (original / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def write_model(gguf, name, spec, vocab_dir, path):
    rng = np.random.default_rng(sum(map(ord, name)))  # one fixed seed per model
    arch = spec["arch"]
    heads, kv = spec["heads"], spec["kv"]
    head = spec["head"] or DIM // heads
    q_dim, kv_dim = heads * head, kv * head

    w = gguf.GGUFWriter(str(path), arch)
    vocab_path = vocab_dir / f"ggml-vocab-{spec['vocab']}.gguf"
    n_vocab = copy_keys(gguf, w, vocab_path, lambda key: key.startswith("tokenizer."))
    if n_vocab is None:
        raise SystemExit(f"{vocab_path}: no tokenizer.ggml.tokens")
    w.add_name(f"corvus-conformance-{name}")
    w.add_file_type(0)  # all F32
    w.add_context_length(4096)
    w.add_embedding_length(DIM)
    w.add_feed_forward_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(spec["theta"])
    w.add_layer_norm_rms_eps(spec["eps"])
    w.add_rope_dimension_count(head)
    w.add_vocab_size(n_vocab)
    if spec["head"]:
        w.add_key_length(head)
        w.add_value_length(head)
    if arch == "phi3":
        w.add_uint32(f"{arch}.rope.scaling.original_context_length", 4096)
    for key, value in spec.get("keys", {}).items():
        full = f"{arch}.{key}"
        if isinstance(value, str):
            w.add_string(full, value)
        elif isinstance(value, float):
            w.add_float32(full, value)
        else:
            w.add_uint32(full, value)

    def matrix(rows, cols, scale=1.0):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(scale / math.sqrt(cols)))

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)

    def bias(n):
        return (0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)

    # logits = norm(x) . e_v: rows of std 0.25 spread them by about 0.25 * sqrt(256) = 4. Gemma
    # multiplies embeddings by sqrt(dim), so its rows are that much smaller (else each position's
    # own token dominates the residual and wins every tied-classifier logit) and its final norm
    # that much larger.
    gemma = bool(spec.get("gemma"))
    embd_std = 0.25 / math.sqrt(DIM) if gemma else 0.25
    w.add_tensor("token_embd.weight", rng.standard_normal((n_vocab, DIM), dtype=np.float32) * np.float32(embd_std))
    if "llama3_rope" in spec:
        r = spec["llama3_rope"]
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(spec["theta"], head, r["factor"], r["low"], r["high"], r["original"]))
    for l in range(LAYERS):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", norm(DIM))
        q = matrix(q_dim, DIM, spec.get("q_scale", 1.0))
        k, v = matrix(kv_dim, DIM), matrix(kv_dim, DIM)
        if spec.get("fused"):
            w.add_tensor(p + "attn_qkv.weight", np.concatenate([q, k, v]))
        else:
            w.add_tensor(p + "attn_q.weight", q)
            w.add_tensor(p + "attn_k.weight", k)
            w.add_tensor(p + "attn_v.weight", v)
        if spec.get("qkv_bias"):
            w.add_tensor(p + "attn_q.bias", bias(q_dim))
            w.add_tensor(p + "attn_k.bias", bias(kv_dim))
            w.add_tensor(p + "attn_v.bias", bias(kv_dim))
        if spec.get("qk_norm"):
            w.add_tensor(p + "attn_q_norm.weight", norm(head))
            w.add_tensor(p + "attn_k_norm.weight", norm(head))
        w.add_tensor(p + "attn_output.weight", matrix(DIM, q_dim))
        if spec.get("gemma"):
            w.add_tensor(p + "post_attention_norm.weight", norm(DIM))
        w.add_tensor(p + "ffn_norm.weight", norm(DIM))
        gate, up = matrix(HIDDEN, DIM), matrix(HIDDEN, DIM)
        if spec.get("fused"):
            w.add_tensor(p + "ffn_up.weight", np.concatenate([gate, up]))  # llama.cpp splits it: gate first
        else:
            w.add_tensor(p + "ffn_gate.weight", gate)
            w.add_tensor(p + "ffn_up.weight", up)
        w.add_tensor(p + "ffn_down.weight", matrix(DIM, HIDDEN))
        if spec.get("gemma"):
            w.add_tensor(p + "post_ffw_norm.weight", norm(DIM))
    w.add_tensor("output_norm.weight", norm(DIM) * np.float32(math.sqrt(DIM) if gemma else 1.0))
    if not spec["tied"]:
        w.add_tensor("output.weight", rng.standard_normal((n_vocab, DIM), dtype=np.float32) * np.float32(0.25))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    bos = gguf.GGUFReader(vocab_path).fields["tokenizer.ggml.bos_token_id"].contents()
    return n_vocab, int(bos)


def quantize(llama_bin, src, dst, variant):
    preset, pure = (variant[: -len("-mixed")], False) if variant.endswith("-mixed") else (variant, True)
    cmd = [str(llama_bin / "llama-quantize")] + (["--pure"] if pure else []) + [str(src), str(dst), preset, "2"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"llama-quantize failed for {dst.name} ({' '.join(cmd)}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")


def dequantised_reference(gguf, llama_bin, quantised, tokens, logits_out):
    """llama.cpp's logits for the quantised file's exact weights computed in F32: every matrix
    dequantised (gguf-py's numpy dequantizers) into a temporary F32 file. Set against llama.cpp on
    the quantised file itself, it isolates llama.cpp's own rounding of activations to 8 bits in
    quantised dot products, the noise Corvus is allowed."""
    from gguf import quants
    tmp = quantised.with_suffix(".dequant.tmp.gguf")
    reader = gguf.GGUFReader(quantised)
    arch = str(reader.fields["general.architecture"].contents())
    w = gguf.GGUFWriter(str(tmp), arch)
    copy_keys(gguf, w, quantised, lambda key: not key.startswith("GGUF.") and key not in (
        "general.architecture", "general.file_type", "general.quantization_version"))
    w.add_file_type(0)
    for t in reader.tensors:
        if t.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            data = np.asarray(t.data, dtype=np.float32)
        else:
            data = quants.dequantize(np.asarray(t.data), t.tensor_type)
        w.add_tensor(t.name, np.ascontiguousarray(data.reshape(tuple(int(n) for n in reversed(t.shape)))))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    try:
        r = subprocess.run([str(llama_bin / "corvus-logits"), "-m", str(tmp), "-t", ",".join(map(str, tokens)), "-o", str(logits_out)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"corvus-logits failed on the dequantised {quantised.name}: {r.stderr[-2000:]}")
    finally:
        tmp.unlink()


def generate(name, llama_cpp, out):
    """One model's files; returns its manifest rows."""
    sys.path.insert(0, str(llama_cpp / "gguf-py"))
    import gguf  # llama.cpp's own, numpy-only

    spec = MODELS[name]
    base = out / f"{name}-F32.gguf"
    n_vocab, bos = write_model(gguf, name, spec, llama_cpp / "models", base)
    tokens = sequence(n_vocab, bos)
    llama_bin = llama_cpp / "build" / "bin"
    rows = []
    for variant in VARIANTS[name]:
        path = out / f"{name}-{variant}.gguf"
        reference = "-"
        if variant != "F32":
            quantize(llama_bin, base, path, variant)
        if variant not in ("F32", "F16"):
            reference = f"{name}-{variant}.dequantised-logits.f32"
            dequantised_reference(gguf, llama_bin, path, tokens, out / reference)
        rows.append(f"{name}\t{spec['arch']}\t{spec['vocab']}\t{variant}\t{path.name}\t{','.join(map(str, tokens))}\t{reference}")
    if "F32" not in VARIANTS[name]:
        base.unlink()
    print(f"conformance: {name}: {', '.join(VARIANTS[name])}", file=sys.stderr)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-cpp", required=True, type=Path, help="llama.cpp source directory with build/bin")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--only", help="comma-separated model names (default: all)")
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(MODELS)
    # one process per model: the models are independent, and numpy's dequantizers are single-threaded
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
        rows = [row for rows in pool.map(generate, names, [args.llama_cpp] * len(names), [args.out] * len(names)) for row in rows]
    header = "model\tarchitecture\tvocab\tvariant\tfile\ttokens\tdequantised_logits\n"
    (args.out / "manifest.tsv").write_text(header + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
