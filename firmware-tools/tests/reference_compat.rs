//! Differential test against the reference Python tools on vectors this code has never seen:
//! `reference/make_vectors.py` builds reports and update scripts (valid, tampered and
//! corrupt) with iotile-core and iotile-sensorgraph from fresh seeds and records what the
//! reference decoder says; `iotile-fw` must agree field by field.
//!
//! The reference tools come from PyPI into a venv under the target directory
//! (`common/venv.rs`; `IOTILE_REFERENCE_PYTHON` may name an interpreter that has them).
//! `IOTILE_REFERENCE_SEEDS` (comma-separated) picks other seeds.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;
#[path = "common/venv.rs"]
mod venv;

fn seeds() -> Vec<u64> {
    match std::env::var("IOTILE_REFERENCE_SEEDS") {
        Ok(list) => list
            .split(',')
            .map(|s| s.trim().parse().expect("seeds are integers"))
            .collect(),
        Err(_) => vec![20261125, 31337],
    }
}

#[test]
fn iotile_fw_agrees_with_the_reference_on_fresh_vectors() {
    let python = venv::reference_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/make_vectors.py");
    for seed in seeds() {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("reference-vectors-{seed}"));
        let _ = std::fs::remove_dir_all(&dir);
        let made = Command::new(&python)
            .arg(&script)
            .arg(&dir)
            .arg(seed.to_string())
            .arg("300")
            .status();
        assert!(
            made.map(|s| s.success()).unwrap_or(false),
            "make_vectors.py failed for seed {seed}"
        );
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"),
        )
        .expect("JSON");
        let entries = manifest["vectors"].as_array().expect("vectors");
        assert!(
            entries.len() > 250,
            "seed {seed}: only {} vectors made",
            entries.len()
        );
        for kind in [
            "SignedListReport",
            "IndividualReadingReport",
            "BroadcastReport",
            "FlexibleDictionaryReport",
            "UpdateScript",
        ] {
            assert!(
                entries.iter().any(|e| e["kind"] == kind),
                "seed {seed}: no {kind}"
            );
        }
        for entry in entries {
            common::assert_matches_reference(&dir, entry);
        }
    }
}
