#!/usr/bin/env bash
# Builds IOTile Field's Linux package: a release build of desktop-app/src-tauri with the
# front end embedded, bundled as a .deb under <target>/release/bundle/deb/. Extra
# arguments go to `tauri build` (e.g. `--bundles deb,appimage`; the AppImage bundler
# downloads linuxdeploy from GitHub, so it needs that host reachable).
set -euo pipefail
cd "$(dirname "$0")"

[ -d ui/node_modules ] || npm --prefix ui ci --no-audit --no-fund
if [ $# -eq 0 ]; then set -- --bundles deb; fi
npm --prefix ui run tauri -- build "$@"
