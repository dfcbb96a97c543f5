#!/usr/bin/env bash
# Installs (once) the npm clients the server's tests run against the real server: the official
# OpenAI Node SDK, into $CORVUS_CACHE (else ~/.cache/corvus)/npm-clients/node_modules, and prints
# that directory. The server module's OpenAiNodeClientTest finds it there (NODE_PATH-style, via
# require.resolve with that path); under CI=true it fails when node or the package is missing.
# Needs node and npm. A marker names the installed versions, so a version change reinstalls.
set -euo pipefail
CACHE="${CORVUS_CACHE:-$HOME/.cache/corvus}"
DIR="$CACHE/npm-clients"
PACKAGES=(openai@7.55.0)
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "npm-clients.sh: '$tool' not found; install it (apt-get install -y nodejs npm)" >&2; exit 1; }
done
marker="$DIR/installed.txt"
if [ -f "$marker" ] && [ "$(cat "$marker")" = "${PACKAGES[*]}" ] && [ -d "$DIR/node_modules/openai" ]; then
  echo "$DIR"
  exit 0
fi
mkdir -p "$CACHE"
tmp="$(mktemp -d "$CACHE/npm-clients.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo '{"name": "corvus-npm-clients", "private": true}' > "$tmp/package.json"
(cd "$tmp" && timeout 600 npm install --no-audit --no-fund --loglevel=error "${PACKAGES[@]}" >&2)
echo "${PACKAGES[*]}" > "$tmp/installed.txt"
rm -rf "$DIR"
mv "$tmp" "$DIR"
trap - EXIT
echo "$DIR"
