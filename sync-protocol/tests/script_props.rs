//! Update scripts against the reference vectors (iotile-core 5.2.0 + iotile-sensorgraph
//! 1.1.0), plus round-trip and robustness properties.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sync_protocol::script::*;
use sync_protocol::stream::{DataStream, StreamSelector};
use sync_protocol::version::TagVersion;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/iotile");

fn vectors_dir() -> PathBuf {
    PathBuf::from(VECTORS)
}

/// Every `script_*` entry of the manifest with its bytes.
fn script_vectors() -> Vec<(Value, Vec<u8>)> {
    let manifest = fs::read_to_string(vectors_dir().join("manifest.json")).expect("manifest.json");
    let manifest: Value = serde_json::from_str(&manifest).expect("manifest is JSON");
    let entries = manifest["vectors"].as_array().expect("a vector list");
    entries
        .iter()
        .filter(|v| v["file"].as_str().is_some_and(|f| f.starts_with("script_")))
        .map(|v| {
            let file = v["file"].as_str().unwrap_or_default();
            let bytes = fs::read(vectors_dir().join(file)).expect("vector file");
            (v.clone(), bytes)
        })
        .collect()
}

/// Replaces the header so that a changed record area passes the integrity checks.
fn reseal(records: &[u8]) -> Vec<u8> {
    let mut body = 0x1F2E_3D4Cu32.to_le_bytes().to_vec();
    body.extend_from_slice(
        &u32::try_from(records.len() + 24)
            .expect("small")
            .to_le_bytes(),
    );
    body.extend_from_slice(records);
    let mut out = Sha256::digest(&body)[..16].to_vec();
    out.extend_from_slice(&body);
    out
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

#[test]
fn every_script_vector_is_listed() {
    let listed: Vec<String> = script_vectors()
        .iter()
        .map(|(v, _)| v["file"].as_str().unwrap_or_default().into())
        .collect();
    let mut on_disk = 0;
    for entry in fs::read_dir(Path::new(VECTORS)).expect("vector dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.starts_with("script_") && name.ends_with(".bin") {
            assert!(listed.contains(&name), "{name} is not in the manifest");
            on_disk += 1;
        }
    }
    assert!(
        on_disk >= 17,
        "expected the script vectors, found {on_disk}"
    );
}

#[test]
fn vectors_decode_like_the_reference_and_reencode_exactly() {
    for (vector, bytes) in script_vectors() {
        let name = vector["file"].as_str().unwrap_or_default();
        assert_eq!(
            vector["length"].as_u64(),
            Some(bytes.len() as u64),
            "{name}"
        );
        if vector["valid"] == Value::Bool(false) {
            let err = UpdateScript::decode(&bytes).expect_err(name);
            assert!(err.is_hash_mismatch(), "{name}: {err}");
            continue;
        }
        let script = UpdateScript::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            Some(script.record_count() as u64),
            vector["record_count"].as_u64(),
            "{name}"
        );
        let classes: Vec<&str> = script.records.iter().map(Record::class_name).collect();
        assert_eq!(classes, strings(&vector["record_classes"]), "{name}");
        let texts: Vec<String> = script.records.iter().map(ToString::to_string).collect();
        assert_eq!(texts, strings(&vector["records"]), "{name}");
        assert_eq!(script.encode(), bytes, "{name}");
    }
}

#[test]
fn bad_hash_vector_is_refused_as_a_hash_mismatch() {
    let bytes = fs::read(vectors_dir().join("script_bad_hash.bin")).expect("vector");
    let err = UpdateScript::decode(&bytes).expect_err("bad hash");
    assert_eq!(err.kind, ScriptErrorKind::HashMismatch);
    assert!(err.is_hash_mismatch());
}

#[test]
fn every_truncation_is_an_error() {
    for (vector, bytes) in script_vectors() {
        for len in 0..bytes.len() {
            assert!(
                UpdateScript::decode(&bytes[..len]).is_err(),
                "{} cut to {len}",
                vector["file"]
            );
        }
    }
}

/// Truncated record areas under a valid header: an error unless the cut falls between
/// logical records, in which case the result still re-encodes exactly.
#[test]
fn every_resealed_truncation_is_an_error_or_exact() {
    for (vector, bytes) in script_vectors() {
        if vector["valid"] == Value::Bool(false) {
            continue;
        }
        for len in 24..bytes.len() {
            let cut = reseal(&bytes[24..len]);
            if let Ok(script) = UpdateScript::decode(&cut) {
                assert_eq!(script.encode(), cut, "{} cut to {len}", vector["file"]);
            }
        }
    }
}

fn data_stream() -> impl Strategy<Value = DataStream> {
    (0u16..6, any::<bool>(), 0u16..0x800).prop_map(|(kind, system, id)| {
        DataStream::from_code((kind << 12) | (u16::from(system) << 11) | id).expect("type < 6")
    })
}

/// Selectors of a defined type; `single` keeps them off the wildcard id.
fn selector(single: bool) -> impl Strategy<Value = StreamSelector> {
    let max_id = if single { 0x7FF } else { 0x800 };
    (0u16..6, 0u16..4, 0u16..max_id).prop_map(|(kind, spec, id)| {
        let spec_bits = ((spec & 1) << 11) | ((spec >> 1) << 15);
        StreamSelector::from_code((kind << 12) | spec_bits | id)
    })
}

fn trigger() -> impl Strategy<Value = Trigger> {
    let source = prop_oneof![Just(TriggerSource::Value), Just(TriggerSource::Count)];
    let op = prop_oneof![
        Just(TriggerOp::Gt),
        Just(TriggerOp::Lt),
        Just(TriggerOp::Ge),
        Just(TriggerOp::Le),
        Just(TriggerOp::Eq)
    ];
    prop_oneof![
        Just(Trigger::Always),
        (source, op, any::<u32>()).prop_map(|(source, op, reference)| Trigger::When {
            source,
            op,
            reference
        }),
    ]
}

fn node() -> impl Strategy<Value = NodeDescriptor> {
    let input = || {
        (selector(true), trigger()).prop_map(|(selector, trigger)| NodeInput { selector, trigger })
    };
    let combiner = prop_oneof![Just(Combiner::And), Just(Combiner::Or)];
    (
        data_stream(),
        input(),
        proptest::option::of((combiner, input())),
        0u8..8,
    )
        .prop_map(|(out, a, b, p)| {
            let processor = Processor::from_code(p).expect("0..8");
            NodeDescriptor::new(out, a, b, processor).expect("valid node")
        })
}

fn tile() -> impl Strategy<Value = Tile> {
    prop_oneof![Just(Tile::Controller), (1u8..32).prop_map(Tile::Slot)]
}

fn streamer() -> impl Strategy<Value = StreamerDescriptor> {
    let trigger = prop_oneof![
        Just(StreamerTrigger::Manual),
        Just(StreamerTrigger::Automatic),
        (0u8..128).prop_map(StreamerTrigger::WithStreamer)
    ];
    let format = prop_oneof![
        Just(ReportFormat::Individual),
        Just(ReportFormat::HashedList),
        Just(ReportFormat::SignedListUserKey),
        Just(ReportFormat::SignedListDeviceKey)
    ];
    let kind = prop_oneof![
        Just(ReportType::Broadcast),
        Just(ReportType::Telegram),
        Just(ReportType::Synchronous)
    ];
    (tile(), selector(false), trigger, format, kind).prop_map(|(t, s, tr, f, k)| {
        StreamerDescriptor::new(t, s, tr, f, k).expect("valid streamer")
    })
}

fn tag() -> impl Strategy<Value = TagVersion> {
    (0u32..(1 << 20), 0u8..64, 0u8..64).prop_map(|(tag, major, minor)| TagVersion {
        tag,
        major,
        minor,
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (proptest::option::of(tag()), proptest::option::of(tag()))
            .prop_filter_map("one tag", |(os, app)| Record::set_device_tag(os, app).ok()),
        (any::<u8>(), any::<u16>(), bytes(20))
            .prop_map(|(a, id, p)| Record::send_rpc(a, id, p).expect("short")),
        (any::<u8>(), any::<u16>(), bytes(20), 0u8..128)
            .prop_map(|(a, id, p, n)| Record::send_rpc_expecting(a, id, p, n).expect("short")),
        (any::<u8>(), any::<u16>(), bytes(20)).prop_filter_map("not reserved", |(a, id, p)| {
            Record::send_error_checking_rpc(a, id, p).ok()
        }),
        (1u8..32, any::<u32>(), bytes(64))
            .prop_map(|(s, o, i)| Record::reflash_tile(s, o, i).expect("valid")),
        (any::<u32>(), bytes(64))
            .prop_map(|(o, i)| Record::reflash_controller(o, i).expect("valid")),
        (any::<u32>(), bytes(64))
            .prop_map(|(o, i)| Record::enhanced_reflash_controller(o, i).expect("valid")),
        Just(Record::reset_device()),
        node().prop_map(Record::add_node),
        streamer().prop_map(Record::add_streamer),
        (tile(), any::<u16>(), bytes(60))
            .prop_map(|(t, id, d)| Record::set_config(t, id, &d).expect("valid")),
        (data_stream(), any::<u32>()).prop_map(|(s, v)| Record::set_constant(s, v)),
        any::<bool>().prop_map(Record::set_graph_online),
        Just(Record::reset_graph()),
        Just(Record::persist_graph()),
        Just(Record::clear_data()),
        Just(Record::clear_config_variables()),
        (prop_oneof![Just(0u8), 7u8..=255], bytes(40)).prop_map(|(record_type, payload)| {
            Record::Unknown {
                record_type,
                payload,
            }
        }),
    ]
}

/// A vector, a position and a replacement byte, for mutation tests.
fn mutation() -> impl Strategy<Value = (usize, Vec<(usize, u8)>)> {
    (
        any::<usize>(),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    )
}

proptest! {
    #[test]
    fn built_scripts_round_trip(records in proptest::collection::vec(record(), 0..12)) {
        let script = UpdateScript::new(records);
        let bytes = script.encode();
        let decoded = UpdateScript::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded, &script);
        prop_assert_eq!(decoded.encode(), bytes);
        let texts: Vec<String> = decoded.records.iter().map(ToString::to_string).collect();
        prop_assert_eq!(texts.len(), script.record_count());
    }

    #[test]
    fn mutated_vectors_never_panic((pick, edits) in mutation()) {
        let vectors = script_vectors();
        let (_, original) = &vectors[pick % vectors.len()];
        let mut bytes = original.clone();
        for (at, value) in edits {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        // As is (usually caught by the header), then resealed so the records are parsed.
        let _ = UpdateScript::decode(&bytes);
        let resealed = reseal(&bytes[24..]);
        if let Ok(script) = UpdateScript::decode(&resealed) {
            prop_assert_eq!(script.encode(), resealed);
            for record in &script.records {
                let _ = record.to_string();
                let _ = record.rpcs();
            }
        }
    }

    #[test]
    fn arbitrary_record_areas_never_panic(area in bytes(200)) {
        let sealed = reseal(&area);
        if let Ok(script) = UpdateScript::decode(&sealed) {
            prop_assert_eq!(script.encode(), sealed);
        }
    }
}
