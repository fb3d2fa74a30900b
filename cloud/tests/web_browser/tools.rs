//! What a journey runs on: Node, Debian's Chromium, and the pinned npm packages
//! (`playwright-core` to drive the browser, `axe-core` to audit pages), installed with
//! `npm ci` under the target directory once per lockfile. A missing tool fails the test
//! with what to install: the browser tests never skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The journeys and their npm manifest.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The workspace's target directory (the parent of `CARGO_TARGET_TMPDIR`).
pub fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

const INSTALL: &str = "run `bash scripts/test.sh`, which installs it, or `apt-get install \
                       chromium nodejs npm`; the browser tests do not skip";

/// The oldest Node the pinned packages support (their `engines`).
const NODE_MAJOR: u32 = 18;

/// `node`, checked to be new enough.
pub fn node() -> PathBuf {
    let out = Command::new("node").arg("--version").output();
    let version = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => panic!("Node.js (`node`) is not installed: {INSTALL}"),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= NODE_MAJOR,
        "Node.js {version} is too old for the browser tests (they need {NODE_MAJOR} or newer)"
    );
    PathBuf::from("node")
}

/// Debian's Chromium: `$CHROMIUM` if set, else the browser binary itself (not the
/// `/usr/bin/chromium` wrapper script), else `chromium` on the PATH.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM").map(PathBuf::from) {
        assert!(path.is_file(), "CHROMIUM={} is no file", path.display());
        return path;
    }
    let debian = Path::new("/usr/lib/chromium/chromium");
    if debian.is_file() {
        return debian.to_path_buf();
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("chromium"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("Chromium is not installed: {INSTALL}"))
}

/// Tests of this binary asking at once wait for one install.
static INSTALLING: Mutex<()> = Mutex::new(());

/// The directory holding `node_modules` with the locked packages: made by `npm ci` in a
/// scratch directory and renamed into place whole, so a half-made one is never used, not
/// even by another test process installing at the same time.
pub fn node_packages() -> PathBuf {
    let _installing = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let source = browser_dir();
    let lock = std::fs::read(source.join("package-lock.json")).expect("reading package-lock.json");
    let manifest = std::fs::read(source.join("package.json")).expect("reading package.json");
    let key = hex::encode(&Sha256::digest([lock.as_slice(), &manifest].concat())[..8]);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-npm");
    let ready = root.join(&key);
    if ready.join("node_modules/playwright-core").is_dir() {
        return ready;
    }
    let scratch = root.join(format!("{key}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("creating the npm directory");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), scratch.join(file)).expect("copying the npm manifest");
    }
    let out = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(&scratch)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run npm ({e}): {INSTALL}"));
    assert!(
        out.status.success(),
        "npm ci of {} failed:\n{}{}",
        source.join("package-lock.json").display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if ready.exists() {
        // A copy broken by hand; a whole one returned above.
        let _ = std::fs::remove_dir_all(&ready);
    }
    if std::fs::rename(&scratch, &ready).is_err() {
        // Another process finished first; its copy is the same.
        let _ = std::fs::remove_dir_all(&scratch);
    }
    assert!(
        ready.join("node_modules/playwright-core").is_dir(),
        "npm ci left no playwright-core in {}",
        ready.display()
    );
    ready
}
