#!/usr/bin/env bash
# Corvus SGEMM (JMH, Vector API backend) and numpy's float32 matmul (OpenBLAS) on the same shapes,
# in one run, with the ratio of medians. Usage: jmh/sgemm-vs-numpy.sh [threads] [shapes...]
# Shapes are MxKxN; default: 256, 512, 1024 and 2048 cubed and two transformer shapes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads="${1:-2}"; shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(256x256x256 512x512x512 1024x1024x1024 2048x2048x2048 512x288x768 1x4096x4096)

if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"25'; then
  JAVA_HOME="$(ls -d /usr/lib/jvm/*25* | head -n 1)"; export JAVA_HOME
fi
jar="$root/jmh/target/benchmarks.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$root" -path '*/src/main/*' -newer "$jar" -print -quit)" ]; then
  (cd "$root" && ./mvnw -q -B -DskipTests -pl jmh -am package)
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== Corvus (JMH, $threads threads) =="
"$JAVA_HOME/bin/java" -jar "$jar" 'dev.corvus.jmh.GemmBenchmark.gemm' -foe true \
  -p shape="$(IFS=,; echo "${shapes[*]}")" -jvmArgsAppend "--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx4g -Dcorvus.threads=$threads" \
  -rf json -rff "$out/jmh.json" > "$out/jmh.log" 2>&1 || { tail -n 40 "$out/jmh.log"; exit 1; }
grep -E '^(Benchmark|GemmBenchmark)' "$out/jmh.log" | tail -n +1

echo "== numpy (OpenBLAS, $threads threads) =="
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be pinned on this machine for old OpenBLAS builds; they
# slow a current one, so the baseline runs without them.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" \
  python3 - "$out/jmh.json" "${shapes[@]}" <<'PY'
import json, sys, time
import numpy as np
jmh = {r["params"]["shape"]: r["primaryMetric"] for r in json.load(open(sys.argv[1]))}
print(f"{'shape MxKxN':>16} {'corvus GFLOP/s':>15} {'numpy GFLOP/s':>14} {'ratio':>6}")
for shape in sys.argv[2:]:
    m, k, n = map(int, shape.split("x"))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.empty((m, n), dtype=np.float32)
    flops = 2.0 * m * k * n
    np.matmul(a, b, out=c)
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < 5 and len(times) < 2000):
        t0 = time.perf_counter(); np.matmul(a, b, out=c); times.append(time.perf_counter() - t0)
    numpy_gf = flops / sorted(times)[len(times) // 2] / 1e9
    r = jmh[shape]
    ms = r["score"] if r["scoreUnit"] == "ms/op" else None
    pct = r.get("scorePercentiles", {})
    med_ms = pct.get("50.0", ms)
    corvus_gf = flops / (med_ms / 1e3) / 1e9
    print(f"{shape:>16} {corvus_gf:15.1f} {numpy_gf:14.1f} {corvus_gf / numpy_gf:6.2f}")
PY
