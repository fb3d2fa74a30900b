//! `iotile-fw report build` and `keys gen`, run as a user would, checked by decoding the
//! result with the library.

use std::process::Command;

use sync_protocol::auth::RootKey;
use sync_protocol::report::{Report, SignedListReport};

fn iotile_fw(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iotile-fw"))
        .args(args)
        .output()
        .expect("iotile-fw runs")
}

#[test]
fn a_generated_key_signs_a_built_report_that_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_path = dir.path().join("pod.key");
    let out = iotile_fw(&["keys", "gen", "--out", key_path.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_hex = std::fs::read_to_string(&key_path)
        .expect("key file")
        .trim()
        .to_string();
    let key = RootKey::from_hex(&key_hex).expect("64 hex digits");

    let readings = dir.path().join("readings.json");
    std::fs::write(
        &readings,
        r#"[{"stream": "5001", "reading_id": 10, "raw_time": 100, "value": 1},
            {"stream": "5002", "reading_id": 11, "raw_time": "2026-11-25T12:00:00Z", "value": 2}]"#,
    )
    .expect("write readings");
    let report_path = dir.path().join("report.bin");
    let out = iotile_fw(&[
        "report",
        "build",
        readings.to_str().expect("utf-8"),
        "-o",
        report_path.to_str().expect("utf-8"),
        "--device",
        "0x00C0FFEE",
        "--user-key",
        &key_hex,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&report_path).expect("report");
    let Ok(Report::SignedList(report)) = Report::decode(&bytes) else {
        panic!("a signed list")
    };
    assert_eq!(report.header.device_id, 0x00C0_FFEE);
    assert_eq!(report.header.report_id, 12);
    let decoded = report
        .readings(Some(&key))
        .expect("verifies with the generated key");
    assert_eq!(
        decoded.iter().map(|r| r.reading_id).collect::<Vec<_>>(),
        vec![10, 11]
    );
    assert_eq!(
        decoded[1].raw_time & 0x8000_0000,
        0x8000_0000,
        "RFC 3339 times become RTC time"
    );
    assert!(SignedListReport::decode(&bytes)
        .expect("decodes")
        .readings(None)
        .is_err());

    let inspect = iotile_fw(&[
        "report",
        "inspect",
        report_path.to_str().expect("utf-8"),
        "--user-key",
        &key_hex,
    ]);
    assert_eq!(inspect.status.code(), Some(0));
}

#[test]
fn keys_gen_never_overwrites_and_bad_input_says_where() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_path = dir.path().join("pod.key");
    std::fs::write(&key_path, "keep me").expect("existing file");
    let out = iotile_fw(&["keys", "gen", "--out", key_path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&key_path).expect("file"), "keep me");

    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "stream,reading_id,raw_time,value\n5001,1,2,3\n5001,x,2,3\n",
    )
    .expect("csv");
    let out = iotile_fw(&[
        "report",
        "build",
        csv.to_str().expect("utf-8"),
        "-o",
        "/dev/null",
        "--device",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("reading_id"),
        "{stderr}"
    );
}

/// Describing the golden all-records script as text rebuilds it byte for byte.
#[test]
fn script_build_reproduces_the_reference_script() {
    use sync_protocol::script::{Record, UpdateScript};

    let golden_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors/iotile/script_all_records.bin");
    let golden = std::fs::read(&golden_path).expect("golden script");
    let script = UpdateScript::decode(&golden).expect("valid");
    let Some(Record::ReflashTile(tile)) = script
        .records
        .iter()
        .find(|r| matches!(r, Record::ReflashTile(_)))
    else {
        panic!("the golden script reflashes a tile")
    };
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("tile.bin"), &tile.image).expect("image");
    let description = dir.path().join("update.toml");
    let text = include_str!("data/all_records.toml");
    std::fs::write(&description, text).expect("description");
    let out = dir.path().join("update.trub");
    let run = iotile_fw(&[
        "script",
        "build",
        description.to_str().expect("utf-8"),
        "-o",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(std::fs::read(&out).expect("built script"), golden);
}
