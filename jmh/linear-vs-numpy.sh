#!/usr/bin/env bash
# Prefill's linear y = x·Wᵀ (W [N, K]): Corvus's small-m path against its previous packed path
# (LinearBenchmark, same JMH run) and, for F32, numpy's matmul (OpenBLAS) on the same shapes and
# thread count, with ratios of the JMH scores. Usage:
#   jmh/linear-vs-numpy.sh [threads] [dtypes, comma-separated: F32,Q8_0,Q4_K] [rows: 16,64,128,512]
#   jmh/linear-vs-numpy.sh --cpu-time [dtypes] [rows]
# --cpu-time: one thread each, timed by the CPU time it spends (LinearReport; numpy by
# time.process_time), best of 7 calls: what to trust when other jobs load the machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cpu_time=false
if [ "${1:-}" = "--cpu-time" ]; then cpu_time=true; shift; set -- 1 "$@"; fi
threads="${1:-2}"
dtypes="${2:-F32,Q8_0,Q4_K}"
rows="${3:-16,64,128,512}"
weights="8192x2048,2048x8192"

if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"25'; then
  JAVA_HOME="$(ls -d /usr/lib/jvm/*25* | head -n 1)"; export JAVA_HOME
fi
jar="$root/jmh/target/benchmarks.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$root" -path '*/src/main/*' -newer "$jar" -print -quit)" ]; then
  (cd "$root" && ./mvnw -q -B -DskipTests -pl jmh -am package)
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== load before: $(uptime)"
if $cpu_time; then
  echo "== Corvus (LinearReport, 1 thread, thread CPU time) and numpy (1 thread, process CPU time), best of 7 =="
  "$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx6g \
    -cp "$jar" dev.corvus.jmh.LinearReport "$dtypes" "$weights" "$rows" 7 2>/dev/null > "$out/report.tsv"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    python3 - "$out/report.tsv" <<'PY'
import sys, time
import numpy as np
lines = open(sys.argv[1]).read().splitlines()
print(f"{'dtype':>5} {'W NxK':>10} {'rows':>5} {'vector GF/s':>12} {'packed GF/s':>12} {'vec/packed':>10} {'numpy GF/s':>11} {'vec/numpy':>9}")
for line in lines[1:]:
    dtype, weight, m, _, new, _, old, _ = line.split("\t")
    m, new, old = int(m), float(new), float(old)
    out = f"{dtype:>5} {weight:>10} {m:5d} {new:12.1f} {old:12.1f} {new / old:10.2f}"
    if dtype == "F32":
        n, k = map(int, weight.split("x"))
        rng = np.random.default_rng(0)
        x = rng.standard_normal((m, k), dtype=np.float32)
        w = rng.standard_normal((n, k), dtype=np.float32)
        y = np.empty((m, n), dtype=np.float32)
        np.matmul(x, w.T, out=y)
        best = float("inf")
        for _ in range(7):
            t0 = time.process_time(); np.matmul(x, w.T, out=y); best = min(best, time.process_time() - t0)
        npg = 2.0 * m * n * k / best / 1e9
        out += f" {npg:11.1f} {new / npg:9.2f}"
    print(out)
PY
  echo "== load after: $(uptime)"
  exit 0
fi
echo "== Corvus (JMH, $threads threads) =="
"$JAVA_HOME/bin/java" -jar "$jar" 'dev.corvus.jmh.LinearBenchmark.linear' -foe true \
  -p dtype="$dtypes" -p rows="$rows" -p weight="$weights" \
  -jvmArgsAppend "--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx6g -Dcorvus.threads=$threads" -rf json -rff "$out/jmh.json" > "$out/jmh.log" 2>&1 \
  || { tail -n 40 "$out/jmh.log"; exit 1; }
grep -E '^(Benchmark|LinearBenchmark)' "$out/jmh.log"
echo "== load after JMH: $(uptime)"

echo "== numpy (OpenBLAS, $threads threads) and ratios =="
# As in sgemm-vs-numpy.sh: pinned OpenBLAS tuning variables slow a current build, so they are unset.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" \
  python3 - "$out/jmh.json" <<'PY'
import json, sys, time
import numpy as np
scores = {}
for r in json.load(open(sys.argv[1])):
    p = r["params"]
    assert r["primaryMetric"]["scoreUnit"] == "ms/op"
    scores[(p["dtype"], p["weight"], int(p["rows"]), p["path"])] = r["primaryMetric"]["score"]
def numpy_gflops(m, n, k):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((n, k), dtype=np.float32)
    y = np.empty((m, n), dtype=np.float32)
    np.matmul(x, w.T, out=y)
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < 3 and len(times) < 2000):
        t0 = time.perf_counter(); np.matmul(x, w.T, out=y); times.append(time.perf_counter() - t0)
    return 2.0 * m * n * k / sorted(times)[len(times) // 2] / 1e9
print(f"{'dtype':>5} {'W NxK':>10} {'rows':>5} {'vector GF/s':>12} {'packed GF/s':>12} {'vec/packed':>10} {'numpy GF/s':>11} {'vec/numpy':>9}")
for (dtype, weight, m, path) in sorted(k for k in scores if k[3] == "vector"):
    n, k = map(int, weight.split("x"))
    gf = lambda ms: 2.0 * m * n * k / (ms / 1e3) / 1e9
    new, old = gf(scores[(dtype, weight, m, "vector")]), gf(scores[(dtype, weight, m, "packed")])
    line = f"{dtype:>5} {weight:>10} {m:5d} {new:12.1f} {old:12.1f} {new / old:10.2f}"
    if dtype == "F32":
        npg = numpy_gflops(m, n, k)
        line += f" {npg:11.1f} {new / npg:9.2f}"
    print(line)
PY
echo "== load after numpy: $(uptime)"
