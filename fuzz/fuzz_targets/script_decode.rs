//! Any bytes: an update script or an error, never a panic; a decoded script re-encodes to
//! the same bytes. Most inputs fail the header hash, so the target also re-hashes the input
//! (fixing magic, length and hash) to reach the record parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use sync_protocol::script::UpdateScript;

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut fixed = vec![0u8; 16];
    fixed.extend_from_slice(&0x1F2E_3D4Cu32.to_le_bytes());
    fixed.extend_from_slice(&((data.len() + 24) as u32).to_le_bytes());
    fixed.extend_from_slice(data);
    let hash = Sha256::digest(&fixed[16..]);
    fixed[..16].copy_from_slice(&hash[..16]);
    check(&fixed);
});

fn check(bytes: &[u8]) {
    if let Ok(script) = UpdateScript::decode(bytes) {
        assert_eq!(script.encode(), bytes, "scripts re-encode exactly");
        for record in &script.records {
            let _ = record.to_string();
            let _ = record.rpcs();
        }
    }
}
