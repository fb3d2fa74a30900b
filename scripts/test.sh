#!/usr/bin/env bash
# The test command: installs what the tests need and is missing (Debian packages), then runs
# every workspace test. Extra arguments go to `cargo test` (e.g. `-p cloud`).
#
# The tests use real parts: a throwaway PostgreSQL cluster (initdb, pg_ctl), a private
# dbus-daemon carrying the virtual BlueZ, Python venvs with the reference coretools and
# the published iotile-cloud SDK (made from PyPI on first use, under the target directory),
# and Debian's Chromium driven from Node by the web pages' browser journeys (their npm
# packages installed with `npm ci` on first use, under the target directory too).
# Building needs only the Rust toolchain and a C compiler: SQLite and libdbus are compiled
# from source.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
need() { missing+=("$1"); echo "  missing: $2 (Debian package $1)"; }

echo "--- what the tests need"
command -v cc >/dev/null || need gcc "a C compiler, to build SQLite and libdbus"
echo '#include <stdio.h>' | cc -E - >/dev/null 2>&1 || need libc6-dev "the C library headers"
command -v python3 >/dev/null || need python3 "Python 3, for the reference tools and the SDK"
# Debian ships `python3 -m venv` (and the ensurepip it needs) apart, as python3-venv.
python3 -c 'import ensurepip, venv' 2>/dev/null || need python3-venv "python3 -m venv"
command -v dbus-daemon >/dev/null || need dbus "dbus-daemon, for the private bus of the virtual BlueZ"
command -v initdb >/dev/null || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null ||
  need postgresql "PostgreSQL's initdb and pg_ctl, for the throwaway clusters"
# The browser journeys (cloud/tests/web_browser.rs): the browser, a font for its
# screenshots, and Node with npm for playwright-core and axe-core.
command -v chromium >/dev/null || [ -x /usr/lib/chromium/chromium ] ||
  need chromium "Chromium, the browser of the web pages' journeys"
compgen -G "/usr/share/fonts/truetype/*/*.ttf" >/dev/null ||
  need fonts-dejavu-core "a font, for the text in the browser's screenshots"
command -v node >/dev/null || need nodejs "Node.js, to drive the browser"
command -v npm >/dev/null || need npm "npm, to install the browser tests' packages"

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "install them first: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "--- installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "  all present"
fi

# playwright-core, as pinned in cloud/tests/browser/package.json, needs Node 18 (Debian
# bookworm's) or newer.
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' || {
  echo "Node.js $(node --version) is too old for the browser tests: they need 18 or newer" >&2
  exit 1
}

# Every crate, unless the arguments name some (`-p cloud`).
scope=(--workspace)
for arg in "$@"; do
  case "$arg" in -p | -p* | --package | --package=*) scope=() ;; esac
done
echo "--- cargo test ${scope[*]:+${scope[*]} }--locked${*:+ $*}"
exec cargo test "${scope[@]}" --locked "$@"
