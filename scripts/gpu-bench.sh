#!/usr/bin/env bash
# Prepares the OpenCL benchmark (jmh OpenClBenchmark) for a borrowed GPU machine that has no JDK
# and no network, and prints the command to run there.
#
#   1. builds jmh/<buildDir>/benchmarks.jar (./mvnw -o -DskipTests -pl jmh -am package),
#   2. jlinks a self-contained runtime into jmh/<buildDir>/gpu-jre with the modules the jar needs
#      (jdeps says java.base, java.logging, java.management, jdk.incubator.vector, jdk.unsupported;
#      plus java.desktop for an unused commons-math3 geometry class, left out), and puts next to it
#      this machine's OpenCL ICD loader (libOpenCL.so.1) and an ICD file naming NVIDIA's driver, used
#      there only when the GPU machine lacks them,
#   3. prints the carry list and the command for the GPU-lending tool (its `run`: it copies the
#      working tree plus the carried ignored paths, at most 64 MiB, and collects $OUT),
#   4. with --check, runs the jar on the jlinked runtime against this machine's OpenCL device
#      (PoCL) for about a second, to prove the runtime is complete.
#
# Usage: scripts/gpu-bench.sh [--check] [--skip-build]
# Env:   JAVA_HOME (a JDK 25 with jlink; default /usr/lib/jvm/temurin-25-jdk-amd64),
#        BUILD_DIR (Maven output folder, default target; -Dcorvus.buildDir).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
BUILD_DIR="${BUILD_DIR:-target}"
CHECK=0
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    --skip-build) BUILD=0 ;;
    *) echo "usage: $0 [--check] [--skip-build]" >&2; exit 2 ;;
  esac
done

OUTDIR="jmh/$BUILD_DIR"                # relative to the repository root (the run tool's cwd)
JAR="$OUTDIR/benchmarks.jar"
JRE="$OUTDIR/gpu-jre"
MODULES=java.base,java.logging,java.management,jdk.incubator.vector,jdk.unsupported

cd "$ROOT"
if [ "$BUILD" = 1 ]; then
  echo "== building $JAR"
  JAVA_HOME="$JAVA_HOME" ./mvnw -q -o -B -Dcorvus.buildDir="$BUILD_DIR" -DskipTests -pl jmh -am package
fi
[ -f "$JAR" ] || { echo "no $JAR; build it first (drop --skip-build)" >&2; exit 1; }

# The jar must need nothing beyond MODULES (java.desktop: commons-math3 geometry, never loaded).
NEEDED="$("$JAVA_HOME/bin/jdeps" --ignore-missing-deps --multi-release 25 --print-module-deps "$JAR")"
for m in ${NEEDED//,/ }; do
  case ",$MODULES,java.desktop," in
    *",$m,"*) ;;
    *) echo "benchmarks.jar now needs module $m (jdeps: $NEEDED); add it to MODULES in $0" >&2; exit 1 ;;
  esac
done

echo "== jlink $MODULES -> $JRE"
rm -rf "$JRE"
"$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --output "$JRE" \
  --strip-debug --no-header-files --no-man-pages --compress=zip-6
mkdir -p "$JRE/opencl/vendors"
LOADER="$(/sbin/ldconfig -p 2>/dev/null | awk '/libOpenCL\.so\.1 .*x86-64/ {print $NF; exit}')"
if [ -n "$LOADER" ]; then
  cp -L "$LOADER" "$JRE/opencl/libOpenCL.so.1"
else
  echo "note: no libOpenCL.so.1 here to carry; the GPU machine must have an OpenCL ICD loader" >&2
fi
echo "libnvidia-opencl.so.1" > "$JRE/opencl/vendors/nvidia.icd"

SIZE_KB=$(du -sk "$JAR" "$JRE" | awk '{s += $1} END {print s}')
echo "== carry size: $((SIZE_KB / 1024)) MiB (limit 64 MiB)"
if [ "$SIZE_KB" -gt $((64 * 1024)) ]; then echo "too large to carry" >&2; exit 1; fi

# On the GPU machine: use its OpenCL loader and vendor files when it has them, else the carried
# ones; list the platforms JMH will see; run the benchmark; keep the JSON and the log in $OUT.
REMOTE="set -o pipefail; O=$JRE/opencl; /sbin/ldconfig -p | grep -q libOpenCL.so.1 || export LD_LIBRARY_PATH=\$PWD/\$O; \
ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 || export OCL_ICD_VENDORS=\$PWD/\$O/vendors; nvidia-smi -L; \
$JRE/bin/java -Djmh.ignoreLock=true -jar $JAR OpenClBenchmark -f 1 -wi 2 -i 3 \
-rf json -rff \$OUT/opencl-bench.json 2>&1 | tee \$OUT/opencl-bench.txt"

echo
echo "== for the GPU-lending tool (run): carry and command"
echo "carry:   [\"$JAR\", \"$JRE\"]"
echo "command: $REMOTE"
echo "(-p clDevice=opencl:P:D picks another OpenCL device; \"opencl\" is the first GPU, else the first device.)"

if [ "$CHECK" = 1 ]; then
  echo
  echo "== check: the jlinked runtime runs the OpenCL benchmark here (one short iteration)"
  "$JRE/bin/java" -Djmh.ignoreLock=true -jar "$JAR" 'OpenClBenchmark.gemv4096Q8' -p backend=opencl \
    -f 1 -wi 0 -i 1 -r 1 2>&1 | grep -E '^# OpenCL device|^OpenClBenchmark|^Benchmark|Exception|ERROR' 
fi
