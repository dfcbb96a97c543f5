#!/usr/bin/env bash
# Puts real English text for training into the Corvus cache without root: Debian's fortune
# cookie databases (packages fortunes and fortunes-min, fetched with apt-get download and
# unpacked with dpkg-deb -x, nothing installed), concatenated into one UTF-8 file with each
# fortune a document: the "%" lines that separate fortunes become blank lines, which is where
# TokenDataset ends a document. Writes $CORVUS_CACHE/data/fortunes.txt (else ~/.cache/corvus/...)
# atomically; does nothing when the file is already there (--force makes it again).
# Needs apt-get (with package lists: run apt-get update once), dpkg-deb, iconv.
set -euo pipefail

CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
DIR="$CACHE/data"
OUT="$DIR/fortunes.txt"

if [ -s "$OUT" ] && [ "${1:-}" != "--force" ]; then
  echo "training text already in $OUT ($(wc -c < "$OUT") bytes)"
  exit 0
fi

mkdir -p "$DIR"
WORK="$(mktemp -d "$DIR/fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# apt warns that root downloads unsandboxed into a folder its _apt user cannot enter; that is expected here
(cd "$WORK" && apt-get download fortunes fortunes-min 2> >(grep -v 'unsandboxed' >&2) >/dev/null) || {
  echo "apt-get download fortunes fortunes-min failed; run 'apt-get update' once (as root) so apt knows the packages" >&2
  exit 1
}
for deb in "$WORK"/*.deb; do dpkg-deb -x "$deb" "$WORK/root"; done

SRC="$WORK/root/usr/share/games/fortunes"
[ -d "$SRC" ] || { echo "the packages hold no $SRC" >&2; exit 1; }

# The databases are the plain files beside their .dat indexes; the .u8 names are links to them.
: > "$WORK/fortunes.txt"
for f in $(find "$SRC" -maxdepth 1 -type f ! -name '*.dat' | sort); do
  # a file that is not UTF-8 is converted from Latin-1 rather than dropped
  if iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1; then cat "$f"; else iconv -f ISO-8859-1 -t UTF-8 "$f"; fi \
    | sed -e 's/^%$//' >> "$WORK/fortunes.txt"
  printf '\n\n' >> "$WORK/fortunes.txt"
done

[ -s "$WORK/fortunes.txt" ] || { echo "no fortune text found under $SRC" >&2; exit 1; }
mv "$WORK/fortunes.txt" "$OUT.tmp"
sync "$OUT.tmp" 2>/dev/null || true
mv -f "$OUT.tmp" "$OUT"
echo "wrote $OUT ($(wc -c < "$OUT") bytes, $(grep -c '^$' "$OUT") blank lines) from Debian's fortunes and fortunes-min"
