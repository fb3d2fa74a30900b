use proptest::prelude::*;

use sha2::Digest;

use super::envelope::signing_bytes;
use super::*;

const SECRET: [u8; 32] = [7; 32];
const NONCE: [u8; 16] = [0xA5; 16];
const NOW: u64 = 1_700_000_000;
const SKEW: u64 = 300;
const BODY: &[u8] = br#"{"reports":[]}"#;
const PATH: &str = "/api/v1/gateway/sync?batch=1";

fn secret() -> GatewaySecret {
    GatewaySecret::from_bytes(&SECRET)
}

fn signed() -> SignedHeaders {
    sign(&secret(), "POST", PATH, BODY, NOW, NONCE)
}

fn check(
    h: &SignedHeaders,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Verified, SyncAuthError> {
    verify(h, &secret().public(), method, path, body, NOW, SKEW)
}

#[test]
fn sign_then_verify_through_header_strings() {
    let pairs = signed().to_pairs();
    let parsed = SignedHeaders::from_lookup(|name| {
        pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    })
    .expect("parses");
    let ok = check(&parsed, "POST", PATH, BODY).expect("verifies");
    assert_eq!(ok.key, secret().public());
    assert_eq!(ok.timestamp, NOW);
    assert_eq!(ok.nonce, NONCE);
}

#[test]
fn fixed_test_vector_pins_the_format() {
    let h = signed();
    assert_eq!(
        h.key.key_id(),
        "gw--ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
    );
    assert_eq!(hex::encode(h.signature), "df4d07a67ea25f74e0bca33bbfba8022b0d7567b8f0110d74b3538011f0dda8007ff4d9c6983b750a116eed5501fe44ae9e1b39552dd6c361db559f30468bb04");
    assert_eq!(
        hex::encode(h.body_sha256),
        "486a8f07711a55700e1ed31c536217c17f3135cc6340b4830bcb4f87bbc7072a"
    );
}

#[test]
fn every_tampered_field_fails() {
    let h = signed();
    assert_eq!(
        check(&h, "PUT", PATH, BODY),
        Err(SyncAuthError::BadSignature)
    );
    assert_eq!(
        check(&h, "post", PATH, BODY),
        Err(SyncAuthError::BadSignature)
    );
    assert_eq!(
        check(&h, "POST", "/api/v1/gateway/sync?batch=2", BODY),
        Err(SyncAuthError::BadSignature)
    );
    assert_eq!(
        check(&h, "POST", PATH, b"{\"reports\":[1]}"),
        Err(SyncAuthError::BodyHashMismatch)
    );
    // A body hash header rewritten to match a new body still fails the signature.
    let body = b"other";
    let mut forged = h.clone();
    forged.body_sha256 = sha2::Sha256::digest(body).into();
    assert_eq!(
        check(&forged, "POST", PATH, body),
        Err(SyncAuthError::BadSignature)
    );
    let mut t = h.clone();
    t.timestamp += 1;
    assert_eq!(
        check(&t, "POST", PATH, BODY),
        Err(SyncAuthError::BadSignature)
    );
    let mut n = h.clone();
    n.nonce[15] ^= 1;
    assert_eq!(
        check(&n, "POST", PATH, BODY),
        Err(SyncAuthError::BadSignature)
    );
    let mut s = h.clone();
    s.signature[0] ^= 1;
    assert_eq!(
        check(&s, "POST", PATH, BODY),
        Err(SyncAuthError::BadSignature)
    );
    // Another gateway's key in the header, or checked against another key.
    let other = GatewaySecret::from_bytes(&[9; 32]).public();
    let mut k = h.clone();
    k.key = other;
    assert!(matches!(
        check(&k, "POST", PATH, BODY),
        Err(SyncAuthError::WrongKey { .. })
    ));
    assert!(matches!(
        verify(&h, &other, "POST", PATH, BODY, NOW, SKEW),
        Err(SyncAuthError::WrongKey { .. })
    ));
    // Signed by another key but claiming ours.
    let mut impostor = sign(
        &GatewaySecret::from_bytes(&[9; 32]),
        "POST",
        PATH,
        BODY,
        NOW,
        NONCE,
    );
    impostor.key = secret().public();
    assert_eq!(
        check(&impostor, "POST", PATH, BODY),
        Err(SyncAuthError::BadSignature)
    );
}

#[test]
fn skew_window_edges() {
    let at = |ts| {
        let h = sign(&secret(), "GET", "/x", b"", ts, NONCE);
        verify(&h, &secret().public(), "GET", "/x", b"", NOW, SKEW)
    };
    assert!(at(NOW - SKEW).is_ok());
    assert!(at(NOW + SKEW).is_ok());
    assert!(matches!(
        at(NOW - SKEW - 1),
        Err(SyncAuthError::Stale { .. })
    ));
    assert!(matches!(
        at(NOW + SKEW + 1),
        Err(SyncAuthError::Future { .. })
    ));
    // Near the ends of the range nothing overflows.
    let h = sign(&secret(), "GET", "/x", b"", u64::MAX, NONCE);
    assert!(verify(&h, &secret().public(), "GET", "/x", b"", u64::MAX, SKEW).is_ok());
    let h = sign(&secret(), "GET", "/x", b"", 0, NONCE);
    assert!(verify(&h, &secret().public(), "GET", "/x", b"", 5, SKEW).is_ok());
}

#[test]
fn malformed_headers_are_errors() {
    let [(_, g), (_, t), (_, n), (_, b), (_, s)] = signed().to_pairs();
    let field = |r: Result<SignedHeaders, SyncAuthError>| match r {
        Err(SyncAuthError::Malformed { field, .. }) => field,
        other => panic!("expected malformed, got {other:?}"),
    };
    assert_eq!(
        field(SignedHeaders::from_values("gw--zz", &t, &n, &b, &s)),
        HEADER_GATEWAY
    );
    assert_eq!(
        field(SignedHeaders::from_values(&g, "-5", &n, &b, &s)),
        HEADER_TIMESTAMP
    );
    assert_eq!(
        field(SignedHeaders::from_values(&g, "+5", &n, &b, &s)),
        HEADER_TIMESTAMP
    );
    assert_eq!(
        field(SignedHeaders::from_values(
            &g,
            "99999999999999999999999",
            &n,
            &b,
            &s
        )),
        HEADER_TIMESTAMP
    );
    assert_eq!(
        field(SignedHeaders::from_values(&g, &t, &n[1..], &b, &s)),
        HEADER_NONCE
    );
    assert_eq!(
        field(SignedHeaders::from_values(&g, &t, &n, "é", &s)),
        HEADER_CONTENT_SHA256
    );
    let long = "a".repeat(1000);
    assert_eq!(
        field(SignedHeaders::from_values(&g, &t, &n, &b, &long)),
        HEADER_SIGNATURE
    );
    assert_eq!(
        SignedHeaders::from_lookup(|_| None),
        Err(SyncAuthError::MissingHeader(HEADER_GATEWAY))
    );
    // Lenient on case and space.
    let upper = format!("  {}  ", g.to_uppercase());
    let lenient =
        SignedHeaders::from_values(&upper, &t, &n.to_uppercase(), &b, &s).expect("lenient");
    assert_eq!(lenient, signed());
}

#[test]
fn key_ids_parse_leniently_and_print_canonically() {
    let key = secret().public();
    let id = key.key_id();
    assert!(id.starts_with("gw--") && id.len() == 68);
    let bare = &id[4..];
    for form in [
        id.clone(),
        id.to_uppercase(),
        bare.to_owned(),
        format!(" {id}\n"),
    ] {
        assert_eq!(GatewayPublicKey::parse(&form), Ok(key), "{form}");
    }
    assert!(GatewayPublicKey::parse("gw--").is_err());
    assert!(GatewayPublicKey::parse(&format!("{id}00")).is_err());
    assert!(GatewayPublicKey::parse("gw--ééééééééééééééééééééééééééééééééé").is_err());
    let json = serde_json::to_string(&key).expect("serializes");
    assert_eq!(json, format!("\"{id}\""));
    assert_eq!(
        serde_json::from_str::<GatewayPublicKey>(&json).expect("parses"),
        key
    );
}

#[test]
fn secret_keys_round_trip_through_bytes() {
    let s = secret();
    assert_eq!(s.to_bytes(), SECRET);
    assert_eq!(
        GatewaySecret::from_slice(&SECRET)
            .expect("32 bytes")
            .public(),
        s.public()
    );
    assert_eq!(
        GatewaySecret::from_slice(&[1; 31]).err(),
        Some(KeyError::BadSecretLength(31))
    );
    assert!(!format!("{s:?}").contains(&hex::encode(SECRET)));
}

#[test]
fn registration_round_trip_and_tamper() {
    let reg = Registration::new(&secret(), "ABCD-1234", Some("barn 3".into()));
    assert_eq!(verify_registration(&reg), Ok(secret().public()));
    let json = serde_json::to_string(&reg).expect("serializes");
    let back: Registration = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, reg);

    let mut code = reg.clone();
    code.code = "ABCD-1235".into();
    assert_eq!(verify_registration(&code), Err(SyncAuthError::BadSignature));
    let mut key = reg.clone();
    key.public_key = GatewaySecret::from_bytes(&[9; 32]).public().key_id();
    assert_eq!(verify_registration(&key), Err(SyncAuthError::BadSignature));
    let mut proof = reg.clone();
    let flipped = if proof.proof.starts_with('0') {
        "1"
    } else {
        "0"
    };
    proof.proof.replace_range(0..1, flipped);
    assert_eq!(
        verify_registration(&proof),
        Err(SyncAuthError::BadSignature)
    );
    let mut short = reg.clone();
    short.proof.truncate(10);
    assert!(matches!(
        verify_registration(&short),
        Err(SyncAuthError::Malformed { field: "proof", .. })
    ));
    let mut empty = reg.clone();
    empty.code.clear();
    assert!(matches!(
        verify_registration(&empty),
        Err(SyncAuthError::Malformed { field: "code", .. })
    ));
    // A request signature is not a registration proof: the domain tags differ.
    let request = sign(&secret(), "POST", "ABCD-1234", b"", 0, NONCE);
    let mut cross = reg.clone();
    cross.proof = hex::encode(request.signature);
    assert_eq!(
        verify_registration(&cross),
        Err(SyncAuthError::BadSignature)
    );
    assert!(serde_json::from_str::<Registration>(
        r#"{"code":"a","public_key":"b","proof":"c","x":1}"#
    )
    .is_err());
}

fn device(n: u64) -> crate::ids::DeviceId {
    crate::ids::DeviceId::new(n).expect("in range")
}

#[test]
fn batch_and_answer_round_trip_through_json() {
    let batch = SyncBatch {
        reports: vec![
            BatchReport {
                device: device(0xd2),
                streamer: 0,
                received_at_us: 1_700_000_000_123_456,
                raw: vec![1, 2, 3, 255],
            },
            BatchReport {
                device: device(0xd3),
                streamer: 1,
                received_at_us: 1,
                raw: vec![0; 20],
            },
        ],
        backlog: None,
    };
    let json = serde_json::to_string(&batch).expect("serializes");
    assert!(json.contains("\"raw\":\"AQID/w==\""), "{json}");
    assert!(json.contains("d--0000-0000-0000-00d2"), "{json}");
    assert_eq!(
        serde_json::from_str::<SyncBatch>(&json).expect("parses"),
        batch
    );
    assert_eq!(batch.check_limits(), Ok(()));

    let answer = SyncAnswer {
        results: vec![
            ReportOutcome::Accepted,
            ReportOutcome::Duplicate,
            ReportOutcome::Rejected {
                reason: "bad signature".into(),
            },
        ],
        cloud_has: vec![StreamerProgress {
            device: device(0xd2),
            streamer: 0,
            last_id: 4242,
        }],
    };
    let json = serde_json::to_string(&answer).expect("serializes");
    assert!(
        json.contains(r#"{"outcome":"rejected","reason":"bad signature"}"#),
        "{json}"
    );
    assert_eq!(
        serde_json::from_str::<SyncAnswer>(&json).expect("parses"),
        answer
    );
    assert!(serde_json::from_str::<SyncBatch>(
        r#"{"reports":[{"device":"d--00d2","streamer":0,"received_at_us":0,"raw":"!!"}]}"#
    )
    .is_err());
}

#[test]
fn batch_limits() {
    let one = |len| BatchReport {
        device: device(1),
        streamer: 0,
        received_at_us: 0,
        raw: vec![0; len],
    };
    let check = |reports| {
        SyncBatch {
            reports,
            backlog: None,
        }
        .check_limits()
    };
    assert_eq!(check(vec![one(0)]), Err(BatchError::EmptyReport(0)));
    assert_eq!(
        check(vec![one(10), one(batch::MAX_REPORT_BYTES + 1)]),
        Err(BatchError::ReportTooLarge {
            index: 1,
            len: batch::MAX_REPORT_BYTES + 1
        })
    );
    assert!(matches!(
        check((0..100).map(|_| one(batch::MAX_REPORT_BYTES)).collect()),
        Err(BatchError::TooManyBytes(_))
    ));
    assert!(matches!(
        check((0..=batch::MAX_BATCH_REPORTS).map(|_| one(1)).collect()),
        Err(BatchError::TooManyReports(_))
    ));
    // An oversize raw field is refused while parsing.
    let big = format!(
        r#"{{"reports":[{{"device":"d--01","streamer":0,"received_at_us":0,"raw":"{}"}}]}}"#,
        "A".repeat(batch::MAX_REPORT_BYTES * 2)
    );
    assert!(serde_json::from_str::<SyncBatch>(&big).is_err());
}

fn backlog() -> Backlog {
    Backlog {
        reports: 12,
        raw_bytes: 34_000,
        readings: 240,
        oldest_received_at_us: Some(1_700_000_000_000_000),
        quarantined: 1,
        ota_outcomes: 2,
        buffer_full: true,
    }
}

#[test]
fn a_backlog_travels_with_a_batch_and_round_trips() {
    let batch = SyncBatch {
        reports: Vec::new(),
        backlog: Some(backlog()),
    };
    let json = serde_json::to_string(&batch).expect("serializes");
    assert_eq!(
        json,
        r#"{"reports":[],"backlog":{"reports":12,"raw_bytes":34000,"readings":240,"oldest_received_at_us":1700000000000000,"quarantined":1,"ota_outcomes":2,"buffer_full":true}}"#
    );
    assert_eq!(
        serde_json::from_str::<SyncBatch>(&json).expect("parses"),
        batch
    );
    assert_eq!(batch.check_limits(), Ok(()));
    // Nothing waiting: the oldest time is left out, and read back as absent.
    let clear = SyncBatch {
        reports: Vec::new(),
        backlog: Some(Backlog::default()),
    };
    let json = serde_json::to_string(&clear).expect("serializes");
    assert!(!json.contains("oldest"), "{json}");
    assert_eq!(serde_json::from_str::<SyncBatch>(&json).unwrap(), clear);
}

#[test]
fn batches_without_a_backlog_read_and_write_as_before() {
    // An older gateway's batch: no backlog field, read as unknown.
    let old: SyncBatch = serde_json::from_str(
        r#"{"reports":[{"device":"d--00d2","streamer":0,"received_at_us":5,"raw":"AQID/w=="}]}"#,
    )
    .expect("an older gateway's batch parses");
    assert_eq!(old.backlog, None);
    assert_eq!(old.reports.len(), 1);
    assert_eq!(old.check_limits(), Ok(()));
    // Without a backlog the body is the older shape exactly, which older clouds accept.
    let none = SyncBatch {
        reports: Vec::new(),
        backlog: None,
    };
    assert_eq!(serde_json::to_string(&none).unwrap(), r#"{"reports":[]}"#);
    let null: SyncBatch = serde_json::from_str(r#"{"reports":[],"backlog":null}"#).unwrap();
    assert_eq!(null.backlog, None);
    // The batch still refuses fields it does not know; the backlog ignores them.
    assert!(serde_json::from_str::<SyncBatch>(r#"{"reports":[],"extra":1}"#).is_err());
    let later: SyncBatch = serde_json::from_str(
        r#"{"reports":[],"backlog":{"reports":0,"raw_bytes":0,"readings":0,"quarantined":0,"ota_outcomes":0,"buffer_full":false,"added_later":7}}"#,
    )
    .expect("a later gateway's extra backlog figure is ignored");
    assert_eq!(later.backlog, Some(Backlog::default()));
}

/// The batch as the release before the backlog declared it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PreviousBatch {
    reports: Vec<BatchReport>,
}

#[test]
fn an_older_cloud_refuses_a_backlog_in_words_the_gateway_recognises() {
    let with = SyncBatch {
        reports: Vec::new(),
        backlog: Some(backlog()),
    };
    let error = serde_json::from_slice::<PreviousBatch>(&serde_json::to_vec(&with).unwrap())
        .expect_err("the older shape denies the new field");
    assert!(
        error.to_string().contains(backlog::REFUSED_BY_OLD_CLOUD),
        "{error}"
    );
    let without = SyncBatch {
        backlog: None,
        ..with
    };
    serde_json::from_slice::<PreviousBatch>(&serde_json::to_vec(&without).unwrap())
        .expect("without a backlog the older shape reads the batch");
}

#[test]
fn incoherent_or_hostile_backlogs_are_refused_with_a_reason() {
    let refused = |b: Backlog| {
        let batch = SyncBatch {
            reports: Vec::new(),
            backlog: Some(b),
        };
        match batch.check_limits() {
            Err(BatchError::Backlog(reason)) => reason,
            other => panic!("{b:?} passed: {other:?}"),
        }
    };
    let huge = Backlog {
        raw_bytes: u64::MAX,
        ..backlog()
    };
    assert!(refused(huge).contains("2^63"));
    let no_time = Backlog {
        oldest_received_at_us: None,
        ..backlog()
    };
    assert!(refused(no_time).contains("no time"));
    let stray_time = Backlog {
        oldest_received_at_us: Some(1),
        ..Backlog::default()
    };
    assert!(refused(stray_time).contains("has a time"));
    let before_1970 = Backlog {
        oldest_received_at_us: Some(-1),
        ..backlog()
    };
    assert!(refused(before_1970).contains("1970"));
    let stray_bytes = Backlog {
        raw_bytes: 10,
        ..Backlog::default()
    };
    assert!(refused(stray_bytes).contains("bytes"));
    let message = BatchError::Backlog("x".into()).to_string();
    assert_eq!(message, "the backlog does not add up: x");
    // Malformed figures are parse errors, not panics.
    for body in [
        r#"{"reports":[],"backlog":{"reports":-1,"raw_bytes":0,"readings":0,"quarantined":0,"ota_outcomes":0,"buffer_full":false}}"#,
        r#"{"reports":[],"backlog":{"reports":0}}"#,
        r#"{"reports":[],"backlog":"12 reports"}"#,
        r#"{"reports":[],"backlog":{"reports":1e99,"raw_bytes":0,"readings":0,"quarantined":0,"ota_outcomes":0,"buffer_full":false}}"#,
    ] {
        assert!(serde_json::from_str::<SyncBatch>(body).is_err(), "{body}");
    }
}

#[test]
fn signing_bytes_separate_fields() {
    let key = secret().public();
    let a = signing_bytes(&key, "POST", "/a", 1, &NONCE, &[0; 32]);
    let b = signing_bytes(&key, "POS", "T/a", 1, &NONCE, &[0; 32]);
    assert_ne!(a, b);
    assert!(a.starts_with(&[0, 0, 0, 22]));
    assert_eq!(&a[4..26], SIGNING_TAG.as_bytes());
}

proptest! {
    #[test]
    fn random_header_strings_never_panic(
        g in ".{0,80}", t in ".{0,30}", n in "[0-9a-fA-Fx ]{0,40}", b in ".{0,70}", s in "[0-9a-f]{0,130}"
    ) {
        let parsed = SignedHeaders::from_values(&g, &t, &n, &b, &s);
        if let Ok(h) = parsed {
            prop_assert!(check(&h, "POST", PATH, BODY).is_err() || h == signed());
        }
        let _ = GatewayPublicKey::parse(&g);
    }

    #[test]
    fn random_registrations_never_panic(code in ".{0,200}", key in ".{0,80}", proof in "[0-9a-f]{0,130}") {
        let reg = Registration { code, public_key: key, proof, name: None };
        prop_assert!(verify_registration(&reg).is_err());
    }
}
