//! Every report vector made by the reference Python tools decodes to the reference's fields,
//! verifies (or is refused) as the reference says, and re-encodes to the same bytes.

use std::path::PathBuf;

use serde_json::Value;
use sync_protocol::auth::RootKey;
use sync_protocol::report::{Report, Verification};
use sync_protocol::Reading;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/iotile")
}

fn report_vectors() -> Vec<(Value, Vec<u8>)> {
    let manifest = std::fs::read_to_string(vectors_dir().join("manifest.json"))
        .expect("shared/vectors/iotile/manifest.json next to the workspace");
    let manifest: Value = serde_json::from_str(&manifest).expect("manifest is JSON");
    let entries = manifest["vectors"]
        .as_array()
        .expect("vectors list")
        .clone();
    let reports: Vec<_> = entries
        .into_iter()
        .filter(|v| v["kind"] != "UpdateScript")
        .map(|v| {
            let bytes = std::fs::read(vectors_dir().join(v["file"].as_str().expect("file name")))
                .expect("vector file");
            (v, bytes)
        })
        .collect();
    assert!(
        reports.len() >= 16,
        "expected the report vectors, found {}",
        reports.len()
    );
    reports
}

fn key_of(entry: &Value) -> Option<RootKey> {
    entry["user_key_hex"]
        .as_str()
        .map(|hex| RootKey::from_hex(hex).expect("manifest key"))
}

fn expected_readings(entry: &Value) -> Vec<Reading> {
    entry["readings"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| Reading {
                    stream: r["stream"].as_u64().expect("stream") as u16,
                    reading_id: r["reading_id"].as_u64().unwrap_or(0) as u32,
                    raw_time: r["raw_time"].as_u64().expect("raw_time") as u32,
                    value: r["value"].as_u64().expect("value") as u32,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_report_vector_matches_the_reference_field_by_field() {
    for (entry, bytes) in report_vectors() {
        let name = entry["name"].as_str().expect("name");
        let report = Report::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.kind(), entry["kind"], "{name}");
        assert_eq!(
            report.device_id(),
            entry["device_id"].as_u64().expect("device_id"),
            "{name}"
        );
        match &report {
            Report::SignedList(r) => {
                assert_eq!(u64::from(r.header.report_id), entry["report_id"], "{name}");
                assert_eq!(
                    u64::from(r.header.sent_timestamp),
                    entry["sent_timestamp"],
                    "{name}"
                );
                assert_eq!(u64::from(r.header.selector), entry["selector"], "{name}");
                assert_eq!(u64::from(r.header.streamer), entry["streamer"], "{name}");
                assert_eq!(
                    u64::from(r.flags.byte()),
                    entry["signature_flags"],
                    "{name}"
                );
                assert_eq!(u64::from(r.lowest_id), entry["lowest_id"], "{name}");
                assert_eq!(u64::from(r.highest_id), entry["highest_id"], "{name}");
                let readings = r.readings(key_of(&entry).as_ref());
                if entry["verified"] == true {
                    assert_eq!(readings, Ok(expected_readings(&entry)), "{name}");
                } else {
                    assert_eq!(readings, Err(Verification::Failed), "{name}");
                }
            }
            Report::Individual(r) => {
                assert_eq!(vec![r.reading()], expected_readings(&entry), "{name}");
            }
            Report::Broadcast(r) => {
                assert_eq!(
                    u64::from(r.sent_timestamp),
                    entry["sent_timestamp"],
                    "{name}"
                );
                assert_eq!(r.readings(), expected_readings(&entry), "{name}");
            }
            Report::FlexibleDictionary(r) => {
                let readings: Vec<Reading> = r
                    .readings()
                    .iter()
                    .map(|f| Reading {
                        stream: f.stream,
                        reading_id: f.reading_id,
                        raw_time: f.raw_time,
                        value: f.value as u32,
                    })
                    .collect();
                assert_eq!(readings, expected_readings(&entry), "{name}");
                let events = entry["events"].as_array().expect("events");
                assert_eq!(r.events().len(), events.len(), "{name}");
                for (event, expected) in r.events().iter().zip(events) {
                    assert_eq!(u64::from(event.stream), expected["stream"], "{name}");
                    assert_eq!(
                        u64::from(event.reading_id),
                        expected["reading_id"],
                        "{name}"
                    );
                    assert_eq!(u64::from(event.raw_time), expected["raw_time"], "{name}");
                }
            }
        }
    }
}

#[test]
fn every_report_vector_re_encodes_byte_for_byte() {
    for (entry, bytes) in report_vectors() {
        let report = Report::decode(&bytes).expect("decodes");
        assert_eq!(report.encode(), bytes, "{}", entry["name"]);
    }
}

#[test]
fn keyed_reports_fail_without_the_right_key() {
    for (entry, bytes) in report_vectors()
        .into_iter()
        .filter(|(e, _)| e["signature_flags"] == 1)
    {
        let Ok(Report::SignedList(report)) = Report::decode(&bytes) else {
            panic!("signed list")
        };
        assert_eq!(
            report.verify(None),
            Verification::NoKey,
            "{}",
            entry["name"]
        );
        assert_eq!(
            report.verify(Some(&RootKey::new([0x55; 32]))),
            Verification::Failed,
            "{}",
            entry["name"]
        );
    }
}

#[test]
fn flipping_any_byte_of_a_signed_report_hides_its_readings() {
    for (entry, bytes) in report_vectors()
        .into_iter()
        .filter(|(e, _)| e["kind"] == "SignedListReport" && e["verified"] == true)
    {
        let key = key_of(&entry);
        for at in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[at] ^= 0x01;
            if let Ok(Report::SignedList(report)) = Report::decode(&tampered) {
                assert!(
                    report.readings(key.as_ref()).is_err(),
                    "{} byte {at}",
                    entry["name"]
                );
            }
        }
    }
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    for (entry, bytes) in report_vectors() {
        for len in 0..bytes.len() {
            assert!(
                Report::decode(&bytes[..len]).is_err(),
                "{} cut at {len}",
                entry["name"]
            );
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    // A small deterministic generator: the point is breadth, not secrecy.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (_, bytes) in report_vectors() {
        for _ in 0..2000 {
            let mut mutated = bytes.clone();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % mutated.len().max(1);
                match next() % 3 {
                    0 if !mutated.is_empty() => mutated[at] = next() as u8,
                    1 => mutated.insert(at.min(mutated.len()), next() as u8),
                    _ if !mutated.is_empty() => {
                        mutated.remove(at);
                    }
                    _ => {}
                }
            }
            if let Ok(report) = Report::decode(&mutated) {
                let _ = report.encode();
                if let Report::SignedList(r) = report {
                    let _ = r.readings(Some(&RootKey::new([1; 32])));
                }
            }
        }
    }
}
