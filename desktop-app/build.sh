#!/usr/bin/env bash
# Builds IOTile Field's Linux packages: a release build of desktop-app/src-tauri with the
# front end embedded, bundled as a .deb under <target>/release/bundle/deb/, then packed as
# an AppImage under <target>/release/bundle/appimage/ (scripts/appimage.sh says how).
# Extra arguments go to `tauri build`.
set -euo pipefail
cd "$(dirname "$0")"

[ -d ui/node_modules ] || npm --prefix ui ci --no-audit --no-fund
npm --prefix ui run tauri -- build --bundles deb "$@"
bash scripts/appimage.sh
