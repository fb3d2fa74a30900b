#!/usr/bin/env bash
# The test command: installs what the tests need and is missing (Debian packages, with
# scripts/test-deps.sh), then runs every workspace test, the desktop app's included. Extra
# arguments go to `cargo test` (e.g. `-p cloud`).
#
# The tests use real parts: a throwaway PostgreSQL cluster (initdb, pg_ctl), a private
# dbus-daemon carrying the virtual BlueZ, Python venvs with the reference coretools and
# the published iotile-cloud SDK (made from PyPI on first use, under the target directory),
# Debian's Chromium driven from Node by the web pages' browser journeys (their npm
# packages installed with `npm ci` on first use, under the target directory too), and the
# desktop app in a real window under Xvfb, driven through WebKitWebDriver by tauri-driver
# (installed from crates.io under the target directory on first use).
# scripts/test-deps.sh says what is missing and installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-deps.sh

# Every crate, unless the arguments name some (`-p cloud`).
scope=(--workspace)
for arg in "$@"; do
  case "$arg" in -p | -p* | --package | --package=*) scope=() ;; esac
done
echo "--- cargo test ${scope[*]:+${scope[*]} }--locked${*:+ $*}"
exec cargo test "${scope[@]}" --locked "$@"
