#!/usr/bin/env bash
# Packs IOTile Field as an AppImage from the tree the .deb bundler staged
# (<target>/release/bundle/deb/*/data), into <target>/release/bundle/appimage/.
#
# Tauri's own AppImage bundler fetches linuxdeploy and its plugins from GitHub at build
# time. This packs the same AppDir layout itself: the app, its .desktop entry and icons,
# an AppRun, in a squashfs image behind the AppImage type-2 runtime (AppImageKit's, MIT),
# taken from the `appimage` crate on crates.io and checked against a pinned SHA-256.
# WebKitGTK is not carried inside: like the .deb, the AppImage runs where
# libwebkit2gtk-4.1-0 is installed (Debian 12, Ubuntu 22.04 and later, Fedora 37 and
# later). Needs mksquashfs (Debian's squashfs-tools).
set -euo pipefail
cd "$(dirname "$0")/../.."

target=${CARGO_TARGET_DIR:-$PWD/target}
bundle="$target/release/bundle"
data=$(find "$bundle/deb" -mindepth 2 -maxdepth 2 -type d -name data | head -n 1)
[ -n "$data" ] || { echo "no staged .deb tree under $bundle/deb: run desktop-app/build.sh" >&2; exit 1; }
command -v mksquashfs >/dev/null || { echo "mksquashfs is missing: apt-get install squashfs-tools" >&2; exit 1; }

# The runtime, fetched once into <target>/tools.
runtime="$target/tools/appimage-runtime-x86_64"
crate_url=https://static.crates.io/crates/appimage/appimage-0.4.0.crate
crate_sha=567a4da6b94a2ac20a27620933c80fc14cf475b5fe7d7b137d20eb237d6b1920
if [ ! -x "$runtime" ]; then
  mkdir -p "$target/tools"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  curl -sSfL --retry 3 -o "$work/appimage.crate" "$crate_url"
  echo "$crate_sha  $work/appimage.crate" | sha256sum -c --quiet -
  tar xzf "$work/appimage.crate" -C "$work" appimage-0.4.0/assets/runtime-x86_64
  install -m 0755 "$work/appimage-0.4.0/assets/runtime-x86_64" "$runtime"
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' desktop-app/src-tauri/Cargo.toml | head -n 1)
out_dir="$bundle/appimage"
appdir="$out_dir/IOTile_Field.AppDir"
out="$out_dir/IOTile_Field_${version}_x86_64.AppImage"
rm -rf "$appdir" "$out"
mkdir -p "$appdir"
cp -a "$data/usr" "$appdir/usr"

# The AppDir's top level: what an AppImage runtime and desktop integrations look for.
desktop=$(find "$appdir/usr/share/applications" -name '*.desktop' | head -n 1)
cp "$desktop" "$appdir/iotile-desktop.desktop"
icon=$(find "$appdir/usr/share/icons" -path '*128x128/apps/iotile-desktop.png' | head -n 1)
cp "$icon" "$appdir/iotile-desktop.png"
ln -s iotile-desktop.png "$appdir/.DirIcon"
cat >"$appdir/AppRun" <<'EOF'
#!/bin/sh
# Runs IOTile Field from wherever the AppImage is mounted or extracted.
here=$(dirname "$(readlink -f "$0")")
exec "$here/usr/bin/iotile-desktop" "$@"
EOF
chmod 0755 "$appdir/AppRun"

mksquashfs "$appdir" "$out_dir/payload.squashfs" -root-owned -noappend -comp gzip -quiet >/dev/null
cat "$runtime" "$out_dir/payload.squashfs" >"$out"
rm "$out_dir/payload.squashfs"
chmod 0755 "$out"

# The image opens: extracted (no FUSE needed), it holds the very binary the .deb holds.
check=$(mktemp -d)
(cd "$check" && "$out" --appimage-extract >/dev/null)
cmp -s "$check/squashfs-root/usr/bin/iotile-desktop" "$data/usr/bin/iotile-desktop" || {
  echo "the AppImage does not hold the built app" >&2
  exit 1
}
rm -rf "$check"
echo "$out ($(du -h "$out" | cut -f1))"
