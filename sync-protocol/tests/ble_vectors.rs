//! BLE advertisements against bytes made by the reference Python code, plus round trips,
//! truncations and random input.
//!
//! Golden bytes: made with iotile-transport-bled112 3.1.0 and iotile-core 5.2.0, do not edit.
//! v1 packets use `server_bled112.py`'s struct formats; v2 packets the blelib generator's
//! layout, encrypted with iotile-core's `DeriveRebootKey`/`DeriveRotatedKey`, bled112's
//! `generate_nonce` and pycryptodome AES-CCM; every advertisement was parsed back by
//! bled112's `_parse_v1_*`/`_parse_v2_advertisement` to the values asserted here.

mod common_golden;

use common_golden::bytes;
use proptest::prelude::*;
use sync_protocol::auth::RootKey;
use sync_protocol::ble::{
    AdvFlags, Advertisement, AdvertisementV1, AdvertisementV2, BroadcastAuth, BroadcastDedup,
    BroadcastInfo, BroadcastKey, KeyType, V2Flags, TILEBUS_SERVICE_UUID_LE,
};
use sync_protocol::Reading;

/// The user root key of the golden v2 packets: bytes 0x20..0x40.
fn user_root() -> RootKey {
    let mut root = [0u8; 32];
    for (i, b) in root.iter_mut().enumerate() {
        *b = 0x20 + i as u8;
    }
    RootKey::new(root)
}

// ---- v1 ----------------------------------------------------------------------------------

// made with iotile-transport-bled112 3.1.0, do not edit
const V1_ADV_A: &str = "0201061106630ff60f2c1311e6ba53f73f0020000009ffc0032b1a00001900";
const V1_SCAN_A: &str = "13ffc003cc03015087d6120003020100341200800709494f54696c65000000";
const V1_ADV_B: &str = "0201061106630ff60f2c1311e6ba53f73f0020000009ffc003efcdab000400";
const V1_SCAN_B: &str = "13ffc003ffffffff00000000000000004d0000000709494f54696c65000000";

fn v1_a() -> AdvertisementV1 {
    AdvertisementV1 {
        device_id: 0x1A2B,
        flags: AdvFlags {
            pending_data: true,
            robust_reports: true,
            fast_writes: true,
            ..AdvFlags::default()
        },
        voltage: 972,
        broadcast: Some((0x5001, 1_234_567, 0x0001_0203)),
        current_time: 0x8000_1234,
    }
}

fn v1_b() -> AdvertisementV1 {
    AdvertisementV1 {
        device_id: 0x00AB_CDEF,
        flags: AdvFlags {
            user_connected: true,
            ..AdvFlags::default()
        },
        voltage: 0xFFFF,
        broadcast: None,
        current_time: 77,
    }
}

#[test]
fn v1_matches_the_reference_bytes() {
    for (adv, scan, expected) in [(V1_ADV_A, V1_SCAN_A, v1_a()), (V1_ADV_B, V1_SCAN_B, v1_b())] {
        let (adv, scan) = (bytes(adv), bytes(scan));
        let (our_adv, our_scan) = expected.encode();
        assert_eq!(our_adv.to_vec(), adv);
        assert_eq!(our_scan.to_vec(), scan);
        assert_eq!(AdvertisementV1::decode(&adv, Some(&scan)), Ok(expected));
        assert_eq!(
            Advertisement::parse(&adv, Some(&scan), None),
            Ok(Advertisement::V1(expected))
        );
    }
    // Passive scanning: no scan response, so only the advertisement's fields.
    let alone = AdvertisementV1::decode(&bytes(V1_ADV_A), None).expect("v1");
    assert_eq!(alone.device_id, 0x1A2B);
    assert_eq!(alone.broadcast, None);
    assert!(!v1_b().connectable());
}

#[test]
fn v1_scan_response_from_blelib_layout_decodes_too() {
    // blelib writes length byte 0x15 and pads before the name; offsets 0..20 agree.
    let mut scan = bytes(V1_SCAN_A);
    scan[0] = 0x15;
    let decoded = AdvertisementV1::decode(&bytes(V1_ADV_A), Some(&scan)).expect("v1");
    assert_eq!(decoded, v1_a());
}

// ---- v2 ----------------------------------------------------------------------------------

// made with iotile-transport-bled112 3.1.0 and iotile-core 5.2.0, do not edit
const V2_PLAIN: &str = "0201061b16ddfd2b1a0000452301433d2c1b8a734502d04433221100000000";
const V2_NULL: &str = "0201061b16ddfd2b1a0000452301093d2c1b8a73451ee5260bb85e6afdb113";
const V2_NULL_EPHEMERAL: &str = "effb9e3ce08564572d30aad93b0d5cd5";
const V2_USER: &str = "0201061b16ddfdefcdab0007000090e8030000ffffd88fc563702af15a5b67";
const V2_USER_EPHEMERAL: &str = "ffb079afd23b2fb8a8d10970169bef01";
const V2_USER_NO_BROADCAST: &str = "0201061b16ddfdefcdab0007000014e8030000ff0058da4f4f07bbba6ae97f";

fn v2_plain() -> AdvertisementV2 {
    AdvertisementV2 {
        device_id: 0x1A2B,
        reboot_count: 0x12345,
        flags: V2Flags {
            pending_data: true,
            low_voltage: true,
            time_synchronised: true,
            ..V2Flags::default()
        },
        current_time: 0x8A1B_2C3D,
        battery: 115,
        broadcast_info: BroadcastInfo { counter: 5, id: 2 },
        broadcast: Some((0x5002, 0x1122_3344)),
        toggle: true,
    }
}

fn v2_null() -> AdvertisementV2 {
    AdvertisementV2 {
        flags: V2Flags {
            pending_data: true,
            key_type: KeyType::Null,
            ..V2Flags::default()
        },
        ..v2_plain()
    }
}

fn v2_user() -> AdvertisementV2 {
    AdvertisementV2 {
        device_id: 0x00AB_CDEF,
        reboot_count: 7,
        flags: V2Flags {
            key_type: KeyType::User,
            safe_mode: true,
            ..V2Flags::default()
        },
        current_time: 1000,
        battery: 0xFF,
        broadcast_info: BroadcastInfo { counter: 31, id: 7 },
        broadcast: Some((0x100A, 0xFFFF_FFFE)),
        toggle: false,
    }
}

fn v2_user_no_broadcast() -> AdvertisementV2 {
    AdvertisementV2 {
        flags: V2Flags {
            key_type: KeyType::User,
            user_connected: true,
            ..V2Flags::default()
        },
        broadcast_info: BroadcastInfo { counter: 0, id: 0 },
        broadcast: None,
        // blelib writes 0xFFFF for "no broadcast", so the hidden toggle bit is set.
        toggle: true,
        ..v2_user()
    }
}

#[test]
fn v2_matches_the_reference_bytes() {
    let user = BroadcastKey::user(&user_root());
    let cases = [
        (V2_PLAIN, v2_plain(), None, BroadcastAuth::Plain),
        (V2_NULL, v2_null(), None, BroadcastAuth::Verified),
        (V2_USER, v2_user(), Some(&user), BroadcastAuth::Verified),
        (
            V2_USER_NO_BROADCAST,
            v2_user_no_broadcast(),
            Some(&user),
            BroadcastAuth::Verified,
        ),
    ];
    for (golden, adv, key, auth) in cases {
        let golden = bytes(golden);
        assert_eq!(adv.encode(key).expect("encodes").to_vec(), golden);
        let decoded = AdvertisementV2::decode(&golden, key).expect("decodes");
        assert_eq!(decoded.advertisement, adv);
        assert_eq!(decoded.auth, auth);
        match Advertisement::parse(&golden, None, key).expect("parses") {
            Advertisement::V2(parsed) => assert_eq!(parsed, decoded),
            other => panic!("v2 parsed as {other:?}"),
        }
    }
    assert_eq!(
        BroadcastKey::null()
            .ephemeral_key(0x12345, 0x8A1B_2C3D)
            .to_vec(),
        bytes(V2_NULL_EPHEMERAL)
    );
    assert_eq!(
        user.ephemeral_key(7, 1000).to_vec(),
        bytes(V2_USER_EPHEMERAL)
    );
    // The ephemeral key only changes every 64 s.
    assert_eq!(user.ephemeral_key(7, 960), user.ephemeral_key(7, 1023));
    assert_ne!(user.ephemeral_key(7, 1023), user.ephemeral_key(7, 1024));
}

#[test]
fn v2_without_the_key_or_with_a_wrong_one_is_seen_without_broadcast() {
    let golden = bytes(V2_USER);
    let seen = AdvertisementV2 {
        broadcast: None,
        toggle: false,
        ..v2_user()
    };

    let no_key = AdvertisementV2::decode(&golden, None).expect("still an advertisement");
    assert_eq!(no_key.auth, BroadcastAuth::NoKey);
    assert_eq!(no_key.advertisement, seen);

    let other_root = RootKey::new([0x55; 32]);
    let wrong = BroadcastKey::user(&other_root);
    let failed = AdvertisementV2::decode(&golden, Some(&wrong)).expect("still an advertisement");
    assert_eq!(failed.auth, BroadcastAuth::Failed);
    assert_eq!(failed.advertisement, seen);
    assert_eq!(failed.advertisement.broadcast_report(), None);

    // A key of another type is not tried.
    let device = BroadcastKey::device(&user_root());
    let other_type = AdvertisementV2::decode(&golden, Some(&device)).expect("advertisement");
    assert_eq!(other_type.auth, BroadcastAuth::NoKey);

    // Any change to the authenticated bytes or the tag fails.
    let user = BroadcastKey::user(&user_root());
    for at in 7..31 {
        let mut tampered = golden.clone();
        tampered[at] ^= 0x01;
        let decoded = AdvertisementV2::decode(&tampered, Some(&user)).expect("advertisement");
        assert_eq!(decoded.auth, BroadcastAuth::Failed, "byte {at}");
    }
    // The key type comes from the flags, so a reader can pick a key first.
    assert_eq!(AdvertisementV2::key_type(&golden), Some(KeyType::User));
}

#[test]
fn v2_encode_refuses_inconsistent_keys_and_ranges() {
    let user = BroadcastKey::user(&user_root());
    assert!(v2_plain().encode(Some(&user)).is_err());
    assert!(v2_user().encode(None).is_err());
    assert!(v2_user().encode(Some(&BroadcastKey::null())).is_err());
    assert!(v2_null().encode(Some(&BroadcastKey::null())).is_ok());
    let reserved = AdvertisementV2 {
        flags: V2Flags {
            key_type: KeyType::Reserved(5),
            ..V2Flags::default()
        },
        ..v2_plain()
    };
    assert!(reserved.encode(None).is_err());
    for bad in [
        AdvertisementV2 {
            reboot_count: 1 << 20,
            ..v2_plain()
        },
        AdvertisementV2 {
            broadcast_info: BroadcastInfo { counter: 32, id: 0 },
            ..v2_plain()
        },
        AdvertisementV2 {
            broadcast_info: BroadcastInfo { counter: 0, id: 8 },
            ..v2_plain()
        },
        AdvertisementV2 {
            broadcast: Some((0x7FFF, 0)),
            ..v2_plain()
        },
    ] {
        assert!(bad.encode(None).is_err(), "{bad:?}");
    }
}

// ---- broadcasts as reports, dedup --------------------------------------------------------

// made with iotile-core 5.2.0 (BroadcastReport.FromReadings as bled112.py calls it), do not edit
const REPORT_FROM_V2_PLAIN: &str =
    "030010002b1a00003d2c1b8a0000000002500000000000003d2c1b8a44332211";
const REPORT_FROM_V1_A: &str = "030010002b1a0000030201000000000001500000000000000302010087d61200";

#[test]
fn broadcasts_become_one_reading_reports() {
    let report = v2_plain().broadcast_report().expect("has a broadcast");
    assert_eq!(report.encode(), bytes(REPORT_FROM_V2_PLAIN));
    assert_eq!(
        report.readings(),
        vec![Reading {
            stream: 0x5002,
            reading_id: 0,
            raw_time: 0x8A1B_2C3D,
            value: 0x1122_3344
        }]
    );
    let report = v1_a().broadcast_report().expect("has a broadcast");
    assert_eq!(report.encode(), bytes(REPORT_FROM_V1_A));
    assert_eq!(v1_b().broadcast_report(), None);
    let parsed = Advertisement::parse(&bytes(V2_PLAIN), None, None).expect("v2");
    assert_eq!(parsed.broadcast_report(), v2_plain().broadcast_report());
    assert_eq!(parsed.device_id(), 0x1A2B);
}

#[test]
fn dedup_drops_an_unchanged_toggle_and_counter_per_address_and_channel() {
    let mut dedup = BroadcastDedup::new();
    let decode = |adv: AdvertisementV2| {
        AdvertisementV2::decode(&adv.encode(None).expect("encodes"), None).expect("decodes")
    };
    let a = [1, 2, 3, 4, 5, 6];
    let b = [6, 5, 4, 3, 2, 1];
    let first = decode(v2_plain());
    assert!(!dedup.is_repeat(a, &first));
    assert!(dedup.is_repeat(a, &first));
    assert!(!dedup.is_repeat(b, &first));
    let other_channel = decode(AdvertisementV2 {
        broadcast_info: BroadcastInfo { counter: 5, id: 3 },
        ..v2_plain()
    });
    assert!(!dedup.is_repeat(a, &other_channel));
    let toggled = decode(AdvertisementV2 {
        toggle: false,
        ..v2_plain()
    });
    assert!(!dedup.is_repeat(a, &toggled));
    assert!(dedup.is_repeat(a, &toggled));
    let counted = decode(AdvertisementV2 {
        toggle: false,
        broadcast_info: BroadcastInfo { counter: 6, id: 2 },
        ..v2_plain()
    });
    assert!(!dedup.is_repeat(a, &counted));
    // Unreadable broadcasts are never repeats.
    let unreadable = AdvertisementV2::decode(&bytes(V2_USER), None).expect("decodes");
    assert!(!dedup.is_repeat(a, &unreadable));
    assert!(!dedup.is_repeat(a, &unreadable));
    assert_eq!(dedup.len(), 3);
}

#[test]
fn every_truncated_advertisement_is_an_error() {
    let user = BroadcastKey::user(&user_root());
    for golden in [V1_ADV_A, V1_ADV_B, V2_PLAIN, V2_NULL, V2_USER] {
        let golden = bytes(golden);
        for len in 0..golden.len() {
            let cut = &golden[..len];
            assert!(Advertisement::parse(cut, None, Some(&user)).is_err());
            assert!(AdvertisementV1::decode(cut, None).is_err());
            assert!(AdvertisementV2::decode(cut, Some(&user)).is_err());
        }
        let mut long = golden.clone();
        long.push(0);
        assert!(Advertisement::parse(&long, None, Some(&user)).is_err());
    }
    for scan in [V1_SCAN_A, V1_SCAN_B] {
        let scan = bytes(scan);
        for len in 0..scan.len() {
            assert!(AdvertisementV1::decode(&bytes(V1_ADV_A), Some(&scan[..len])).is_err());
        }
    }
    // A v1 advertisement whose service UUID is not TileBus's is refused.
    let mut other = bytes(V1_ADV_A);
    other[5] ^= 0xFF;
    assert!(AdvertisementV1::decode(&other, None).is_err());
    assert_eq!(&bytes(V1_ADV_A)[5..21], &TILEBUS_SERVICE_UUID_LE);
}

// ---- properties --------------------------------------------------------------------------

fn key_choice() -> impl Strategy<Value = Option<BroadcastKey>> {
    prop_oneof![
        Just(None),
        Just(Some(BroadcastKey::null())),
        any::<[u8; 32]>().prop_map(|root| Some(BroadcastKey::user(&RootKey::new(root)))),
        any::<[u8; 32]>().prop_map(|root| Some(BroadcastKey::device(&RootKey::new(root)))),
    ]
}

proptest! {
    #[test]
    fn v1_round_trips(
        device_id in any::<u32>(),
        flags in any::<u16>(),
        voltage in any::<u16>(),
        broadcast in prop::option::of((0u16..0x7FFF, any::<u32>(), any::<u32>())),
        current_time in any::<u32>(),
    ) {
        let adv = AdvertisementV1 { device_id, flags: AdvFlags::from_bits(flags), voltage, broadcast, current_time };
        let (a, s) = adv.encode();
        prop_assert_eq!(AdvertisementV1::decode(&a, Some(&s)), Ok(adv));
        prop_assert_eq!(Advertisement::parse(&a, Some(&s), None), Ok(Advertisement::V1(adv)));
    }

    #[test]
    fn v2_round_trips(
        device_id in any::<u32>(),
        reboot_count in 0u32..=0xF_FFFF,
        flags in any::<u8>(),
        current_time in any::<u32>(),
        battery in any::<u8>(),
        counter in 0u8..32,
        id in 0u8..8,
        broadcast in prop::option::of((0u16..0x7FFF, any::<u32>())),
        toggle in any::<bool>(),
        key in key_choice(),
    ) {
        let mut flags = V2Flags::from_bits(flags);
        flags.key_type = key.as_ref().map_or(KeyType::None, BroadcastKey::key_type);
        let adv = AdvertisementV2 {
            device_id, reboot_count, flags, current_time, battery,
            broadcast_info: BroadcastInfo { counter, id }, broadcast, toggle,
        };
        let bytes = adv.encode(key.as_ref()).expect("in range");
        let decoded = AdvertisementV2::decode(&bytes, key.as_ref()).expect("decodes");
        prop_assert_eq!(decoded.advertisement, adv);
        let expected = if key.is_some() { BroadcastAuth::Verified } else { BroadcastAuth::Plain };
        prop_assert_eq!(decoded.auth, expected);
    }

    #[test]
    fn random_advertisements_never_panic(
        mut adv in prop::collection::vec(any::<u8>(), 0..40),
        scan in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        key in key_choice(),
        v2 in any::<bool>(),
    ) {
        if v2 && adv.len() >= 7 {
            adv[3..7].copy_from_slice(&[0x1B, 0x16, 0xDD, 0xFD]);
        }
        let _ = Advertisement::parse(&adv, scan.as_deref(), key.as_ref());
        let _ = AdvertisementV1::decode(&adv, scan.as_deref());
        if let Ok(decoded) = AdvertisementV2::decode(&adv, key.as_ref()) {
            let _ = decoded.advertisement.broadcast_report();
            let _ = BroadcastDedup::new().is_repeat([0; 6], &decoded);
        }
    }
}
