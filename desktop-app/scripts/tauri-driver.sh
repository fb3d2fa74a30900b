#!/usr/bin/env bash
# Prints the path of tauri-driver (the WebDriver server that starts the app under Debian's
# WebKitWebDriver), installing the pinned version from crates.io into <target>/tools the
# first time. The target directory is the first argument, else $CARGO_TARGET_DIR.
set -euo pipefail

version=2.1.0
target=${1:-${CARGO_TARGET_DIR:?pass the target directory or set CARGO_TARGET_DIR}}
root="$target/tools/tauri-driver-$version"
bin="$root/bin/tauri-driver"

if [ ! -x "$bin" ]; then
  echo "installing tauri-driver $version into $root" >&2
  # Its own build directory: the calling cargo may hold a lock on the target directory.
  env -u CARGO_TARGET_DIR cargo install tauri-driver --locked --version "=$version" \
    --root "$root" --target-dir "$target/tools/build" >&2
  rm -rf "$target/tools/build"
fi
echo "$bin"
