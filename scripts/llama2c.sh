#!/usr/bin/env bash
# Builds (once) llama2.c's `run` (github.com/karpathy/llama2.c, MIT, pinned commit below), the
# whole-process baseline for the main job `corvus generate` (issue 13: wall time <= 2x, peak RSS
# <= 3x), with the flags its README recommends for speed: gcc -Ofast -fopenmp -march=native.
# Cache: $CORVUS_CACHE, else ~/.cache/corvus, then llama2.c/run. Needs git (or run.c put there by
# hand: the one file is all it builds from) and gcc with OpenMP. No test needs it, so CI does not
# build it. Prints the path of the binary.
#
# The comparison, after scripts/fetch-model.sh (2 threads, as Corvus's pool on a 2-core machine):
#   m=~/.cache/corvus/stories15M
#   OMP_NUM_THREADS=2 /usr/bin/time -f '%e s %M KiB' "$(scripts/llama2c.sh)" $m/stories15M.bin \
#       -z $m/tokenizer.bin -n 256 -i "Once upon a time" -t 0 >/dev/null
#   /usr/bin/time -f '%e s %M KiB' ./corvus generate "Once upon a time" --steps 256 --temperature 0 >/dev/null
set -euo pipefail
CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
COMMIT=350e04fe35433e6d2941dce5a1f53308f87058eb
dir="$CACHE/llama2.c"
if [ -x "$dir/run" ] && [ "$(cat "$dir/commit" 2>/dev/null)" = "$COMMIT" ]; then echo "$dir/run"; exit 0; fi
command -v gcc >/dev/null || { echo "llama2c.sh: gcc not found (apt-get install -y build-essential)" >&2; exit 1; }
mkdir -p "$dir"
if [ ! -f "$dir/run.c" ]; then
  command -v git >/dev/null || { echo "llama2c.sh: git not found, and no $dir/run.c to build from" >&2; exit 1; }
  work="$(mktemp -d "$dir/fetch.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  git -C "$work" init -q
  git -C "$work" fetch -q --depth 1 https://github.com/karpathy/llama2.c "$COMMIT"
  git -C "$work" show FETCH_HEAD:run.c > "$dir/run.c.tmp" && mv "$dir/run.c.tmp" "$dir/run.c"
fi
gcc -Ofast -fopenmp -march=native "$dir/run.c" -lm -o "$dir/run.tmp"
mv "$dir/run.tmp" "$dir/run"
echo "$COMMIT" > "$dir/commit"
echo "$dir/run"
