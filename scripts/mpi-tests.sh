#!/usr/bin/env bash
# The MPI communicator's tests across processes: 4 ranks under mpirun, one JVM each.
#   1. equivalence: ring, StarTrail (every valid C) and Ulysses forward/backward, and the video
#      DiT's forward and rectified-flow training step (loss, every gradient) under DSP, Ulysses and
#      ring (STDiT and Latte) equal the single-device results on every rank, and every rank's bytes
#      equal CommVolume's / DitVolume's formulas;
#      the collectives equal plain sums (MpiEquivalenceMain; rank 0 prints "N passed, M failed").
#   2. fail-early: one rank exits before a collective; the others must fail with a CommException
#      within the communicator's timeout, and the job must end (not hang).
#   3. mismatch: ranks pass disagreeing shapes, dims, dtypes or collectives; every rank must fail
#      with a CommException naming both arguments, and the group must still work afterwards
#      (MpiMismatchMain; rank 0 prints "N passed, M failed").
#   4. sequence-parallel training: the tiny decoders' loss and every gradient (also of a sliding-window,
#      soft-capped family with a classifier bias) under ring, StarTrail
#      (every valid C) and Ulysses, and two whole Trainer steps, equal one device on every rank, and
#      every rank's bytes equal CommVolume's attention traffic plus the gradient all-reduce, also with
#      checkpointed blocks and gradient buckets that cut parameters (SequenceParallelMpiMain; rank 0
#      prints "N passed, M failed").
#   5. corvus train under mpirun -np 2 (with --checkpoint-blocks and 1 MiB gradient buckets): two
#      ring steps of stories15M on a fortunes excerpt end at the
#      held-out loss of the same command with --ranks 2 in one JVM, and every step's measured bytes
#      per rank equal the predicted ones (skipped when stories15M or fortunes are not in ~/.cache/corvus).
# Usage: scripts/mpi-tests.sh [-np N]   (N = 4 by default; needs openmpi-bin, libopenmpi-dev)
# Builds the test classes first (./mvnw test-compile, into $CORVUS_BUILD_DIR, default target).
set -euo pipefail
cd "$(dirname "$0")/.."
np=4
if [ "${1:-}" = "-np" ]; then np="$2"; shift 2; fi
build="${CORVUS_BUILD_DIR:-target}"

if ! command -v mpirun >/dev/null; then
  echo "mpi-tests: mpirun not found; install Open MPI (Debian/Ubuntu: apt-get install -y openmpi-bin libopenmpi-dev)" >&2
  exit 1
fi
if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
  for d in /usr/lib/jvm/*25*; do [ -x "$d/bin/java" ] && JAVA_HOME="$d" && break; done
fi
export JAVA_HOME

echo "mpi-tests: compiling the test classes"
./mvnw -q -B "-Dcorvus.buildDir=$build" -pl dit,train -am test-compile

assertj_version=$(sed -n 's:.*<assertj.version>\(.*\)</assertj.version>.*:\1:p' pom.xml)
repo="${MAVEN_REPO:-$HOME/.m2/repository}"
assertj="$repo/org/assertj/assertj-core/$assertj_version/assertj-core-$assertj_version.jar"
[ -f "$assertj" ] || { echo "mpi-tests: $assertj missing (the test-compile above should have fetched it)" >&2; exit 1; }
cp=""
for m in tensor vector-backend comm attention parallel dit chunking model train; do cp="$cp:$m/$build/classes:$m/$build/test-classes"; done
cp="${cp#:}:$assertj"

run_as_root=()
[ "$(id -u)" = "0" ] && run_as_root=(--allow-run-as-root)
# Open MPI installs signal handlers of its own; libjsig (the JDK's signal chaining) keeps the JVM's first.
jsig=()
[ -f "$JAVA_HOME/lib/libjsig.so" ] && jsig=(-x "LD_PRELOAD=$JAVA_HOME/lib/libjsig.so")
mpirun_base=(mpirun "${run_as_root[@]}" --oversubscribe "${jsig[@]}")
mpirun_cmd=("${mpirun_base[@]}" -np "$np")
java_cmd=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC
  -Xss4m -Xmx512m -Dcorvus.backend=vector -Dcorvus.comm=mpi -cp "$cp")
main=dev.corvus.dit.MpiEquivalenceMain
status=0

echo "mpi-tests: equivalence on $np ranks"
log=$(mktemp)
set +e
timeout 600 "${mpirun_cmd[@]}" "${java_cmd[@]}" -Dcorvus.mpi.timeoutSeconds=120 "$main" equivalence 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ] || ! grep -q '^[0-9]* passed, 0 failed$' "$log"; then
  echo "mpi-tests: equivalence FAILED (exit $rc)"; status=1
fi

echo "mpi-tests: a rank exits early; the others must fail within the 5 s timeout"
start=$(date +%s)
set +e
timeout 120 "${mpirun_cmd[@]}" "${java_cmd[@]}" -Dcorvus.mpi.timeoutSeconds=5 "$main" fail-early > "$log" 2>&1
rc=$?
set -e
cat "$log"
took=$(( $(date +%s) - start ))
survivors=$(grep -c 'failed as expected after .*allReduce on rank [0-9]* timed out after 5000 ms' "$log" || true)
if [ "$rc" = 124 ]; then
  echo "mpi-tests: fail-early HUNG (killed by timeout after $took s)"; status=1
elif [ "$rc" = 0 ]; then
  echo "mpi-tests: fail-early exited 0, expected a failure"; status=1
elif [ "$survivors" -lt 1 ]; then
  echo "mpi-tests: fail-early: no rank reported the expected timeout CommException"; status=1
else
  echo "mpi-tests: fail-early OK ($survivors of $((np - 1)) surviving ranks reported the timeout first; mpirun exit $rc; $took s)"
fi

echo "mpi-tests: ranks that disagree on a collective's arguments must all fail, naming them"
set +e
timeout 300 "${mpirun_cmd[@]}" "${java_cmd[@]}" -Dcorvus.mpi.timeoutSeconds=60 dev.corvus.comm.MpiMismatchMain 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ] || ! grep -q '^[0-9]* passed, 0 failed$' "$log"; then
  echo "mpi-tests: mismatch FAILED (exit $rc)"; status=1
fi
echo "mpi-tests: sequence-parallel training on $np ranks"
set +e
timeout 600 "${mpirun_cmd[@]}" "${java_cmd[@]}" -Dcorvus.mpi.timeoutSeconds=120 dev.corvus.train.SequenceParallelMpiMain 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ] || ! grep -q '^[0-9]* passed, 0 failed$' "$log"; then
  echo "mpi-tests: sequence-parallel training FAILED (exit $rc)"; status=1
fi
model="$HOME/.cache/corvus/stories15M/stories15M.bin" fortunes="$HOME/.cache/corvus/data/fortunes.txt"
if [ -f "$model" ] && [ -f "$fortunes" ]; then
  echo "mpi-tests: corvus train under mpirun -np 2 against --ranks 2 in one JVM"
  ./mvnw -q -B "-Dcorvus.buildDir=$build" -pl cli -am package -DskipTests
  work=$(mktemp -d)
  head -c 20000 "$fortunes" > "$work/fortunes.txt"
  mkdir "$work/mpi" "$work/jvm"
  train_cmd=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx1g -jar "cli/$build/corvus.jar" train
    --model "$model" --data "$work/fortunes.txt" --seq-len 64 --steps 2 --lr 1e-4 --validation-sequences 2 --validate-every 0 --seed 7
    --checkpoint-blocks --bucket-mib 1)
  set +e
  CORVUS_NO_PROGRESS=1 timeout 300 "${mpirun_base[@]}" -np 2 "${train_cmd[@]}" --out "$work/mpi/tuned.gguf" > "$work/mpi.log" 2>&1
  rc_mpi=$?
  CORVUS_NO_PROGRESS=1 timeout 300 "${train_cmd[@]}" --ranks 2 --out "$work/jvm/tuned.gguf" > "$work/jvm.log" 2>&1
  rc_jvm=$?
  set -e
  grep -v WARNING "$work/mpi.log"
  loss_mpi=$(sed -n 's/.*held-out loss [0-9.]* -> \([0-9.]*\) .*/\1/p' "$work/mpi.log")
  loss_jvm=$(sed -n 's/.*held-out loss [0-9.]* -> \([0-9.]*\) .*/\1/p' "$work/jvm.log")
  bytes_ok=$(grep -c 'MiB/rank (predicted' "$work/mpi.log" || true)
  bytes_bad=$(grep 'MiB/rank (predicted' "$work/mpi.log" | sed 's/.*, \([0-9.]*\) MiB\/rank (predicted \([0-9.]*\))/\1 \2/' | awk '$1 != $2' | wc -l)
  if [ "$rc_mpi" != 0 ] || [ "$rc_jvm" != 0 ] || [ -z "$loss_mpi" ] || [ -z "$loss_jvm" ]; then
    echo "mpi-tests: corvus train FAILED (mpirun exit $rc_mpi, in-JVM exit $rc_jvm)"; cat "$work/jvm.log"; status=1
  elif ! awk -v a="$loss_mpi" -v b="$loss_jvm" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }'; then
    echo "mpi-tests: corvus train FAILED: held-out loss $loss_mpi under mpirun, $loss_jvm in one JVM"; status=1
  elif [ "$bytes_ok" != 2 ] || [ "$bytes_bad" != 0 ]; then
    echo "mpi-tests: corvus train FAILED: expected 2 steps whose measured bytes equal the predicted ones"; status=1
  else
    same=$(cmp -s "$work/mpi/tuned.gguf" "$work/jvm/tuned.gguf" && echo "byte-identical GGUFs" || echo "GGUFs differ in bits")
    echo "mpi-tests: corvus train OK (held-out loss $loss_mpi under mpirun, $loss_jvm in one JVM; $same)"
  fi
  rm -rf "$work"
else
  echo "mpi-tests: corvus train under mpirun skipped: $model or $fortunes missing (scripts/training-data.sh fetches fortunes)"
fi
rm -f "$log"
exit $status
