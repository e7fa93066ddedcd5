#!/usr/bin/env bash
# Rebuild cairn's A2UI web client into src/cairn/a2ui/static/ (checked in, so `cairn serve`
# needs no Node.js). The one documented command: `make web` (= `bash web/build.sh`).
#   bash web/build.sh [OUTDIR]
# Installs the exact locked dependencies (npm ci) when web/node_modules does not match
# package-lock.json, then bundles with esbuild (web/build.mjs). Same inputs, same bytes:
# tests/a2ui/browser/test_assets.py rebuilds into a temp dir and compares.
set -euo pipefail
cd "$(dirname "$0")"
if ! cmp -s package-lock.json node_modules/.cairn-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.cairn-lock
fi
node build.mjs --outdir "${1:-../src/cairn/a2ui/static}"
