#!/usr/bin/env bash
# Generates (once) the GGUF conformance set with scripts/conformance_models.py and prints its
# directory: $CORVUS_CACHE (else ~/.cache/corvus)/conformance/<hash>, the hash taken over the
# generator and the llama.cpp version, so the set is rebuilt only when either changes. Builds the
# oracle first (scripts/llama-cpp.sh), and checks that llama.cpp loads and runs every file it
# wrote (corvus-logits on the test's tokens): a file llama.cpp rejects is a bug in the generator.
# About 3 CPU-minutes the first time (860 MB; sets of other generator versions are removed);
# instant after. Needs python3 with numpy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
llama="$("$root/scripts/llama-cpp.sh")"
gen="$root/scripts/conformance_models.py"
python3 -c 'import numpy' 2>/dev/null || { echo "conformance-models.sh: python3 with numpy is needed (apt-get install -y python3-numpy)" >&2; exit 1; }

hash="$( { sha256sum < "$gen"; basename "$llama"; } | sha256sum | cut -c1-16)"
out="$CACHE/conformance/$hash"
if [ -f "$out/manifest.tsv" ]; then echo "$out"; exit 0; fi

tmp="$(mktemp -d "$CACHE/conformance/.gen.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE/conformance"; mktemp -d "$CACHE/conformance/.gen.XXXXXX"; })"
trap 'rm -rf "$tmp"' EXIT
echo "conformance-models.sh: generating the conformance models into $out (a few minutes)..." >&2
python3 "$gen" --llama-cpp "$llama" --out "$tmp"
tail -n +2 "$tmp/manifest.tsv" | while IFS=$'\t' read -r model arch vocab variant file tokens reference; do
  if ! err="$("$llama/build/bin/corvus-logits" -m "$tmp/$file" -t "$tokens" 2>&1)"; then
    echo "conformance-models.sh: llama.cpp rejects $file ($arch, $vocab vocabulary, $variant): $err" >&2
    exit 1
  fi
done
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
# sets made by earlier versions of the generator are 860 MB each; keep only this one
find "$CACHE/conformance" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" ! -name '.gen.*' -exec rm -rf {} +
echo "$out"
