#!/usr/bin/env bash
# Serving throughput, corvus serve against llama.cpp's llama-server on the same GGUF file, with the
# same prompts, token budget and concurrency, in one run (a measurement, not a test): aggregate
# generated tok/s and time to first token at 1, 4, 8 and 16 concurrent streams (each stream sends
# --requests-per-stream streamed /v1/completions requests of --max-tokens tokens, temperature 0).
# The servers run one after the other, never side by side, each with the same thread count.
# Usage: scripts/bench-serve.sh [MODEL.gguf]   (default: stories15M converted to a Q8_0 GGUF)
# Env: CONCURRENCY (1,4,8,16), REQUESTS_PER_STREAM (4), MAX_TOKENS (128), THREADS (nproc),
#      CTX (per stream, default 256: stories15M's context), PORT_BASE (18080).
# Prints a TSV table: server, streams, requests, tokens, seconds, tok/s, TTFT mean/p50/p90 ms.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
CONCURRENCY="${CONCURRENCY:-1,4,8,16}"
REQUESTS_PER_STREAM="${REQUESTS_PER_STREAM:-4}"
MAX_TOKENS="${MAX_TOKENS:-128}"
THREADS="${THREADS:-$(nproc)}"
CTX="${CTX:-256}"
PORT_BASE="${PORT_BASE:-18080}"
max_streams="$(tr ',' '\n' <<<"$CONCURRENCY" | sort -n | tail -1)"

llama="$("$root/scripts/llama-cpp.sh" --server)"
model="${1:-}"
if [ -z "$model" ]; then
  "$root/scripts/fetch-model.sh" >/dev/null
  model="$CACHE/bench-serve/stories15M-q8_0.gguf"
  if [ ! -f "$model" ]; then
    mkdir -p "$(dirname "$model")"
    "$root/corvus" convert "$CACHE/stories15M/stories15M.bin" "$model" --dtype q8_0 >&2
  fi
fi
[ -f "$model" ] || { echo "bench-serve.sh: $model does not exist" >&2; exit 1; }
name="$(basename "$model" .gguf)"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_healthy() { # url pid log
  for _ in $(seq 1 600); do
    if curl -fsS "$1/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "bench-serve.sh: the server exited; its log:" >&2; tail -20 "$3" >&2; exit 1; }
    sleep 0.2
  done
  echo "bench-serve.sh: $1 not healthy after 120 s" >&2; exit 1
}

run() { # server-name url
  python3 "$root/scripts/bench_serve.py" --url "$2" --model "$name" --name "$1" --concurrency "$CONCURRENCY" \
    --requests-per-stream "$REQUESTS_PER_STREAM" --max-tokens "$MAX_TOKENS"
}

logs="$(mktemp -d)"
echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); model $model;" \
  "$MAX_TOKENS tokens per request, $REQUESTS_PER_STREAM requests per stream, $THREADS threads"
printf 'server\tstreams\trequests\ttokens\tseconds\ttok/s\tttft_mean_ms\tttft_p50_ms\tttft_p90_ms\n'

# corvus serve: --max-batch streams decode together, each with CTX positions
port=$PORT_BASE
"$root/corvus" serve --model "$model" --alias "$name" --port "$port" --ctx "$CTX" --max-batch "$max_streams" --max-queue 64 \
  --threads "$THREADS" >"$logs/corvus.log" 2>&1 &
pids+=($!)
wait_healthy "http://127.0.0.1:$port" "${pids[-1]}" "$logs/corvus.log"
run corvus "http://127.0.0.1:$port"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; pids=()

# llama-server: --parallel slots share -c, so each gets CTX positions as corvus's streams do
port=$((PORT_BASE + 1))
"$llama/build/bin/llama-server" -m "$model" --alias "$name" --port "$port" --host 127.0.0.1 -c $((CTX * max_streams)) \
  --parallel "$max_streams" --threads "$THREADS" --no-webui >"$logs/llama-server.log" 2>&1 &
pids+=($!)
wait_healthy "http://127.0.0.1:$port" "${pids[-1]}" "$logs/llama-server.log"
run llama-server "http://127.0.0.1:$port"
rm -rf "$logs"
