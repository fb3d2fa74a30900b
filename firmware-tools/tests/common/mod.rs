//! Shared by the integration tests: run the built `iotile-fw` on a vector and compare its
//! JSON with a manifest entry made by the reference Python tools.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Fields of a manifest entry that describe the vector itself rather than its decoding.
const ABOUT_THE_VECTOR: [&str; 7] = [
    "file",
    "name",
    "verified_with",
    "user_key_hex",
    "encoding",
    "why",
    "refused",
];

pub fn iotile_fw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iotile-fw"))
        .args(args)
        .output()
        .expect("iotile-fw runs")
}

/// Inspects `dir/<entry.file>` and asserts that every decoded field and the exit status agree
/// with the reference's answer in `entry`.
pub fn assert_matches_reference(dir: &Path, entry: &Value) {
    let name = entry["name"].as_str().expect("name");
    let path = dir.join(entry["file"].as_str().expect("file"));
    let path = path.to_str().expect("utf-8 path");
    let kind = if entry["kind"] == "UpdateScript" {
        "script"
    } else {
        "report"
    };
    let mut args = vec![kind, "inspect", path, "--json"];
    if let Some(key) = entry["user_key_hex"].as_str() {
        args.extend(["--user-key", key]);
    }
    let out = iotile_fw(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(reason) = entry.get("refused") {
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: the reference refuses it ({reason}); we printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains("at byte") || stderr.contains("offset"),
            "{name}: {stderr}"
        );
        return;
    }
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {stderr}"));
    for (field, expected) in entry.as_object().expect("object") {
        if !ABOUT_THE_VECTOR.contains(&field.as_str()) {
            assert_eq!(&json[field], expected, "{name}: field {field}");
        }
    }
    let verified = entry["verified"] != false && entry["valid"] != false;
    assert_eq!(
        out.status.code(),
        Some(if verified { 0 } else { 1 }),
        "{name}: exit status ({stderr})"
    );
    if !verified && entry["kind"] == "SignedListReport" {
        assert!(
            json.get("readings").is_none(),
            "{name}: an unverified report shows no readings"
        );
    }
}
