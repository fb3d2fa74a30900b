//! The Python interpreter with the reference tools (`reference/requirements.txt`), in a venv
//! under `CARGO_TARGET_TMPDIR`. The venv records the hash of the requirements it was made
//! from and is made again when the file changes, so a venv left by an older test (or an
//! interrupted install) never passes for a current one. No python3 or no PyPI fails the
//! test with a message saying what is missing; it never skips.
//!
//! `IOTILE_REFERENCE_PYTHON` may name an interpreter that already has the tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

const VENV: &str = "iotile-reference-venv";
const STAMP: &str = ".requirements-sha256";

/// Tests of one binary that ask at once must not build the venv twice.
static MAKING: Mutex<()> = Mutex::new(());

pub fn reference_python() -> PathBuf {
    if let Some(python) = std::env::var_os("IOTILE_REFERENCE_PYTHON") {
        return PathBuf::from(python);
    }
    let _making = MAKING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let requirements =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/requirements.txt");
    let text = std::fs::read(&requirements)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display()));
    let wanted = hex::encode(Sha256::digest(&text));
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(VENV);
    let python = venv.join("bin/python");
    let stamp = venv.join(STAMP);
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return python;
    }
    // Anything else there is stale or half made: start from nothing.
    let _ = std::fs::remove_dir_all(&venv);
    assert!(
        succeeds(Command::new("python3").args(["-m", "venv"]).arg(&venv)),
        "cannot create a venv with `python3 -m venv` (install python3 and python3-venv)"
    );
    assert!(
        succeeds(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check"
                ])
                .arg("-r")
                .arg(&requirements)
        ),
        "cannot install {} from PyPI into {}",
        requirements.display(),
        venv.display()
    );
    std::fs::write(&stamp, &wanted).expect("record the requirements' hash");
    python
}

fn succeeds(command: &mut Command) -> bool {
    command.status().is_ok_and(|status| status.success())
}
