"""The PyTorch side of scripts/train-vs-torch.sh: one training step of stories15M (llama2.c's
architecture: RMSNorm, interleaved-pair RoPE, SDPA causal attention, SiLU-gated MLP, tied
classifier) in eager float32, on the tokens TrainStepReport wrote, with the same step Corvus runs:
the summed token loss divided by the tokens, gradient clipping at norm 1, AdamW (betas 0.9/0.95,
eps 1e-8, weight decay 0.01 on matrices only, lr 1e-4). Prints one line per timed step and a
summary line in TrainStepReport's format.

usage: train_vs_torch.py --model stories15M.bin --tokens tokens-N.bin [--steps 3] [--warmup 1] [--threads 2]
"""
import argparse
import resource
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_llama2c(path):
    with open(path, "rb") as f:
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("7i", f.read(28))
        shared = vocab > 0
        vocab = abs(vocab)
        data = np.frombuffer(f.read(), dtype=np.float32)
    head_dim = dim // heads
    kv_dim = kv_heads * head_dim
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        t = torch.from_numpy(data[at:at + n].copy()).reshape(shape)
        at += n
        return t

    w = {"emb": take(vocab, dim), "rms_att": take(layers, dim), "wq": take(layers, dim, dim), "wk": take(layers, kv_dim, dim),
         "wv": take(layers, kv_dim, dim), "wo": take(layers, dim, dim), "rms_ffn": take(layers, dim), "w1": take(layers, hidden, dim),
         "w2": take(layers, dim, hidden), "w3": take(layers, hidden, dim), "rms_final": take(dim)}
    at += seq_len * head_dim  # llama2.c's precomputed freq_cis (real, imag); RoPE is recomputed for any length
    w["cls"] = w["emb"] if shared else take(vocab, dim)
    return dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab), w


class Model(torch.nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        self.cfg = cfg
        P = torch.nn.Parameter
        self.emb = P(w["emb"].clone())
        self.tied = w["cls"] is w["emb"]
        self.cls = None if self.tied else P(w["cls"].clone())
        L = cfg["layers"]
        self.rms_att = torch.nn.ParameterList([P(w["rms_att"][l].clone()) for l in range(L)])
        self.wq = torch.nn.ParameterList([P(w["wq"][l].clone()) for l in range(L)])
        self.wk = torch.nn.ParameterList([P(w["wk"][l].clone()) for l in range(L)])
        self.wv = torch.nn.ParameterList([P(w["wv"][l].clone()) for l in range(L)])
        self.wo = torch.nn.ParameterList([P(w["wo"][l].clone()) for l in range(L)])
        self.rms_ffn = torch.nn.ParameterList([P(w["rms_ffn"][l].clone()) for l in range(L)])
        self.w1 = torch.nn.ParameterList([P(w["w1"][l].clone()) for l in range(L)])
        self.w2 = torch.nn.ParameterList([P(w["w2"][l].clone()) for l in range(L)])
        self.w3 = torch.nn.ParameterList([P(w["w3"][l].clone()) for l in range(L)])
        self.rms_final = P(w["rms_final"].clone())

    @staticmethod
    def rmsnorm(x, weight, eps=1e-5):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight

    def forward(self, ids):
        c = self.cfg
        T, H, KV = ids.shape[0], c["heads"], c["kv_heads"]
        hd = c["dim"] // H
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        angles = torch.outer(torch.arange(T, dtype=torch.float32), freqs)
        cos, sin = torch.cos(angles)[:, None, :], torch.sin(angles)[:, None, :]

        def rope(x):  # x [T, heads, hd], pairs (2i, 2i+1) rotated as llama2.c does
            xr, xi = x[..., 0::2], x[..., 1::2]
            return torch.stack((xr * cos - xi * sin, xr * sin + xi * cos), dim=-1).flatten(-2)

        x = F.embedding(ids, self.emb)
        for l in range(c["layers"]):
            xb = self.rmsnorm(x, self.rms_att[l])
            q = rope((xb @ self.wq[l].t()).view(T, H, hd)).transpose(0, 1)
            k = rope((xb @ self.wk[l].t()).view(T, KV, hd)).transpose(0, 1)
            v = (xb @ self.wv[l].t()).view(T, KV, hd).transpose(0, 1)
            if KV != H:
                k = k.repeat_interleave(H // KV, 0)
                v = v.repeat_interleave(H // KV, 0)
            att = F.scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), is_causal=True)
            x = x + att.squeeze(0).transpose(0, 1).reshape(T, -1) @ self.wo[l].t()
            xb = self.rmsnorm(x, self.rms_ffn[l])
            x = x + (F.silu(xb @ self.w1[l].t()) * (xb @ self.w3[l].t())) @ self.w2[l].t()
        h = self.rmsnorm(x, self.rms_final)
        return h @ (self.emb if self.tied else self.cls).t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg, w = load_llama2c(a.model)
    seq = torch.from_numpy(np.fromfile(a.tokens, dtype="<i4").astype(np.int64))
    inputs, targets = seq[:-1], seq[1:]
    n = inputs.shape[0]
    model = Model(cfg, w)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    first = None
    for i in range(a.warmup):
        loss = step()
        first = loss if first is None else first
    times, cpu = [], []
    for i in range(a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        first = loss if first is None else first
        print(f"torch step N={n} {times[-1]:.3f} s (cpu {cpu[-1]:.3f} s) loss {loss:.5f}", flush=True)
    median = sorted(times)[len(times) // 2]
    median_cpu = sorted(cpu)[len(cpu) // 2]
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch N={n} median_s={median:.4f} median_cpu_s={median_cpu:.4f} tokens_per_s={n / median:.1f} peak_rss_mib={peak_rss_mib:.1f} "
          f"first_loss={first:.5f} threads={torch.get_num_threads()} torch={torch.__version__}", flush=True)


if __name__ == "__main__":
    main()
