#!/usr/bin/env python3
"""Writes the dequantisation fixtures of tensor/src/test/resources/quants/.

For every GGUF quantised type Corvus computes on, makes random blocks (random bytes, with the fp16
scales replaced by finite values: ordinary magnitudes, negatives, zeros, subnormals and the fp16
extremes), dequantises them with llama.cpp's gguf-py (gguf/quants.py, the reference Corvus is
held to bit for bit) and writes <TYPE>.bin: the raw blocks followed by the expected values as
little-endian float32. Deterministic (fixed seed), so re-running it reproduces the committed files.

Usage: scripts/quant-fixtures.py [llama.cpp source dir]
(default: $CORVUS_LLAMA_CPP, else the directory named in ~/.cache/corvus/llama.cpp-src.ok;
scripts/llama-cpp.sh fetches it).
"""
import os
import sys
from pathlib import Path

import numpy as np


def llama_cpp_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    if os.environ.get("CORVUS_LLAMA_CPP"):
        return Path(os.environ["CORVUS_LLAMA_CPP"])
    marker = Path.home() / ".cache/corvus/llama.cpp-src.ok"
    if marker.exists():
        return Path(marker.read_text().strip())
    sys.exit("no llama.cpp source: pass its directory, set CORVUS_LLAMA_CPP or run scripts/llama-cpp.sh")


sys.path.insert(0, str(llama_cpp_dir() / "gguf-py"))
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

# Byte offsets of each type's fp16 scales within a block (d, and dmin or m where present).
SCALES = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}
# Enough blocks to hit every nibble, bit plane and scale slot many times, few enough to keep the
# committed files small (about 70 KB together).
BLOCKS = {32: 32, 256: 8}


def finite_scales(rng: np.random.Generator, n: int) -> np.ndarray:
    """n fp16 values: mostly realistic magnitudes, with every awkward finite kind mixed in."""
    ordinary = (rng.standard_normal(n) * 0.02).astype(np.float16)
    bits = rng.integers(0, 1 << 16, n, dtype=np.uint32).astype(np.uint16)
    bits = np.where((bits & 0x7C00) == 0x7C00, bits & 0x83FF, bits)  # Inf/NaN exponent -> subnormal
    special = np.array([0.0, -0.0, 65504.0, -65504.0, 6e-8, -6e-8, 6.1e-5, 1.0], dtype=np.float16)
    kind = rng.integers(0, 4, n)
    out = np.where(kind == 0, bits.view(np.float16), ordinary)
    out = np.where(kind == 1, special[rng.integers(0, len(special), n)], out)
    return out.astype(np.float16)


def main() -> None:
    out_dir = Path(__file__).resolve().parent.parent / "tensor/src/test/resources/quants"
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240612)
    for name, offsets in SCALES.items():
        qtype = GGMLQuantizationType[name]
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        n = BLOCKS[block_size]
        blocks = rng.integers(0, 256, (n, type_size), dtype=np.uint16).astype(np.uint8)
        blocks[0, :] = 0x00  # all-zero quants and scales
        blocks[1, :] = 0xFF  # every bit set (scales fixed below)
        for off in offsets:
            blocks[:, off:off + 2] = finite_scales(rng, n).view(np.uint8).reshape(n, 2)
        expected = dequantize(blocks, qtype).astype("<f4").reshape(-1)
        assert expected.size == n * block_size and np.isfinite(expected).all(), name
        (out_dir / f"{name}.bin").write_bytes(blocks.tobytes() + expected.tobytes())
        print(f"{name}: {n} blocks, {blocks.nbytes + expected.nbytes} bytes")


if __name__ == "__main__":
    main()
