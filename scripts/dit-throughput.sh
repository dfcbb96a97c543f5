#!/usr/bin/env bash
# The video DiT's throughput benchmark: training steps of a small STDiT under DSP, Ulysses and ring
# for P in {1, 2, 4, 8} in-JVM ranks over several clip sizes (step time of the slowest rank, bytes
# per rank checked against DitVolume, activations, JVM peak), then a labelled projection of
# training throughput to a cluster (P = 8-64, 100-400 Gb/s) beside the DSP paper's claim.
# In-JVM ranks are threads on this machine's cores: the P > 1 times are not a speed-up.
# Usage: scripts/dit-throughput.sh [frames:size ...] [--steps N]   (default 16:32 32:32 16:64, 3 steps)
# Builds the test classes first (./mvnw test-compile, into $CORVUS_BUILD_DIR, default target).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${CORVUS_BUILD_DIR:-target}"
if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
  for d in /usr/lib/jvm/*25*; do [ -x "$d/bin/java" ] && JAVA_HOME="$d" && break; done
fi
export JAVA_HOME
echo "dit-throughput: compiling the test classes" >&2
./mvnw -q -B ${MAVEN_OFFLINE:+-o} "-Dcorvus.buildDir=$build" -pl dit -am test-compile >&2
cp=""
for m in tensor vector-backend comm attention parallel chunking opencl-backend model train dit; do cp="$cp:$m/$build/classes"; done
cp="${cp#:}:dit/$build/test-classes"
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx4g -Dcorvus.backend=vector \
  -cp "$cp" dev.corvus.dit.DitThroughputMain "$@"
