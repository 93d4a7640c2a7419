#!/usr/bin/env bash
# Installs (once) Azurite, Microsoft's Azure Storage emulator, from npm into a cache outside the
# clone; the object-store tests start it on 127.0.0.1. Fast when already installed: a marker
# records the pin. Needs node >= 20 and npm.
#
#   AZURITE=$(scripts/azurite.sh | tail -1)
#   "$AZURITE" --blobHost 127.0.0.1 --blobPort 10000 --location DIR --skipApiVersionCheck \
#     --disableTelemetry
#
# The executable's path is the last line on stdout; npm's chatter goes to stderr.
set -euo pipefail

AZURITE_VERSION=3.35.0

PREFIX="${CREDITRISK_AZURITE:-$HOME/.cache/creditrisk/tools/azurite}"
MARKER="$PREFIX/.creditrisk-pins"
WANT="azurite@$AZURITE_VERSION"
BIN="$PREFIX/node_modules/.bin/azurite-blob"

if [[ -x "$BIN" && -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" ]]; then
  echo "$BIN"
  exit 0
fi

start=$SECONDS
mkdir -p "$PREFIX"
rm -f "$MARKER"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "$WANT" >&2
"$BIN" --help >/dev/null
echo "$WANT" >"$MARKER"
echo "azurite: installed $WANT in $((SECONDS - start)) s" >&2
echo "$BIN"
