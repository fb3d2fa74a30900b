#!/usr/bin/env bash
# Installs what the build and the tests need and is missing (Debian packages), saying what
# each is for. Run by scripts/test.sh, and by .ci/run before clippy (which builds the
# desktop app, so WebKitGTK's -dev packages must be there first).
#
# Building the core crates needs only the Rust toolchain and a C compiler: SQLite and
# libdbus are compiled from source. The desktop app (desktop-app/, not in the default
# build) needs WebKitGTK and Node; its window test needs Xvfb and WebKitWebDriver.
set -euo pipefail

missing=()
need() { missing+=("$1"); echo "  missing: $2 (Debian package $1)"; }
has_pkg() { command -v pkg-config >/dev/null && pkg-config --exists "$1"; }

echo "--- what the build and the tests need"
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
command -v node >/dev/null || need nodejs "Node.js, to drive the browser and build the desktop app's front end"
command -v npm >/dev/null || need npm "npm, to install the browser tests' and the desktop front end's packages"
# The desktop app (desktop-app/src-tauri): Tauri draws with WebKitGTK, found by pkg-config.
command -v pkg-config >/dev/null || need pkg-config "pkg-config, to find WebKitGTK"
has_pkg webkit2gtk-4.1 || need libwebkit2gtk-4.1-dev "WebKitGTK's headers, to build the desktop app"
has_pkg librsvg-2.0 || need librsvg2-dev "librsvg's headers, for the desktop app's icons"
# Its window test (desktop-app/src-tauri/tests/window.rs): a virtual display, and the
# WebDriver server of WebKitGTK that tauri-driver runs.
command -v Xvfb >/dev/null || need xvfb "Xvfb, the desktop window test's display"
command -v xauth >/dev/null || need xauth "xauth, for the virtual display"
command -v WebKitWebDriver >/dev/null || need webkit2gtk-driver "WebKitWebDriver, to drive the desktop app's window"

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

# The desktop front end's Vite (desktop-app/ui/package.json) needs Node 20.19 or newer;
# playwright-core, for the browser tests, 18. Debian bookworm's nodejs is 18.
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' || {
  echo "Node.js $(node --version) is too old: the desktop app's front end needs 20.19 or newer" >&2
  echo "(e.g. NodeSource's nodejs 20 or 22; Debian bookworm ships 18)" >&2
  exit 1
}
