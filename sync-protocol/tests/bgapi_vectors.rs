//! BGAPI packets against bytes made by the reference Python code, plus round trips,
//! truncations, the packet reader and random input.
//!
//! Golden bytes: made with iotile-transport-bled112 3.1.0, do not edit. Commands are packed
//! with `bled112_cmd.py`'s formats, responses and events with `mock_bled112.py`'s generator
//! (address-bearing events with the driver's unpack formats, because the mock writes
//! addresses unreversed).

mod common_golden;

use common_golden::bytes;
use proptest::prelude::*;
use sync_protocol::bgapi::{
    codes, result_text, BdAddr, BgapiError, Command, Event, Packet, PacketReader, Response,
};
use sync_protocol::ble::TILEBUS_SERVICE_UUID_LE;

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

proptest! {
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
