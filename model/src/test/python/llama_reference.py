#!/usr/bin/env python3
"""Independent numpy reference for Corvus's Llama forward pass (llama2.c checkpoints).

Reads a llama2.c "version 0" checkpoint directly with numpy (no Corvus code), runs greedy
decoding token by token with a KV cache, exactly as llama2.c's run.c does, and prints:

    # comment lines (checkpoint, prompt, dtype)
    config dim hidden layers heads kv_heads vocab seq_len
    tokens <prompt ids> | <greedy ids>
    margin <step> <top1 - top2 logit gap>          (how safe each greedy choice is)
    logits <step> <id>:<value> <id>:<value> ...    (ids i % 125 == 0 and the top 16, for the
                                                    first --logit-steps steps; step 0 is the
                                                    prediction after the whole prompt)

Regenerate the checked-in fixture (model/src/test/resources/reference/stories15M-once-upon.txt):

    python3 model/src/test/python/llama_reference.py ~/.cache/corvus/stories15M.bin \
        --prompt 1,9038,2501,263,931 --steps 40 --logit-steps 3 --dtype float64 \
        > model/src/test/resources/reference/stories15M-once-upon.txt
"""
import argparse
import sys

import numpy as np


def load(path, dtype):
    header = np.fromfile(path, dtype="<i4", count=7)
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = (int(v) for v in header)
    shared = vocab > 0
    vocab = abs(vocab)
    head = dim // heads
    kv_dim = kv_heads * head
    data = np.memmap(path, dtype="<f4", mode="r", offset=7 * 4)
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        out = np.asarray(data[at:at + n], dtype=dtype).reshape(shape)
        at += n
        return out

    w = {}
    w["emb"] = take(vocab, dim)
    w["rms_att"] = take(layers, dim)
    w["wq"] = take(layers, dim, dim)          # [out, in] per layer
    w["wk"] = take(layers, kv_dim, dim)
    w["wv"] = take(layers, kv_dim, dim)
    w["wo"] = take(layers, dim, dim)
    w["rms_ffn"] = take(layers, dim)
    w["w1"] = take(layers, hidden, dim)
    w["w2"] = take(layers, dim, hidden)
    w["w3"] = take(layers, hidden, dim)
    w["rms_final"] = take(dim)
    at += 2 * seq_len * (head // 2)          # legacy freq_cis_real, freq_cis_imag
    w["cls"] = w["emb"] if shared else take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab, seq_len=seq_len)
    return cfg, w


def rmsnorm(x, weight, eps=1e-5):
    return x / np.sqrt(np.mean(x * x) + eps) * weight


def rope(v, pos, head):
    # rotate pairs (2i, 2i+1) of every head by pos * 10000^(-2i/head)
    v = v.reshape(-1, head // 2, 2)
    i = np.arange(head // 2, dtype=np.float64)
    angle = pos * (10000.0 ** (-2.0 * i / head))
    c, s = np.cos(angle).astype(v.dtype), np.sin(angle).astype(v.dtype)
    a, b = v[..., 0], v[..., 1]
    return np.stack([a * c - b * s, a * s + b * c], axis=-1).reshape(-1)


def silu(x):
    return x / (1.0 + np.exp(-x))


class Model:
    def __init__(self, cfg, w, dtype):
        self.c, self.w, self.dtype = cfg, w, dtype
        kv_dim = cfg["kv_heads"] * (cfg["dim"] // cfg["heads"])
        self.k = np.zeros((cfg["layers"], cfg["seq_len"], kv_dim), dtype=dtype)
        self.v = np.zeros_like(self.k)

    def step(self, token, pos):
        c, w = self.c, self.w
        dim, heads, kvh = c["dim"], c["heads"], c["kv_heads"]
        head = dim // heads
        group = heads // kvh
        x = w["emb"][token].copy()
        for l in range(c["layers"]):
            xb = rmsnorm(x, w["rms_att"][l])
            q = rope(w["wq"][l] @ xb, pos, head)
            self.k[l, pos] = rope(w["wk"][l] @ xb, pos, head)
            self.v[l, pos] = w["wv"][l] @ xb
            att_out = np.empty(dim, dtype=self.dtype)
            for h in range(heads):
                kh = h // group
                qh = q[h * head:(h + 1) * head]
                keys = self.k[l, :pos + 1, kh * head:(kh + 1) * head]
                vals = self.v[l, :pos + 1, kh * head:(kh + 1) * head]
                scores = keys @ qh / np.sqrt(head)
                p = np.exp(scores - scores.max())
                p /= p.sum()
                att_out[h * head:(h + 1) * head] = p @ vals
            x = x + w["wo"][l] @ att_out
            xb = rmsnorm(x, w["rms_ffn"][l])
            x = x + w["w2"][l] @ (silu(w["w1"][l] @ xb) * (w["w3"][l] @ xb))
        x = rmsnorm(x, w["rms_final"])
        return w["cls"] @ x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--prompt", default="1,9038,2501,263,931", help="comma-separated token ids (BOS included)")
    ap.add_argument("--steps", type=int, default=40, help="greedy tokens to generate")
    ap.add_argument("--logit-steps", type=int, default=3, help="steps whose logits are printed")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    a = ap.parse_args()
    dtype = np.dtype(a.dtype)
    prompt = [int(t) for t in a.prompt.split(",") if t.strip()]
    cfg, w = load(a.checkpoint, dtype)
    m = Model(cfg, w, dtype)
    out = sys.stdout
    out.write("# numpy reference: %s, %s, greedy\n" % (a.checkpoint.split("/")[-1], a.dtype))
    out.write("config %d %d %d %d %d %d %d\n" % tuple(cfg[k] for k in ("dim", "hidden", "layers", "heads", "kv_heads", "vocab", "seq_len")))
    logits = None
    for pos, t in enumerate(prompt):
        logits = m.step(t, pos)
    generated, margins, logit_lines = [], [], []
    pos = len(prompt)
    for s in range(a.steps):
        top = np.argsort(-logits, kind="stable")
        nxt = int(top[0])
        margins.append("margin %d %.6f\n" % (s, logits[top[0]] - logits[top[1]]))
        if s < a.logit_steps:
            ids = sorted(set(range(0, cfg["vocab"], 125)) | set(int(i) for i in top[:16]))
            logit_lines.append("logits %d %s\n" % (s, " ".join("%d:%.6f" % (i, logits[i]) for i in ids)))
        generated.append(nxt)
        if s + 1 == a.steps or pos >= cfg["seq_len"]:
            break
        logits = m.step(nxt, pos)
        pos += 1
    out.write("tokens %s | %s\n" % (" ".join(map(str, prompt)), " ".join(map(str, generated))))
    out.writelines(margins)
    out.writelines(logit_lines)


if __name__ == "__main__":
    main()
