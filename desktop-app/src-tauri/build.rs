//! Builds the front end before Tauri embeds it, so `cargo build -p iotile-desktop` works
//! from a fresh clone: `npm ci` when `ui/node_modules` is missing or older than the
//! lockfile, `npm run build` (typecheck, then Vite) when a source is newer than
//! `ui/dist`. With nothing changed it runs neither.
//!
//! `IOTILE_DESKTOP_UI=keep` leaves `ui/dist` as it is: for regenerating the bindings after
//! the front end already uses a command they do not have yet (so it does not typecheck).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// What the front end is built from; any change reruns this script. Each must exist (cargo
/// reruns the script every time for a missing one): list `public` here if it ever appears.
const SOURCES: &[&str] = &[
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "vite.config.ts",
];

fn main() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui");
    for source in SOURCES {
        println!("cargo:rerun-if-changed={}", ui.join(source).display());
    }
    println!("cargo:rerun-if-env-changed=IOTILE_DESKTOP_UI");
    if std::env::var_os("IOTILE_DESKTOP_UI").is_some_and(|v| v == "keep") {
        tauri_build::build();
        return;
    }
    let installed = ui.join("node_modules/.package-lock.json");
    if newest(&[ui.join("package-lock.json")]) > modified(&installed) {
        npm(&ui, &["ci", "--no-audit", "--no-fund"]);
    }
    let sources: Vec<PathBuf> = SOURCES.iter().map(|s| ui.join(s)).collect();
    if newest(&sources) > modified(&ui.join("dist/index.html")) {
        npm(&ui, &["run", "build"]);
    }
    tauri_build::build();
}

fn npm(dir: &Path, args: &[&str]) {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run npm ({e}): the desktop app's front end needs Node.js 20.19+ and npm \
                 (Debian: apt-get install nodejs npm)"
            )
        });
    assert!(
        status.success(),
        "`npm {}` in {} failed",
        args.join(" "),
        dir.display()
    );
}

/// The newest modification time under these paths (files or directories, recursively).
fn newest(paths: &[PathBuf]) -> Option<SystemTime> {
    let mut newest = None;
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).into_iter().flatten().flatten();
            newest = newest.max(self::newest(&entries.map(|e| e.path()).collect::<Vec<_>>()));
        } else {
            newest = newest.max(modified(path));
        }
    }
    newest
}

/// A file's modification time, or `None` when it is missing.
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
