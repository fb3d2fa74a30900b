//! BLE advertisements and BGAPI packets against bytes made by the reference Python code,
//! plus round trips, truncations and random input.
//!
//! Golden bytes: made with iotile-transport-bled112 3.1.0 and iotile-core 5.2.0, do not edit.
//! v1 packets use `server_bled112.py`'s struct formats; v2 packets the blelib generator's
//! layout, encrypted with iotile-core's `DeriveRebootKey`/`DeriveRotatedKey`, bled112's
//! `generate_nonce` and pycryptodome AES-CCM; every advertisement was parsed back by
//! bled112's `_parse_v1_*`/`_parse_v2_advertisement` to the values asserted here. Commands
//! are packed with `bled112_cmd.py`'s formats, responses and events with `mock_bled112.py`'s
//! generator (address-bearing events with the driver's unpack formats, because the mock
//! writes addresses unreversed).

use proptest::prelude::*;
use sync_protocol::auth::RootKey;
use sync_protocol::bgapi::{
    codes, result_text, BdAddr, BgapiError, Command, Event, Packet, PacketReader, Response,
};
use sync_protocol::ble::{
    AdvFlags, Advertisement, AdvertisementV1, AdvertisementV2, BroadcastAuth, BroadcastDedup,
    BroadcastInfo, BroadcastKey, KeyType, V2Flags, TILEBUS_SERVICE_UUID_LE,
};
use sync_protocol::Reading;

fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text).expect("hex literal")
}

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

// ---- BGAPI -------------------------------------------------------------------------------

fn addr() -> BdAddr {
    "C0:11:22:33:44:55".parse().expect("address")
}

/// Commands, made with iotile-transport-bled112 3.1.0 (`bled112_cmd.py` packing), do not edit.
fn golden_commands() -> Vec<(&'static str, Command)> {
    vec![
        (
            "000f06035544332211c0010600640064000000",
            Command::connect(addr()),
        ),
        (
            "00080401020100ffff020028",
            Command::read_primary_services(2),
        ),
        (
            "00050607200d200d01",
            Command::coretools_scan_parameters(true),
        ),
        (
            "00050403000b00ffff",
            Command::FindInformation {
                connection: 0,
                start: 0x0B,
                end: 0xFFFF,
            },
        ),
        (
            "00030404000e00",
            Command::ReadByHandle {
                connection: 0,
                handle: 0x0E,
            },
        ),
        (
            "00060405000e00020100",
            Command::AttributeWrite {
                connection: 0,
                handle: 0x0E,
                value: vec![1, 0],
            },
        ),
        (
            "00090406011300050000040008",
            Command::WriteCommand {
                connection: 1,
                handle: 0x13,
                value: vec![0, 0, 4, 0, 8],
            },
        ),
        (
            "000506090103020106",
            Command::GapSetAdvData {
                scan_response: 1,
                data: vec![2, 1, 6],
            },
        ),
        (
            "00080205ff0c0004c0000004",
            Command::AttributesSend {
                connection: 0xFF,
                handle: 12,
                value: vec![0xC0, 0, 0, 4],
            },
        ),
        (
            "0001030001",
            Command::ConnectionDisconnect { connection: 1 },
        ),
        ("00000604", Command::GapEndProcedure),
        ("00000006", Command::SystemGetConnections),
        ("0001060202", Command::GapDiscover { mode: 2 }),
        (
            "000206010402",
            Command::GapSetMode {
                discover: 4,
                connect: 2,
            },
        ),
        (
            "00030507000703",
            Command::SmSetParameters {
                mitm: 0,
                min_key_size: 7,
                io_capabilities: 3,
            },
        ),
        ("0001050100", Command::SmSetBondableMode { bondable: 0 }),
        (
            "000205000100",
            Command::SmEncryptStart {
                connection: 1,
                bonding: 0,
            },
        ),
        (
            "0011050610000102030405060708090a0b0c0d0e0f",
            Command::SmSetOobData {
                oob: (0..16).collect(),
            },
        ),
    ]
}

/// Responses, made with iotile-transport-bled112 3.1.0 (`mock_bled112.py`), do not edit.
fn golden_responses() -> Vec<(&'static str, Response)> {
    vec![
        (
            "0001000603",
            Response::SystemGetConnections { max_connections: 3 },
        ),
        (
            "00030603000002",
            Response::GapConnectDirect {
                result: 0,
                connection: 2,
            },
        ),
        (
            "00030300010000",
            Response::ConnectionDisconnect {
                connection: 1,
                result: 0,
            },
        ),
        (
            "00030405008601",
            Response::AttributeWrite {
                connection: 0,
                result: codes::NOT_CONNECTED,
            },
        ),
        (
            "000206028101",
            Response::GapDiscover {
                result: codes::WRONG_STATE,
            },
        ),
        ("000206070000", Response::GapSetScanParameters { result: 0 }),
    ]
}

/// Events, made with iotile-transport-bled112 3.1.0 (`mock_bled112.py`; 3/0 and 6/0 with
/// the driver's unpack formats, 2/x with `server_bled112.py`'s), do not edit.
fn golden_events() -> Vec<(&'static str, Event)> {
    vec![
        (
            "80030304011302",
            Event::ConnectionDisconnected {
                connection: 1,
                reason: codes::REMOTE_USER_TERMINATED,
            },
        ),
        (
            "800504010001040e00",
            Event::ProcedureCompleted {
                connection: 0,
                result: codes::ATT_INVALID_HANDLE,
                handle: 0x0E,
            },
        ),
        (
            "80160402000b00ffff10630ff60f2c1311e6ba53f73f00200000",
            Event::GroupFound {
                connection: 0,
                start: 0x0B,
                end: 0xFFFF,
                uuid: TILEBUS_SERVICE_UUID_LE.to_vec(),
            },
        ),
        (
            "80060404000e00020229",
            Event::FindInformationFound {
                connection: 0,
                handle: 0x0E,
                uuid: vec![0x02, 0x29],
            },
        ),
        (
            "80090405000d000104c0000004",
            Event::AttributeValue {
                connection: 0,
                handle: 0x0D,
                kind: 1,
                value: vec![0xC0, 0, 0, 4],
            },
        ),
        (
            "80030501000503",
            Event::SmBondingFail {
                connection: 0,
                result: codes::SM_PAIRING_NOT_SUPPORTED,
            },
        ),
        (
            "8010030002055544332211c0013c0064000000ff",
            Event::ConnectionStatus {
                connection: 2,
                flags: 5,
                address: addr(),
                address_type: 1,
                interval: 60,
                timeout: 100,
                latency: 0,
                bonding: 0xFF,
            },
        ),
        (
            "800e0600c2005544332211c001ff03020106",
            Event::ScanResponse {
                rssi: -62,
                packet_type: 0,
                address: addr(),
                address_type: 1,
                bond: 0xFF,
                data: vec![2, 1, 6],
            },
        ),
        (
            "800302020e0001",
            Event::AttributesStatus {
                handle: 0x0E,
                flags: 1,
            },
        ),
        (
            "800c0200000208000000050000040008",
            Event::AttributesValue {
                connection: 0,
                reason: 2,
                handle: 8,
                offset: 0,
                value: vec![0, 0, 4, 0, 8],
            },
        ),
    ]
}

fn all_golden_packets() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = golden_commands().iter().map(|(h, _)| bytes(h)).collect();
    out.extend(golden_responses().iter().map(|(h, _)| bytes(h)));
    out.extend(golden_events().iter().map(|(h, _)| bytes(h)));
    out
}

#[test]
fn commands_match_the_reference_bytes() {
    for (golden, command) in golden_commands() {
        let golden = bytes(golden);
        assert_eq!(command.encode().expect("encodes").encode(), golden);
        let packet = Packet::decode(&golden).expect("one packet");
        assert_eq!(Command::decode(&packet), Ok(command));
        assert!(Event::decode(&packet).is_err(), "a command is not an event");
    }
}

#[test]
fn responses_match_the_reference_bytes() {
    for (golden, response) in golden_responses() {
        let golden = bytes(golden);
        assert_eq!(response.encode().encode(), golden);
        let packet = Packet::decode(&golden).expect("one packet");
        assert_eq!(Response::decode(&packet), Ok(response));
    }
    let connect = Command::connect(addr());
    assert!(Response::GapConnectDirect {
        result: 0,
        connection: 0
    }
    .answers(&connect));
    assert_eq!(
        result_text(codes::OUT_OF_MEMORY),
        "out of memory (buffers full)"
    );
    assert_eq!(
        result_text(codes::CONNECTION_FAILED_TO_BE_ESTABLISHED),
        "connection failed to be established"
    );
}

#[test]
fn events_match_the_reference_bytes() {
    for (golden, event) in golden_events() {
        let golden = bytes(golden);
        assert_eq!(event.encode().expect("encodes").encode(), golden);
        let packet = Packet::decode(&golden).expect("one packet");
        assert_eq!(Event::decode(&packet), Ok(event));
        assert!(
            Response::decode(&packet).is_err(),
            "an event is not a response"
        );
    }
    // The driver's sizes: 3/0 is 16 bytes, 4/1 is 5.
    let status = Packet::decode(&bytes(golden_events()[6].0)).expect("packet");
    assert_eq!(status.payload().len(), 16);
}

#[test]
fn unknown_class_and_id_are_kept_raw() {
    let packet = Packet::event(0x0F, 0x7E, vec![1, 2, 3]).expect("fits");
    assert_eq!(Event::decode(&packet), Ok(Event::Other(packet.clone())));
    let gone = Packet::decode(&[0x80, 0x00, 0xFF, 0xFF]).expect("coretools marker");
    assert!(matches!(Event::decode(&gone), Ok(Event::Other(_))));
    let command = Packet::command(1, 9, vec![]).expect("fits");
    assert_eq!(
        Command::decode(&command),
        Ok(Command::Other(command.clone()))
    );
    assert_eq!(
        Response::decode(&command),
        Ok(Response::Other(command.clone()))
    );
}

/// Which typed decoder a golden packet is for.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Command,
    Response,
    Event,
}

fn golden_packets_by_kind() -> Vec<(Vec<u8>, Kind)> {
    let mut out: Vec<_> = golden_commands()
        .iter()
        .map(|(h, _)| (bytes(h), Kind::Command))
        .collect();
    out.extend(
        golden_responses()
            .iter()
            .map(|(h, _)| (bytes(h), Kind::Response)),
    );
    out.extend(golden_events().iter().map(|(h, _)| (bytes(h), Kind::Event)));
    out
}

fn typed_decode_fails(packet: &Packet, kind: Kind) -> bool {
    match kind {
        Kind::Command => Command::decode(packet).is_err(),
        Kind::Response => Response::decode(packet).is_err(),
        Kind::Event => Event::decode(packet).is_err(),
    }
}

#[test]
fn every_truncated_packet_is_an_error() {
    for (golden, kind) in golden_packets_by_kind() {
        for len in 0..golden.len() {
            assert!(
                Packet::decode(&golden[..len]).is_err(),
                "{golden:02x?} cut at {len}"
            );
        }
        let mut long = golden.clone();
        long.push(0);
        assert!(matches!(
            Packet::decode(&long),
            Err(BgapiError::TrailingPacketBytes { .. })
        ));
        // A well-framed packet whose payload lost bytes, or gained one, is refused by its
        // typed decoder.
        let packet = Packet::decode(&golden).expect("packet");
        let payload = packet.payload().to_vec();
        for len in (0..payload.len()).chain([payload.len() + 1]) {
            let mut changed = payload.clone();
            changed.resize(len, 0);
            let p = Packet::new(packet.event, packet.class, packet.id, changed).expect("fits");
            assert!(typed_decode_fails(&p, kind), "{kind:?} {p:?}");
        }
    }
}

#[test]
fn long_arrays_cannot_be_encoded() {
    let write = Command::WriteCommand {
        connection: 0,
        handle: 1,
        value: vec![0; 256],
    };
    assert!(matches!(
        write.encode(),
        Err(BgapiError::ArrayTooLong { len: 256, .. })
    ));
    let value = Event::AttributeValue {
        connection: 0,
        handle: 1,
        kind: 1,
        value: vec![0; 255],
    };
    assert!(value.encode().is_ok());
}

#[test]
fn the_reader_splits_packets_at_every_chunking() {
    let packets = all_golden_packets();
    let stream: Vec<u8> = packets.concat();
    for size in 1..=64 {
        let mut reader = PacketReader::new();
        let mut got = Vec::new();
        for chunk in stream.chunks(size) {
            reader.push(chunk);
            while let Some(item) = reader.pop() {
                got.push(item.expect("no garbage").encode());
            }
        }
        assert_eq!(got, packets, "chunk size {size}");
        assert_eq!(reader.pending(), 0);
    }
}

#[test]
fn the_reader_reports_garbage_and_resynchronises() {
    let packets = all_golden_packets();
    let mut reader = PacketReader::new();
    reader.push(&[0xFF, 0x48]);
    reader.push(&packets[0]);
    let garbage = reader.pop().expect("item").expect_err("garbage first");
    assert_eq!(garbage.bytes, vec![0xFF, 0x48]);
    assert_eq!(
        reader.pop().expect("item").expect("packet").encode(),
        packets[0]
    );
    assert!(reader.pop().is_none());
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

    #[test]
    fn random_bytes_never_panic_the_reader(stream in prop::collection::vec(any::<u8>(), 0..600), size in 1usize..70) {
        let mut reader = PacketReader::new();
        let mut consumed = 0;
        for chunk in stream.chunks(size) {
            reader.push(chunk);
            while let Some(item) = reader.pop() {
                match item {
                    Ok(packet) => {
                        consumed += packet.encode().len();
                        let _ = (Command::decode(&packet), Response::decode(&packet), Event::decode(&packet));
                    }
                    Err(garbage) => {
                        prop_assert!(!garbage.bytes.is_empty());
                        consumed += garbage.bytes.len();
                    }
                }
            }
        }
        prop_assert_eq!(consumed + reader.pending(), stream.len());
    }

    /// Whatever typed decoders accept, they re-encode to the same packet.
    #[test]
    fn typed_decoders_are_exact(event in any::<bool>(), class in 0u8..8, id in 0u8..12, payload in prop::collection::vec(any::<u8>(), 0..40)) {
        let packet = Packet::new(event, class, id, payload).expect("fits");
        if let Ok(command) = Command::decode(&packet) {
            prop_assert_eq!(command.encode().expect("re-encodes"), packet.clone());
        }
        if let Ok(response) = Response::decode(&packet) {
            prop_assert_eq!(response.encode(), packet.clone());
        }
        if let Ok(event) = Event::decode(&packet) {
            prop_assert_eq!(event.encode().expect("re-encodes"), packet.clone());
        }
        let bytes = packet.encode();
        prop_assert_eq!(Packet::decode(&bytes), Ok(packet));
    }
}
