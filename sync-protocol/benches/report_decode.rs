//! P1: decode + verify a 200-reading SignedListReport, beside plain SHA-256 over the same
//! bytes (the floor: a decoder cannot beat hashing what it verifies).
//!
//! Inputs are reports made by the reference Python tools:
//! `shared/vectors/iotile/signed_list_hash_3.bin` (hash only) and
//! `bench/data/signed_list_userkey_200.bin` (user key `5e` × 32, readings encrypted).
//!
//! After criterion's own statistics, a summary line per case gives our time, the SHA-256
//! time and their ratio (`P1 <case> ours_ns=… sha256_ns=… ratio=…`); for the keyed case it
//! also gives the cryptographic floor (hash + two HMACs + AES-CTR) and our share of it.
//! `bench/p1.sh` reads these lines.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use criterion::{criterion_group, Criterion, Throughput};
use sha2::{Digest, Sha256};
use sync_protocol::auth::RootKey;
use sync_protocol::report::{Report, SignedListReport};

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    key: Option<RootKey>,
}

fn cases() -> Vec<Case> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let read =
        |path: PathBuf| std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    vec![
        Case {
            name: "hash_only",
            bytes: read(root.join("../shared/vectors/iotile/signed_list_hash_3.bin")),
            key: None,
        },
        Case {
            name: "user_key",
            bytes: read(root.join("bench/data/signed_list_userkey_200.bin")),
            key: Some(RootKey::new([0x5e; 32])),
        },
    ]
}

/// Decode, verify and (for keyed reports) decrypt: what a receiver does with a report.
fn decode_and_verify(bytes: &[u8], key: Option<&RootKey>) -> usize {
    match SignedListReport::decode(bytes) {
        Ok(report) => report.readings(key).map_or(0, |readings| readings.len()),
        Err(_) => 0,
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        assert_eq!(
            decode_and_verify(&case.bytes, case.key.as_ref()),
            200,
            "{} must verify",
            case.name
        );
        assert!(matches!(
            Report::decode(&case.bytes),
            Ok(Report::SignedList(_))
        ));
        let mut group = c.benchmark_group(format!("p1_{}", case.name));
        group.throughput(Throughput::Bytes(case.bytes.len() as u64));
        group.bench_function("decode_verify", |b| {
            b.iter(|| decode_and_verify(black_box(&case.bytes), case.key.as_ref()))
        });
        group.bench_function("sha256_same_bytes", |b| {
            b.iter(|| sha256(black_box(&case.bytes)))
        });
        group.finish();
    }
}

/// Best-of-batches nanoseconds per call: stable enough for a ratio printed beside criterion.
fn ns_per_call(mut f: impl FnMut()) -> f64 {
    const CALLS: u32 = 20_000;
    (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..CALLS {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(CALLS)
        })
        .fold(f64::INFINITY, f64::min)
}

fn summary() {
    for case in cases() {
        let ours = ns_per_call(|| {
            black_box(decode_and_verify(black_box(&case.bytes), case.key.as_ref()));
        });
        let hash = ns_per_call(|| {
            black_box(sha256(black_box(&case.bytes)));
        });
        print!(
            "P1 {} ours_ns={ours:.0} sha256_ns={hash:.0} ratio={:.3}",
            case.name,
            hash / ours
        );
        if let Some(key) = &case.key {
            // A keyed report cannot cost less than its cryptography: the hash, two HMACs
            // (key derivation and signature) and AES-CTR over the reading area.
            let report = SignedListReport::decode(&case.bytes).expect("decodes");
            let signed = &case.bytes[..case.bytes.len() - 16];
            let mut area = report.reading_area().to_vec();
            let floor = ns_per_call(|| {
                let digest = sha256(black_box(signed));
                let report_key =
                    key.report_key(report.header.report_id, report.header.sent_timestamp);
                black_box(report_key.sign_digest(&digest));
                report_key.apply_keystream(black_box(&mut area));
            });
            print!(
                " crypto_floor_ns={floor:.0} share_of_floor={:.3}",
                floor / ours
            );
        }
        println!();
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
