//! Runs the built `iotile-fw` on every golden vector and compares its JSON, field by field,
//! with the reference tools' answer in the manifest.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_matches_reference, iotile_fw};
use serde_json::Value;

mod common;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/iotile")
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(vectors_dir().join("manifest.json"))
        .expect("manifest next to the workspace");
    let manifest: Value = serde_json::from_str(&text).expect("manifest is JSON");
    manifest["vectors"].as_array().expect("vectors").clone()
}

#[test]
fn json_matches_the_reference_for_every_vector() {
    let entries = manifest();
    assert!(entries.len() >= 33, "all golden vectors are listed");
    for entry in entries {
        assert_matches_reference(&vectors_dir(), &entry);
    }
}

#[test]
fn user_key_report_without_a_key_is_not_verified() {
    let path = vectors_dir().join("signed_list_userkey_0.bin");
    let out = iotile_fw(&["report", "inspect", path.to_str().expect("utf-8"), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["verified"], false);
    assert_eq!(json["verification"], "no_key");
    assert!(json.get("readings").is_none());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not verified"));
}

#[test]
fn key_from_the_coretools_environment_variable_is_used() {
    let entry = manifest()
        .into_iter()
        .find(|e| e["name"] == "signed_list_userkey_0")
        .expect("vector");
    let path = vectors_dir().join("signed_list_userkey_0.bin");
    let variable = format!("USER_KEY_{:08X}", entry["device_id"].as_u64().expect("id"));
    let out = Command::new(env!("CARGO_BIN_EXE_iotile-fw"))
        .args(["report", "inspect", path.to_str().expect("utf-8"), "--json"])
        .env(variable, entry["user_key_hex"].as_str().expect("key"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["readings"], entry["readings"]);
}

#[test]
fn unreadable_files_exit_2_naming_the_offset() {
    let dir = std::env::temp_dir().join(format!("iotile-fw-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let report = std::fs::read(vectors_dir().join("signed_list_hash_2.bin")).expect("vector");
    let cut = write("cut.bin", &report[..100]);
    let script = std::fs::read(vectors_dir().join("script_all_records.bin")).expect("vector");
    let mut bad_magic = script.clone();
    bad_magic[16] ^= 0xFF;
    let bad_magic = write("magic.trub", &bad_magic);
    for (kind, path, needle) in [
        ("report", cut.as_path(), "at byte 100"),
        ("script", bad_magic.as_path(), "offset 16"),
        (
            "report",
            Path::new("/nonexistent/report.bin"),
            "cannot read",
        ),
    ] {
        let out = iotile_fw(&[kind, "inspect", path.to_str().expect("utf-8"), "--json"]);
        assert_eq!(out.status.code(), Some(2), "{}", path.display());
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn tables_are_readable() {
    let path = vectors_dir().join("signed_list_hash_2.bin");
    let out = iotile_fw(&["report", "inspect", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "SignedListReport",
        "d--0000-0000-0075-2053",
        "verified",
        "5c08 system output 1032",
        "readings        7",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let path = vectors_dir().join("script_all_records.bin");
    let out = iotile_fw(&["script", "inspect", path.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("SetConfigRecord") && text.contains("15 records"),
        "{text}"
    );
}
