#!/usr/bin/env bash
# Builds (once) llama.cpp, the oracle for the GGUF conformance suite, and prints its directory.
# Source: npm node-llama-cpp@3.21.1 (MIT), which carries llama.cpp's whole tree as a git bundle.
# Cache: $CORVUS_CACHE, else ~/.cache/corvus, then llama.cpp-<tag>/ with build/bin/ holding
# llama-quantize, llama-bench, llama-perplexity, llama-server (the baseline of scripts/bench-serve.sh)
# and libllama.so, plus corvus-logits (our test tool, src/test/c/corvus_logits.c in model/, built
# against llama.h). About 7 minutes on 2 cores the first time; seconds after. A build made before
# llama-server was added gains it alone (the server's sources and mtmd; the rest is up to date),
# without its web UI (no download of prebuilt assets). Needs npm, git, cmake, a C/C++ compiler.
# CORVUS_LLAMA_CPP, when set, names a llama.cpp source tree to use instead of the npm one (its
# build/bin is built when missing).
# Usage: scripts/llama-cpp.sh            builds if needed, prints the directory on stdout
#        scripts/llama-cpp.sh --server   also llama-server (scripts/bench-serve.sh; no test needs it,
#                                        so CI does not pay its ~10 minutes of compiling)
set -euo pipefail
extra_targets=""
if [ "${1:-}" = "--server" ]; then extra_targets="llama-server"; shift; fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
PKG=node-llama-cpp@3.21.1
mkdir -p "$CACHE"

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "llama-cpp.sh: '$tool' not found; install it (apt-get install -y npm git cmake build-essential)" >&2; exit 1; }
  done
}

src_marker="$CACHE/llama.cpp-src.ok"
if [ -n "${CORVUS_LLAMA_CPP:-}" ]; then
  [ -d "$CORVUS_LLAMA_CPP/include" ] || { echo "llama-cpp.sh: CORVUS_LLAMA_CPP=$CORVUS_LLAMA_CPP is not a llama.cpp source tree (no include/)" >&2; exit 1; }
elif [ ! -f "$src_marker" ] || [ ! -d "$(cat "$src_marker" 2>/dev/null)" ]; then
  need npm git python3
  work="$(mktemp -d "$CACHE/llama-fetch.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "llama-cpp.sh: fetching $PKG from npm..." >&2
  timeout 600 npm pack "$PKG" --pack-destination "$work" --loglevel=error >/dev/null
  tar -xzf "$work"/node-llama-cpp-*.tgz -C "$work" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
  tag="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tag"])' "$work/package/llama/llama.cpp.info.json")"
  dir="$CACHE/llama.cpp-$tag"
  if [ ! -d "$dir/.git" ]; then
    rm -rf "$dir.tmp"
    git clone -q "$work/package/llama/gitRelease.bundle" "$dir.tmp"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir" > "$src_marker.tmp" && mv "$src_marker.tmp" "$src_marker"
  rm -rf "$work"; trap - EXIT
fi
dir="${CORVUS_LLAMA_CPP:-$(cat "$src_marker")}"

tool_src="$root/model/src/test/c/corvus_logits.c"
# -march=native, but without AMX: on a Xeon VM that advertises AMX (amx_tile, amx_int8 in
# /proc/cpuinfo) ggml's AMX path died at its first tile instruction (ldtilecfg, SIGSEGV) when
# llama.cpp ran a Q4_0 model, seen 2026-12-03; Corvus does not use AMX either, so the oracle and
# the speed baseline stay comparable. The flags are stamped into the build so a change rebuilds it.
cpu_flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
stamp="$dir/build/corvus-build-flags"
need_build=0
for t in llama-quantize llama-bench llama-perplexity $extra_targets; do [ -x "$dir/build/bin/$t" ] || need_build=1; done
[ "$(cat "$stamp" 2>/dev/null)" = "$cpu_flags" ] || need_build=1
if [ "$need_build" = 1 ]; then
  need cmake cc c++
  echo "llama-cpp.sh: building llama.cpp in $dir (about 7 minutes on 2 cores)..." >&2
  (cd "$dir" &&
   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
     -DCMAKE_C_FLAGS="$cpu_flags" -DCMAKE_CXX_FLAGS="$cpu_flags" \
     -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
     -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
     -DBUILD_SHARED_LIBS=ON >/dev/null &&
   cmake --build build -j"$(nproc)" --target llama-quantize llama-bench llama-perplexity $extra_targets llama >&2 &&
   echo "$cpu_flags" > "$stamp")
fi
if [ -f "$tool_src" ] && { [ ! -x "$dir/build/bin/corvus-logits" ] || [ "$tool_src" -nt "$dir/build/bin/corvus-logits" ]; }; then
  need cc
  cc -O2 -Wall -Wextra -o "$dir/build/bin/corvus-logits.tmp" "$tool_src" -I"$dir/include" -I"$dir/ggml/include" \
    -L"$dir/build/bin" -lllama -lggml -lggml-base -Wl,-rpath,"$dir/build/bin"
  mv "$dir/build/bin/corvus-logits.tmp" "$dir/build/bin/corvus-logits"
fi
echo "$dir"
