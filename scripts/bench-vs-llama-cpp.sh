#!/usr/bin/env bash
# Corvus against llama.cpp on the same GGUF files, in one run: llama-bench and `corvus bench` (which
# mirrors llama-bench's tests: ppP = one P-token prompt from an empty cache, tgN = N single-token
# decodes, "@ dD" = after D cached positions), then one table of both speeds and their ratio, with
# the machine (CPU model, cores, threads) and the load average before and after each model. The
# machine should be quiet: on a loaded one both sides slow down, and only the ratios mean much.
#
# Models (built once, cached in $CORVUS_CACHE/bench, else ~/.cache/corvus/bench):
#   stories15M-f32, stories15M-q8_0   TinyStories 15M (scripts/fetch-model.sh) by `corvus convert`
#   stories15M-q4_0, stories15M-q4_k_m  the F32 GGUF through llama-quantize
#   llama1b-f16                       Llama 3.2 1B shape, random weights, real Llama 3 vocabulary
#                                     (scripts/bench-llama-1b.py; 2.3 GiB, a few minutes)
#   llama1b-q8_0, llama1b-q4_0, llama1b-q4_k_m  llama1b-f16 through llama-quantize
# Groups: stories = the four stories15M files (default), 1b = the three quantised llama1b files.
#
# Usage: scripts/bench-vs-llama-cpp.sh [--models LIST] [-p 64,512] [-n 128] [-d 0] [-t 2] [-r 5]
#   LIST is comma-separated names or groups. A size that does not fit a model's context at a depth
#   (256 positions for stories15M, 8192 for llama1b) is left out there. For the long-context target:
#   scripts/bench-vs-llama-cpp.sh --models llama1b-q8_0 -p 0 -n 128 -d 4096
# Needs what scripts/llama-cpp.sh needs (it builds llama.cpp once), python3 with numpy for llama1b.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
BENCH="$CACHE/bench"

models=stories prompts=64,512 gens=128 depths=0 threads="$(nproc)" reps=5
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    -p) prompts="$2"; shift 2 ;;
    -n) gens="$2"; shift 2 ;;
    -d) depths="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    -r) reps="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-vs-llama-cpp: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

llama="$("$root/scripts/llama-cpp.sh")/build/bin"
for t in llama-bench llama-quantize; do
  [ -x "$llama/$t" ] || { echo "bench-vs-llama-cpp: $llama/$t is missing after scripts/llama-cpp.sh" >&2; exit 1; }
done
mkdir -p "$BENCH"

expand() {
  local name
  for name in ${1//,/ }; do
    case "$name" in
      stories) echo stories15M-f32 stories15M-q8_0 stories15M-q4_0 stories15M-q4_k_m ;;
      1b) echo llama1b-q8_0 llama1b-q4_0 llama1b-q4_k_m ;;
      stories15M-f32|stories15M-q8_0|stories15M-q4_0|stories15M-q4_k_m|llama1b-f16|llama1b-q8_0|llama1b-q4_0|llama1b-q4_k_m) echo "$name" ;;
      *) echo "bench-vs-llama-cpp: unknown model '$name' (see --help)" >&2; exit 2 ;;
    esac
  done
}

context() { case "$1" in stories15M-*) echo 256 ;; llama1b-*) echo 8192 ;; esac; }

quantize() { # SRC DST TYPE
  echo "bench-vs-llama-cpp: llama-quantize $(basename "$1") -> $3" >&2
  "$llama/llama-quantize" "$1" "$2.tmp" "$3" "$(nproc)" >"$BENCH/quantize.log" 2>&1 ||
    { echo "bench-vs-llama-cpp: llama-quantize failed, see $BENCH/quantize.log" >&2; exit 1; }
  mv "$2.tmp" "$2"
}

# Path of a model file, made on first use.
model_file() {
  local name="$1" f="$BENCH/$1.gguf"
  if [ ! -f "$f" ]; then
    case "$name" in
      stories15M-f32|stories15M-q8_0)
        "$root/scripts/fetch-model.sh" >&2
        "$root/corvus" convert "$CACHE/stories15M/stories15M.bin" "$f.tmp.gguf" --dtype "${name#stories15M-}" --force >&2
        mv "$f.tmp.gguf" "$f" ;;
      stories15M-q4_0) quantize "$(model_file stories15M-f32)" "$f" Q4_0 ;;
      stories15M-q4_k_m) quantize "$(model_file stories15M-f32)" "$f" Q4_K_M ;;
      llama1b-f16) python3 "$root/scripts/bench-llama-1b.py" "$f" "$(dirname "$llama")/.." >&2 ;;
      llama1b-q8_0) quantize "$(model_file llama1b-f16)" "$f" Q8_0 ;;
      llama1b-q4_0) quantize "$(model_file llama1b-f16)" "$f" Q4_0 ;;
      llama1b-q4_k_m) quantize "$(model_file llama1b-f16)" "$f" Q4_K_M ;;
    esac
  fi
  echo "$f"
}

# llama-bench arguments, one line per depth, holding the -p and -n sizes that fit a model's context
# at that depth (llama-bench runs the cross product of its lists, so each depth gets its own call).
fitting_args() {
  local ctx="$1" d p n ps ns
  for d in ${depths//,/ }; do
    ps="" ns=""
    for p in ${prompts//,/ }; do [ $((d + p)) -le "$ctx" ] && ps="${ps:+$ps,}$p"; done
    for n in ${gens//,/ }; do [ $((d + n)) -le "$ctx" ] && ns="${ns:+$ns,}$n"; done
    [ -n "$ps$ns" ] && echo "-p ${ps:-0} -n ${ns:-0} -d $d"
  done
  return 0
}

# "test<TAB>mean<TAB>sd" per row of a llama-bench markdown table on stdin.
rows() {
  awk -F'|' '/^\| / && $0 !~ /^\| model/ && $0 !~ /^\| -/ {
    test = $7; ts = $8; gsub(/^ +| +$/, "", test); gsub(/^ +| +$/, "", ts)
    split(ts, v, " ± "); printf "%s\t%s\t%s\n", test, v[1], v[2] }'
}

cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
summary="$(mktemp)"; trap 'rm -f "$summary"' EXIT
echo "machine: $cpu, $(nproc) CPUs ($(lscpu | sed -n 's/^Thread(s) per core: *//p') threads per core), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: -p $prompts -n $gens -d $depths -t $threads -r $reps"
for name in $(expand "$models"); do
  file="$(model_file "$name")"
  calls="$(fitting_args "$(context "$name")")"
  if [ -z "$calls" ]; then echo "bench-vs-llama-cpp: no test fits $name's context of $(context "$name"); skipped" >&2; continue; fi
  load_before="$(cut -d' ' -f1 /proc/loadavg)"
  : >"$BENCH/$name.llama.md"; : >"$BENCH/$name.corvus.md"
  while read -r args; do
    echo "== $name: llama-bench $args -t $threads -r $reps" >&2
    # shellcheck disable=SC2086
    "$llama/llama-bench" -m "$file" $args -t "$threads" -r "$reps" -o md 2>"$BENCH/llama-bench.log" | tee -a "$BENCH/$name.llama.md" >&2 ||
      { echo "bench-vs-llama-cpp: llama-bench failed on $name, see $BENCH/llama-bench.log" >&2; exit 1; }
    echo "== $name: corvus bench $args -t $threads -r $reps" >&2
    # three warm-up runs: the JVM's first passes are interpreted and profiled until C2 has compiled the kernels
    # shellcheck disable=SC2086
    "$root/corvus" bench --model "$file" $args -t "$threads" -r "$reps" --warmup 3 | tee -a "$BENCH/$name.corvus.md" >&2
  done <<<"$calls"
  load_after="$(cut -d' ' -f1 /proc/loadavg)"
  # llama-bench's rows in its order, each with corvus's row of the same test
  awk -F'\t' -v m="$name" -v l="$load_before→$load_after" 'NR == FNR { c[$1] = $2 "\t" $3; next }
    ($1 in c) { split(c[$1], v, "\t"); printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m, $1, $2, $3, v[1], v[2], l }' \
    <(rows <"$BENCH/$name.corvus.md") <(rows <"$BENCH/$name.llama.md") >>"$summary"
done

echo
printf '| %-18s | %-15s | %20s | %20s | %16s | %-11s |\n' model test "llama.cpp t/s" "corvus t/s" "corvus/llama.cpp" "load 1 min"
printf '| %s | %s | %s: | %s: | %s: | %s |\n' "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..19})" \
  "$(printf -- '-%.0s' {1..19})" "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..11})"
# %21s: printf pads bytes, and ± is two of them in UTF-8
while IFS=$'\t' read -r m test lm lsd cm csd load; do
  printf '| %-18s | %-15s | %21s | %21s | %16.2f | %-11s |\n' "$m" "$test" "$lm ± $lsd" "$cm ± $csd" "$(awk -v a="$cm" -v b="$lm" 'BEGIN { print a / b }')" "$load"
done <"$summary"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
