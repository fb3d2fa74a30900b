//! Python venvs for the tests that run tools from PyPI, kept under the target directory and
//! made again whenever their requirements file changes. No python3 or no PyPI fails the
//! test with a message saying what is missing, never skips it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Tests in one binary asking for the same venv at once must not build it twice.
static MAKING: Mutex<()> = Mutex::new(());

/// A Python interpreter with `requirements` installed, in the venv `name` under
/// `CARGO_TARGET_TMPDIR`, (re)made when the requirements file's hash differs from the one
/// recorded at install time.
pub fn python_with(name: &str, requirements: &Path) -> PathBuf {
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let wanted = hex::encode(Sha256::digest(
        std::fs::read(requirements)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display())),
    ));
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = venv.join("bin/python");
    let stamp = venv.join(".requirements-sha256");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    assert!(
        made.map(|s| s.success()).unwrap_or(false),
        "cannot create a venv with `python3 -m venv` (install python3 and python3-venv)"
    );
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements)
        .status();
    assert!(
        installed.map(|s| s.success()).unwrap_or(false),
        "cannot install {} from PyPI into {}",
        requirements.display(),
        venv.display()
    );
    std::fs::write(&stamp, &wanted).expect("record the requirements hash");
    python
}
