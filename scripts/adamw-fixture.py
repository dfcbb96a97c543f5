#!/usr/bin/env python3
"""Writes train/src/test/resources/dev/corvus/train/adamw-torch.txt: parameters after each of six
torch.optim.AdamW steps, for AdamWTest to compare with. Needs torch (the CPU wheel:
python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch), run as
/tmp/torchvenv/bin/python scripts/adamw-fixture.py. Inputs are closed-form (no RNG), computed in
double and rounded to float32 exactly as the Java test rounds them. Values are written as
float.hex() so they are read back bit for bit."""
import math
import pathlib
import torch

N, STEPS = 37, 6
LR, BETAS, EPS, WD = 3e-3, (0.85, 0.98), 1e-7, 0.1


def initial(i):
    return math.sin(0.37 * i) * 0.8


def grad(t, i):
    return math.cos(0.11 * i + t) * (1 + 0.5 * t)


def f32(values):
    return torch.tensor(values, dtype=torch.float64).to(torch.float32)


decay = torch.nn.Parameter(f32([initial(i) for i in range(N)]))
plain = torch.nn.Parameter(f32([initial(i) for i in range(N)]))
opt = torch.optim.AdamW([{"params": [decay], "weight_decay": WD}, {"params": [plain], "weight_decay": 0.0}],
                        lr=LR, betas=BETAS, eps=EPS, foreach=False)
lines = [f"# torch {torch.__version__} AdamW lr={LR} betas={BETAS} eps={EPS} weight_decay={WD} n={N} (scripts/adamw-fixture.py)"]
for t in range(1, STEPS + 1):
    g = f32([grad(t, i) for i in range(N)])
    decay.grad = g.clone()
    plain.grad = g.clone()
    opt.step()
    lines.append(f"decay {t} " + " ".join(float(v).hex() for v in decay.detach().tolist()))
    lines.append(f"plain {t} " + " ".join(float(v).hex() for v in plain.detach().tolist()))
out = pathlib.Path(__file__).resolve().parent.parent / "train/src/test/resources/dev/corvus/train/adamw-torch.txt"
out.write_text("\n".join(lines) + "\n")
print("wrote", out)
