//! Whole-script cases, with expectations taken from running the reference tools on the
//! same bytes.

use super::container::{push_record, seal};
use super::*;
use crate::stream::{DataStream, StreamSelector};
use crate::version::TagVersion;

fn record(record_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_record(&mut out, record_type, payload);
    out
}

fn rpc(record_type: u8, rpc_id: u16, address: u8, response: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = rpc_id.to_le_bytes().to_vec();
    body.extend_from_slice(&[address, response]);
    body.extend_from_slice(payload);
    record(record_type, &body)
}

fn checked(rpc_id: u16, address: u8, payload: &[u8]) -> Vec<u8> {
    rpc(4, rpc_id, address, 8, payload)
}

fn script(records: &[Vec<u8>]) -> Vec<u8> {
    seal(&records.concat())
}

/// The record texts, or the error kind.
fn texts(records: &[Vec<u8>]) -> Result<Vec<String>, ScriptErrorKind> {
    let bytes = script(records);
    let decoded = UpdateScript::decode(&bytes).map_err(|e| e.kind)?;
    assert_eq!(decoded.encode(), bytes, "re-encoding must be exact");
    Ok(decoded.records.iter().map(ToString::to_string).collect())
}

fn one(records: &[Vec<u8>]) -> String {
    match texts(records) {
        Ok(texts) if texts.len() == 1 => texts.concat(),
        other => panic!("expected one record, got {other:?}"),
    }
}

fn tag_payload(os: u32, app: u32, update_os: u8, update_app: u8) -> Vec<u8> {
    let mut p = os.to_le_bytes().to_vec();
    p.extend_from_slice(&app.to_le_bytes());
    p.extend_from_slice(&[update_os, update_app]);
    p
}

#[test]
fn device_tags_keep_raw_flags_and_address() {
    let text = one(&[checked(0x100B, 9, &tag_payload(0x0440_0802, 5, 2, 0))]);
    assert_eq!(text, "Set device os to (tag:2050, version:1.4)");
    let both = one(&[checked(
        0x100B,
        8,
        &tag_payload(0x0800_0400, 0x0480_0802, 1, 1),
    )]);
    assert_eq!(
        both,
        "Set device os to (tag:1024, version:2.0) and app to (tag:2050, version:1.8)"
    );
    assert!(matches!(
        texts(&[checked(0x100B, 8, &[0; 9])]),
        Err(ScriptErrorKind::WrongLength { .. })
    ));
    assert_eq!(
        texts(&[checked(0x100B, 8, &[0; 10])]),
        Err(ScriptErrorKind::NoTagUpdated)
    );
}

#[test]
fn rpc_records_print_hexlified_payloads() {
    assert_eq!(
        one(&[rpc(3, 0x2000, 8, 1, &[1, 2])]),
        "Call RPC 0x2000 on tile at 8 with payload 'b'0102''"
    );
    assert_eq!(
        one(&[rpc(3, 0xABC, 11, 0x20, &[])]),
        "Call RPC 0xABC on tile at 11 with payload 'b'''"
    );
    assert_eq!(
        one(&[checked(0x8000, 11, &[0x10, 0])]),
        "Call RPC 0x8000 on tile at 11 with payload 'b'1000'' and check for errors"
    );
    assert_eq!(
        texts(&[rpc(4, 0x1234, 8, 1, &[])]),
        Err(ScriptErrorKind::NotErrorCheckingResponse { found: 1 })
    );
    assert!(matches!(
        texts(&[record(3, &[0, 0x20, 8])]),
        Err(ScriptErrorKind::Truncated { .. })
    ));
    assert_eq!(
        one(&[checked(0x2A07, 9, &[])]),
        "Call RPC 0x2A07 on tile at 9 with payload 'b''' and check for errors"
    );
}

#[test]
fn graph_records_keep_their_address() {
    let mut node = vec![0u8; 8];
    node.extend_from_slice(&[0x01, 0x50, 0x01, 0x30, 0xFF, 0xFF, 2, 10, 10, 0, 0, 0]);
    assert_eq!(
        one(&[checked(0x2003, 10, &node)]),
        "Add sensorgraph node '(input 1 always) => output 1 using copy_all_a'"
    );
    let mut wildcard = node.clone();
    wildcard[10..12].copy_from_slice(&[0xFF, 0xD7]);
    assert!(matches!(
        texts(&[checked(0x2003, 8, &wildcard)]),
        Err(ScriptErrorKind::NodeWildcardInput { .. })
    ));
    assert_eq!(
        one(&[checked(0x2000, 8, &[5, 0, 0, 0, 1, 0x20])]),
        "Initialize stream 'constant 1' to 5 (0x00000005)"
    );
    assert!(texts(&[checked(0x2000, 8, &[5, 0, 0, 0, 1, 0x60])]).is_err());
    assert!(texts(&[checked(0x2000, 8, &[0; 7])]).is_err());
    assert_eq!(
        one(&[checked(0x2005, 8, &[3, 0])]),
        "Start sensorgraph engine"
    );
    assert_eq!(
        one(&[checked(0x2005, 8, &[0, 0])]),
        "Stop sensorgraph engine"
    );
    assert!(texts(&[checked(0x2005, 8, &[1])]).is_err());
    assert_eq!(
        one(&[checked(0x200C, 3, &[])]),
        "Clear all sensorgraph readings"
    );
    assert!(matches!(
        texts(&[checked(0x200C, 8, b"abc")]),
        Err(ScriptErrorKind::NotEmpty { .. })
    ));
    assert_eq!(one(&[checked(0x200D, 8, &[])]), "Clear current sensorgraph");
    assert_eq!(
        one(&[checked(0x200E, 8, &[])]),
        "Persist sensorgraph to flash"
    );
    assert_eq!(
        one(&[checked(0x2A0C, 8, &[])]),
        "Clear all config variables"
    );
    assert_eq!(
        texts(&[checked(0x2A0C, 9, &[])]),
        Err(ScriptErrorKind::ClearConfigNotController { address: 9 })
    );
}

fn begin(target: [u8; 8]) -> Vec<u8> {
    let mut payload = 0x8000u16.to_le_bytes().to_vec();
    payload.extend_from_slice(&target);
    checked(0x2A07, 8, &payload)
}

#[test]
fn config_groups_keep_their_chunks() {
    let slot1 = [1, 0, 0, 0, 0, 0, 0, 1];
    let records = [
        begin(slot1),
        checked(0x2A08, 8, b"ab"),
        checked(0x2A08, 8, b"c"),
        checked(0x2A09, 8, &[]),
    ];
    assert_eq!(
        one(&records),
        "Set config variable 0x8000 on slot 1 to 'hex:b'616263''"
    );
    let odd_target = [1, 5, 0, 0, 0, 0, 0, 2];
    assert_eq!(
        one(&[begin(odd_target), checked(0x2A09, 8, &[])]),
        "Set config variable 0x8000 on controller to 'hex:b'''"
    );
    let bytes = script(&[record(5, &[]), begin(slot1), checked(0x2A08, 8, b"ab")]);
    let err = UpdateScript::decode(&bytes).expect_err("unterminated");
    assert_eq!(
        (err.offset, err.kind),
        (32, ScriptErrorKind::ConfigGroupUnterminated)
    );
    let broken = [
        begin(slot1),
        checked(0x1111, 8, &[]),
        checked(0x2A09, 8, &[]),
    ];
    assert!(matches!(
        texts(&broken),
        Err(ScriptErrorKind::ConfigGroupBroken {
            at: 46,
            rpc_id: 0x1111,
            address: 8
        })
    ));
    let wrong_type = [begin(slot1), record(5, &[]), checked(0x2A09, 8, &[])];
    assert!(matches!(
        texts(&wrong_type),
        Err(ScriptErrorKind::ConfigGroupWrongType { record_type: 5, .. })
    ));
    let slot0 = [begin([0, 0, 0, 0, 0, 0, 0, 1]), checked(0x2A09, 8, &[])];
    assert_eq!(
        texts(&slot0),
        Err(ScriptErrorKind::SlotOutOfRange { slot: 0 })
    );
    let short_begin = [checked(0x2A07, 8, &[1, 2, 3]), checked(0x2A09, 8, &[])];
    assert!(matches!(
        texts(&short_begin),
        Err(ScriptErrorKind::WrongLength { .. })
    ));
}

#[test]
fn reflash_and_other_records() {
    let mut tile = 5u32.to_le_bytes().to_vec();
    tile.extend_from_slice(&2u32.to_le_bytes());
    tile.extend_from_slice(&[40, 1, 2, 3, 4, 5, 6, 1, 7, 0, 0, 0]);
    tile.extend_from_slice(b"hi");
    assert_eq!(
        one(&[record(1, &tile)]),
        "Reflash slot 40 with 2 (0x2) bytes starting at offset 5 (0x5) (hardware_type: 7)"
    );
    let mut controller_target = tile.clone();
    controller_target[15] = 2;
    assert_eq!(
        texts(&[record(1, &controller_target)]),
        Err(ScriptErrorKind::ReflashTargetsController)
    );
    let mut padded = tile.clone();
    padded[17] = 1;
    assert!(matches!(
        texts(&[record(1, &padded)]),
        Err(ScriptErrorKind::PaddingNotZero { .. })
    ));
    let mut short_image = tile;
    short_image.pop();
    assert!(matches!(
        texts(&[record(1, &short_image)]),
        Err(ScriptErrorKind::ImageLengthMismatch { .. })
    ));

    let mut enhanced = 0x1000u32.to_le_bytes().to_vec();
    enhanced.extend_from_slice(&99u32.to_le_bytes());
    enhanced.extend_from_slice(&3u32.to_le_bytes());
    enhanced.extend_from_slice(&[1, 2, 3, 4]);
    enhanced.extend_from_slice(&[b'a'; 16]);
    enhanced.extend_from_slice(&[b'b'; 64]);
    enhanced.extend_from_slice(b"xyz");
    assert_eq!(
        one(&[record(6, &enhanced)]),
        "Enhanced Reflash controller with 3 (0x3) bytes starting at base_address 4096 (0x1000)"
    );
    let mut controller = 7u32.to_le_bytes().to_vec();
    controller.extend_from_slice(&1u32.to_le_bytes());
    controller.push(0xAA);
    assert_eq!(
        one(&[record(2, &controller)]),
        "Reflash controller with 1 (0x1) bytes starting at offset 7 (0x7)"
    );
    assert_eq!(one(&[record(5, &[])]), "Reset device");
    assert!(matches!(
        texts(&[record(5, b"x")]),
        Err(ScriptErrorKind::NotEmpty { .. })
    ));
    assert_eq!(
        one(&[record(9, b"xyz")]),
        "Unknown record type 9, length: 3"
    );
    assert_eq!(one(&[record(0, &[])]), "Unknown record type 0, length: 0");
}

#[test]
fn built_records_round_trip_and_list_their_rpcs() {
    let output = DataStream::from_code(0x5001).expect("valid");
    let input = NodeInput {
        selector: StreamSelector::from_code(0x3001),
        trigger: Trigger::Always,
    };
    let node = NodeDescriptor::new(output, input, None, Processor::CopyAllA).expect("valid node");
    let streamer = StreamerDescriptor::new(
        Tile::Controller,
        StreamSelector::ALL_OUTPUTS,
        StreamerTrigger::Manual,
        ReportFormat::HashedList,
        ReportType::Telegram,
    )
    .expect("valid streamer");
    let records = vec![
        Record::set_device_tag(
            None,
            Some(TagVersion {
                tag: 2050,
                major: 1,
                minor: 2,
            }),
        )
        .expect("tag"),
        Record::set_graph_online(false),
        Record::add_node(node),
        Record::add_streamer(streamer),
        Record::set_config(Tile::Slot(1), 0x8000, &[0x7B, 0, 0, 0]).expect("config"),
        Record::set_constant(DataStream::from_code(0x2001).expect("valid"), 5),
        Record::reflash_tile(1, 0x4000, vec![1, 2, 3]).expect("tile"),
        Record::reset_device(),
    ];
    let script = UpdateScript::new(records);
    let decoded = UpdateScript::decode(&script.encode()).expect("decodes");
    assert_eq!(decoded, script);
    assert_eq!(decoded.record_count(), 8);
    let ids: Vec<u16> = decoded.rpcs().iter().map(|r| r.rpc_id).collect();
    assert_eq!(
        ids,
        [0x100B, 0x2005, 0x2003, 0x2007, 0x2A07, 0x2A08, 0x2A09, 0x2000]
    );
    assert!(decoded
        .rpcs()
        .iter()
        .all(|r| r.check_error && r.response_size == Some(4)));
    // Each logical record (a config group of several binary records too) ends where a
    // script holding only the records up to it ends.
    let ends = decoded.record_ends();
    assert_eq!(ends.len(), 8);
    for (i, end) in ends.iter().enumerate() {
        let prefix = UpdateScript::new(decoded.records[..=i].to_vec());
        assert_eq!(*end, prefix.encode().len(), "record {i}");
    }
    assert_eq!(ends.last(), Some(&script.encode().len()));
}

#[test]
fn errors_say_where_and_what() {
    let err = UpdateScript::decode(&[0; 10]).expect_err("too short");
    assert_eq!(
        err.to_string(),
        "at byte offset 0: the script is 10 bytes long, shorter than its 24-byte header"
    );
    assert!(!err.is_hash_mismatch());
}
