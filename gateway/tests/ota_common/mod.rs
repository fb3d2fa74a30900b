//! What the update-visit tests share: a signed script that changes a POD's app tag across
//! a reset, the feed that offers it, and a buffer file.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use firmware_tools::pod::{PodConfig, VirtualPod};
use gateway::buffer::{Budget, Buffer};
use sha2::{Digest, Sha256};
use sync_protocol::ota::{FeedDeployment, FeedScript, OtaFeed, ReleaseSecret, ScriptTarget};
use sync_protocol::script::{Record, UpdateScript};
use sync_protocol::version::TagVersion;
use sync_protocol::DataStream;

pub const DEPLOYMENT: i64 = 41;
pub const SLUG: &str = "z--0000-0029";

pub fn release_key() -> ReleaseSecret {
    ReleaseSecret::from_bytes(&[0x5A; 32])
}

pub fn target() -> ScriptTarget {
    ScriptTarget::new("arch-systems", "water app", "2.0").expect("target")
}

pub fn tag(tag: u32, major: u8, minor: u8) -> TagVersion {
    TagVersion::new(tag, major, minor).expect("fits")
}

/// A POD with no readings of its own, app tag 2049 v1.0 (the factory default).
pub fn pod(device_id: u64) -> VirtualPod {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(device_id)
    };
    VirtualPod::new(config).expect("the POD starts")
}

/// Pushes a constant, resets the POD in the middle, then sets app tag 2050 v2.0: it is not
/// idempotent in what the POD records (every completed run is kept by its hash).
pub fn script() -> Vec<u8> {
    let stream = DataStream::from_code(0x2001).expect("stream");
    UpdateScript::new(vec![
        Record::set_constant(stream, 5),
        Record::reset_device(),
        Record::set_device_tag(None, Some(tag(2050, 2, 0))).expect("record"),
    ])
    .encode()
}

/// A larger script (some 300 records, ~5 KiB) so that sending it takes many writes.
pub fn large_script() -> Vec<u8> {
    let stream = DataStream::from_code(0x2002).expect("stream");
    let mut records: Vec<Record> = (0..300).map(|i| Record::set_constant(stream, i)).collect();
    records.extend(UpdateScript::decode(&script()).expect("script").records);
    UpdateScript::new(records).encode()
}

/// A feed offering `bytes` to `devices`, signed by `key` (unsigned when `None`).
pub fn feed(bytes: &[u8], key: Option<&ReleaseSecret>, devices: &[u64]) -> OtaFeed {
    OtaFeed {
        release_keys: vec![release_key().public()],
        allow_unsigned: false,
        deployments: vec![FeedDeployment {
            id: DEPLOYMENT,
            script: FeedScript {
                slug: SLUG.into(),
                target: target(),
                size: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(bytes)),
                signature: key.map(|k| k.sign(&target(), bytes)),
            },
            selection_criteria: vec!["app_tag:eq:2049".into(), "app_version:lt:2.0".into()],
            released_on: "2026-12-07T10:00:00Z".into(),
            devices: devices.to_vec(),
        }],
    }
}

/// A buffer in `dir` that already holds the feed's script.
pub fn buffer(dir: &tempfile::TempDir, feed: &OtaFeed, bytes: &[u8]) -> Arc<Mutex<Buffer>> {
    let budget = Budget {
        max_bytes: 64 << 20,
    };
    let (mut buffer, _) = Buffer::open(&dir.path().join("buffer.sqlite"), budget).expect("opens");
    for d in &feed.deployments {
        buffer
            .save_ota_script(&d.script.slug, &d.script.sha256, bytes)
            .expect("saved");
    }
    Arc::new(Mutex::new(buffer))
}

/// How often each POD ran the script to its end.
pub fn runs(pod: &VirtualPod, bytes: &[u8]) -> usize {
    let sha = hex::encode(Sha256::digest(bytes));
    pod.with_model(|m| m.scripts_completed().iter().filter(|s| **s == sha).count())
}

pub fn app_tag(pod: &VirtualPod) -> TagVersion {
    pod.with_model(|m| m.app_tag())
}
