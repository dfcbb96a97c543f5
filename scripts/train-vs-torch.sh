#!/usr/bin/env bash
# One training step of stories15M (forward, backward, gradient clipping at 1, AdamW) in Corvus
# (dev.corvus.jmh.TrainStepReport) and in PyTorch eager float32 (scripts/train_vs_torch.py: SDPA
# causal attention, torch.set_num_threads), on the same tokens (Debian's fortunes packed at N;
# Corvus writes them, PyTorch reads them) and the same threads, interleaved: each round runs every N
# on both sides, alternating which side goes first. Prints every step, then one table: median
# step time, tokens/s, process CPU seconds per step, the ratio (PyTorch time / Corvus time: above
# 1 means Corvus is faster) and both sides' first loss (equal when both train the same model on the
# same tokens), with the load average around each run. On a loaded machine wall time is unreliable;
# CPU seconds less so, but spinning threads under contention inflate them too.
#
# Usage: scripts/train-vs-torch.sh [-n 1024,2048,4096] [--steps 3] [--warmup 1] [--rounds 1] [-t 2]
#            [--checkpoint-blocks]
# Needs: JDK 25 (JAVA_HOME), python3.11, the torch 2.13 CPU wheel (TORCH_WHEEL, default
# /opt/wheels/torch-2.13*.whl) and its dependencies as wheels (TORCH_DEPS, space-separated
# folders, default /opt/pypi/files /opt/pypi-more/files): installed with --no-index into a venv under target/ once. The model and text
# come from scripts/fetch-model.sh and scripts/training-data.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
OUT="$root/target/train-vs-torch"
VENV="${TORCH_VENV:-$root/target/torch-venv}"

sizes=1024,2048,4096 steps=3 warmup=1 rounds=1 threads=2 checkpoint=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n) sizes="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    --checkpoint-blocks) checkpoint="--checkpoint-blocks"; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "train-vs-torch: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
"$JAVA" -version 2>&1 | grep -q 'version "2[5-9]' || { echo "train-vs-torch: $JAVA is not JDK 25+; set JAVA_HOME" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import torch, numpy' 2>/dev/null; then
  wheel="${TORCH_WHEEL:-$(ls /opt/wheels/torch-2.13*.whl 2>/dev/null | head -1)}"
  [ -n "$wheel" ] && [ -f "$wheel" ] || { echo "train-vs-torch: no torch 2.13 wheel (set TORCH_WHEEL)" >&2; exit 1; }
  python3.11 -m venv "$VENV"
  links=()
  for d in ${TORCH_DEPS:-/opt/pypi/files /opt/pypi-more/files}; do links+=(--find-links "$d"); done
  "$VENV/bin/pip" install -q --no-index "${links[@]}" "$wheel" numpy
fi

"$root/scripts/fetch-model.sh" >/dev/null
"$root/scripts/training-data.sh" >/dev/null
jar="$root/jmh/target/benchmarks.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$root/jmh/src" "$root/train/src/main" "$root/tensor/src/main" "$root/model/src/main" "$root/vector-backend/src/main" \
    -newer "$jar" -name '*.java' -print -quit)" ]; then
  (cd "$root" && ./mvnw -q -o -pl jmh -am package -DskipTests)
fi
mkdir -p "$OUT"
log="$OUT/results.txt"
: > "$log"

corvus() { # N
  "$JAVA" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dcorvus.threads="$threads" -cp "$jar" \
    dev.corvus.jmh.TrainStepReport --n "$1" --steps "$steps" --warmup "$warmup" --tokens-out "$OUT/tokens-$1.bin" $checkpoint 2>/dev/null
}
torch() { # N
  "$VENV/bin/python" "$root/scripts/train_vs_torch.py" --model "$CACHE/stories15M/stories15M.bin" --tokens "$OUT/tokens-$1.bin" \
    --steps "$steps" --warmup "$warmup" --threads "$threads"
}
run() { # SIDE N
  local before after
  before="$(cut -d' ' -f1 /proc/loadavg)"
  "$1" "$2" | tee /dev/stderr | grep "^$1 N=" | { read -r line; after="$(cut -d' ' -f1 /proc/loadavg)"; echo "$line load=$before-$after"; } >> "$log"
}

for round in $(seq 1 "$rounds"); do
  for n in ${sizes//,/ }; do
    # the tokens exist before either side runs (Corvus packs them)
    [ -f "$OUT/tokens-$n.bin" ] || "$JAVA" --add-modules=jdk.incubator.vector -cp "$jar" dev.corvus.jmh.TrainStepReport --n "$n" --steps 0 \
      --tokens-out "$OUT/tokens-$n.bin" >/dev/null 2>&1
    if [ $((round % 2)) -eq 1 ]; then run corvus "$n"; run torch "$n"; else run torch "$n"; run corvus "$n"; fi
  done
done

echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $threads threads; $rounds round(s) of $warmup warm-up + $steps timed steps"
python3 - "$log" <<'EOF'
import re, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    side, rest = line.split(" ", 1)
    kv = dict(re.findall(r"(\w+)=(\S+)", rest))
    rows.setdefault(int(kv["N"]), {}).setdefault(side, []).append(kv)
print("| N | Corvus s/step | Corvus tok/s | PyTorch s/step | PyTorch tok/s | ratio (PyTorch / Corvus time) | CPU s/step Corvus / PyTorch | first loss Corvus / PyTorch | load |")
print("|---|---|---|---|---|---|---|---|---|")
for n in sorted(rows):
    c, t = rows[n].get("corvus", []), rows[n].get("torch", [])
    if not c or not t:
        continue
    cs = statistics.median(float(r["median_s"]) for r in c)
    ts = statistics.median(float(r["median_s"]) for r in t)
    cc = statistics.median(float(r["median_cpu_s"]) for r in c)
    tc = statistics.median(float(r["median_cpu_s"]) for r in t)
    loads = sorted({r["load"] for r in c + t})
    print(f"| {n} | {cs:.2f} | {n / cs:.0f} | {ts:.2f} | {n / ts:.0f} | {ts / cs:.2f}x | {cc:.2f} / {tc:.2f} | {c[0]['first_loss']} / {t[0]['first_loss']} | {', '.join(loads)} |")
EOF
