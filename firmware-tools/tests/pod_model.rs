//! The virtual POD against the behaviours a gateway relies on (device-protocols §8 items 5,
//! 6, 7, 9 and 11), first on the bare model, then over its GATT personality.

use std::time::Duration;

use firmware_tools::pod::{
    BridgeStatus, Generator, OutputConfig, PodConfig, PodModel, ResetCause, StreamCode, VirtualPod,
};
use firmware_tools::radio::{Connection, LinkEvent, Peripheral, RadioEffects};
use sync_protocol::auth::RootKey;
use sync_protocol::report::{ReportFramer, SignedListReport};
use sync_protocol::rpc::{codes, RpcOutcome, RpcRequest, RpcResponse};
use sync_protocol::script::{
    NodeDescriptor, NodeInput, Processor, Record, ReportFormat, ReportType, StreamerDescriptor,
    StreamerTrigger, Tile, Trigger, UpdateScript,
};
use sync_protocol::stream::{DataStream, StreamSelector};
use sync_protocol::version::TagVersion;
use sync_protocol::{Reading, Verification};

// ----- helpers ---------------------------------------------------------------------------

/// A POD with no scheduled outputs and no trigger-on-connect: everything it logs, the test
/// did.
fn quiet_config(device_id: u64) -> PodConfig {
    PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(device_id)
    }
}

fn quiet(device_id: u64) -> PodModel {
    PodModel::new(&quiet_config(device_id)).expect("valid config")
}

fn call(pod: &mut PodModel, rpc_id: u16, payload: &[u8]) -> Vec<u8> {
    match pod.rpc(8, rpc_id, payload).outcome() {
        RpcOutcome::Ok(answer) => answer,
        other => panic!("RPC {rpc_id:#06x} failed: {other}"),
    }
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn code(pod: &mut PodModel, rpc_id: u16, payload: &[u8]) -> u32 {
    word(&call(pod, rpc_id, payload), 0)
}

fn ack(pod: &mut PodModel, streamer: u16, force: u16, id: u32) -> u32 {
    let mut payload = streamer.to_le_bytes().to_vec();
    payload.extend_from_slice(&force.to_le_bytes());
    payload.extend_from_slice(&id.to_le_bytes());
    code(pod, 0x200F, &payload)
}

fn trigger(pod: &mut PodModel, streamer: u16) -> u32 {
    code(pod, 0x2010, &streamer.to_le_bytes())
}

fn push(pod: &mut PodModel, stream: u16, value: u32) -> Reading {
    pod.push_reading(stream, value)
        .expect("room")
        .expect("a stored stream")
}

/// Every report the POD sends now, decoded and verified (hash-only).
fn send(pod: &mut PodModel) -> Vec<SignedListReport> {
    pod.open_streaming();
    pod.collect_reports()
        .into_iter()
        .map(|r| SignedListReport::decode(&r.bytes).expect("a signed list report"))
        .inspect(|r| assert_eq!(r.verify(None), Verification::Verified))
        .collect()
}

/// Triggers `streamer` and returns the readings of its reports.
fn collect(pod: &mut PodModel, streamer: u8) -> Vec<Reading> {
    pod.open_streaming();
    let _ = trigger(pod, u16::from(streamer));
    send(pod)
        .into_iter()
        .filter(|r| r.header.streamer == streamer)
        .flat_map(|r| r.readings(None).expect("verified"))
        .collect()
}

fn ids(readings: &[Reading]) -> Vec<u32> {
    readings.iter().map(|r| r.reading_id).collect()
}

fn bridge(pod: &mut PodModel) -> (u32, u32) {
    let answer = call(pod, 0x2104, &[]);
    (word(&answer, 0), word(&answer, 4))
}

#[derive(Clone, Copy)]
enum Channel {
    Rpc2101,
    HighSpeed,
}

/// Sends a script as coretools does and runs it, checking the bridge states on the way:
/// 1 → 2 → 3 → 4 → 5 → … → 0. Returns the final error.
fn run_script(pod: &mut PodModel, script: &[u8], channel: Channel) -> u32 {
    assert_eq!(bridge(pod), (0, 0), "idle before");
    assert_eq!(code(pod, 0x2100, &[]), 0);
    assert_eq!(bridge(pod).0, BridgeStatus::Waiting as u32);
    for chunk in script.chunks(20) {
        match channel {
            Channel::Rpc2101 => assert_eq!(code(pod, 0x2101, chunk), 0),
            Channel::HighSpeed => assert!(pod.script_chunk(chunk)),
        }
    }
    assert_eq!(bridge(pod).0, BridgeStatus::Receiving as u32);
    assert_eq!(code(pod, 0x2102, &[]), 0);
    assert_eq!(bridge(pod), (BridgeStatus::Received as u32, 0));
    assert_eq!(code(pod, 0x2103, &[]), 0);
    let (status, error) = bridge(pod);
    if status == BridgeStatus::Idle as u32 {
        return error;
    }
    assert_eq!(status, BridgeStatus::Validated as u32);
    assert!(pod.service());
    assert_eq!(bridge(pod).0, BridgeStatus::Executing as u32);
    let mut steps = 0;
    while pod.service() {
        steps += 1;
        assert!(steps < 10_000, "the script never ends");
    }
    let (status, error) = bridge(pod);
    assert_eq!(status, 0);
    error
}

fn script(records: Vec<Record>) -> Vec<u8> {
    UpdateScript::new(records).encode()
}

fn stream(code: u16) -> DataStream {
    DataStream::from_code(code).expect("stream")
}

fn tag(tag: u32, major: u8, minor: u8) -> TagVersion {
    TagVersion::new(tag, major, minor).expect("fits")
}

// ----- §8.5 ids ---------------------------------------------------------------------------

#[test]
fn reading_ids_strictly_increase_across_streamers_resets_and_clears() {
    let mut pod = quiet(0x101);
    let mut seen = ids(&pod.readings().copied().collect::<Vec<_>>());
    let mut check_new = |pod: &PodModel| {
        let high = seen.iter().copied().max().unwrap_or(0);
        let all: Vec<Reading> = pod.readings().copied().collect();
        let new: Vec<u32> = all
            .iter()
            .map(|r| r.reading_id)
            .filter(|id| !seen.contains(id))
            .collect();
        assert!(
            new.iter().all(|id| *id > high),
            "new ids {new:?} must be above {high}"
        );
        assert!(!new.is_empty());
        seen.extend(new);
    };
    for value in 0..5 {
        push(&mut pod, 0x5001, value);
        push(&mut pod, 0x0E00, value);
        push(&mut pod, 0x5C0A, value);
    }
    check_new(&pod);
    pod.reset(ResetCause::Software);
    check_new(&pod);
    assert_eq!(code(&mut pod, 0x200C, &[]), 0);
    let after_clear: Vec<Reading> = pod.readings().copied().collect();
    assert_eq!(after_clear.len(), 1, "only the data-cleared marker");
    assert_eq!((after_clear[0].stream, after_clear[0].value), (0x5C03, 1));
    check_new(&pod);
    push(&mut pod, 0x5001, 9);
    check_new(&pod);
    assert_eq!(
        word(&call(&mut pod, 0x2011, &[]), 4),
        pod.readings().map(|r| r.reading_id).max().unwrap_or(0)
    );
}

#[test]
fn report_ids_footers_and_the_shared_counter() {
    let mut pod = quiet(0x102);
    for value in 0..7 {
        push(&mut pod, 0x5001, value);
    }
    pod.open_streaming();
    assert_eq!(trigger(&mut pod, 0), 0);
    let reports = send(&mut pod);
    assert_eq!(
        reports.len(),
        2,
        "streamer 0 and streamer 1 (with streamer 0)"
    );
    let mut last_report_id = 0;
    for report in &reports {
        let readings = report.readings(None).expect("verified");
        let low = readings
            .iter()
            .map(|r| r.reading_id)
            .min()
            .expect("readings");
        let high = readings
            .iter()
            .map(|r| r.reading_id)
            .max()
            .expect("readings");
        assert_eq!((report.lowest_id, report.highest_id), (low, high));
        assert!(report.header.report_id > high);
        assert!(report.header.report_id > last_report_id);
        last_report_id = report.header.report_id;
        assert_eq!(report.header.device_id, 0x102);
        assert_eq!(report.header.sent_timestamp, pod.uptime());
    }
    assert_eq!(reports[0].header.selector, 0xD7FF);
    assert_eq!(reports[1].header.selector, 0x5FFF);
    // Streamer 0: the reset break stream and the user outputs; streamer 1: system outputs.
    let streams0: Vec<u16> = reports[0]
        .readings(None)
        .expect("ok")
        .iter()
        .map(|r| r.stream)
        .collect();
    assert_eq!(streams0[0], 0x5C00);
    assert!(streams0[1..].iter().all(|s| *s == 0x5001));
    let streams1: Vec<u16> = reports[1]
        .readings(None)
        .expect("ok")
        .iter()
        .map(|r| r.stream)
        .collect();
    assert_eq!(streams1, vec![0x5C00, 0x5C08, 0x5C09, 0x5C01]);
    // A reading made after the reports has an id above both report ids.
    assert!(push(&mut pod, 0x5001, 0).reading_id > last_report_id);
}

#[test]
fn readings_and_ids_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pod.json");
    let mut pod = quiet(0x103);
    let second = (0..3)
        .map(|v| push(&mut pod, 0x5001, v).reading_id)
        .nth(1)
        .expect("id");
    assert_eq!(ack(&mut pod, 0, 0, second), 0);
    pod.save(&path).expect("saved");
    let before: Vec<Reading> = pod.readings().copied().collect();
    let high = pod.last_allocated_id();
    let mut restarted = PodModel::load(&path).expect("loaded");
    let after: Vec<Reading> = restarted.readings().copied().collect();
    assert_eq!(&after[..before.len()], &before[..], "old readings kept");
    let boot: Vec<(u16, bool)> = after[before.len()..]
        .iter()
        .map(|r| (r.stream, r.reading_id > high))
        .collect();
    assert_eq!(boot, vec![(0x5C00, true), (0x5C08, true), (0x5C09, true)]);
    assert_eq!(restarted.ack(0), second);
    assert_eq!(restarted.reboot_count(), 2);
    assert!(push(&mut restarted, 0x5001, 7).reading_id > high + 3);
    assert!(PodModel::from_bytes(b"{\"format\":\"other\",\"version\":1}").is_err());
    assert!(PodModel::from_bytes(b"not json").is_err());
}

// ----- §8.6 acknowledgements --------------------------------------------------------------

#[test]
fn acknowledgements_decide_what_is_sent() {
    let mut pod = quiet(0x104);
    let pushed: Vec<u32> = (0..6)
        .map(|v| push(&mut pod, 0x5001, v).reading_id)
        .collect();
    // Nothing acknowledged: everything selected is sent, and sent again (at-least-once).
    let first = collect(&mut pod, 0);
    assert_eq!(ids(&first)[1..], pushed[..]);
    assert_eq!(ids(&collect(&mut pod, 0)), ids(&first));

    let x = pushed[2];
    assert_eq!(ack(&mut pod, 0, 0, x), 0);
    assert_eq!(ids(&collect(&mut pod, 0)), pushed[3..].to_vec());
    // A lower ack is refused and changes nothing.
    assert_eq!(ack(&mut pod, 0, 0, x - 1), codes::OLD_ACKNOWLEDGE_UPDATE);
    assert_eq!(ack(&mut pod, 0, 0, x), codes::OLD_ACKNOWLEDGE_UPDATE);
    assert_eq!(pod.ack(0), x);
    assert_eq!(ids(&collect(&mut pod, 0)), pushed[3..].to_vec());
    // Forced, it rolls back.
    assert_eq!(ack(&mut pod, 0, 1, pushed[0]), 0);
    assert_eq!(ids(&collect(&mut pod, 0)), pushed[1..].to_vec());
    // Acks survive a reset; the reset reading is new data for streamer 0.
    assert_eq!(ack(&mut pod, 0, 0, pushed[4]), 0);
    pod.reset(ResetCause::Software);
    assert_eq!(pod.ack(0), pushed[4]);
    let status = call(&mut pod, 0x200A, &0u16.to_le_bytes());
    assert_eq!(word(&status, 12), pushed[4]);
    let after_reset = collect(&mut pod, 0);
    assert_eq!(after_reset[0].reading_id, pushed[5]);
    assert_eq!(after_reset[1].stream, 0x5C00);
    assert!(after_reset.iter().all(|r| r.reading_id > pushed[4]));
}

#[test]
fn acknowledgement_seek_codes() {
    let mut pod = quiet(0x105);
    let a = push(&mut pod, 0x5001, 1).reading_id;
    let b = push(&mut pod, 0x5C0A, 2).reading_id;
    // An id the streamer does not select.
    let system = push(&mut pod, 0x5C0B, 3).reading_id;
    assert_eq!(ack(&mut pod, 0, 0, a), 0);
    assert_eq!(
        ack(&mut pod, 0, 0, system),
        codes::ID_FOUND_FOR_ANOTHER_STREAM
    );
    assert_eq!(ack(&mut pod, 1, 0, b), 0);
    // Past everything stored.
    assert_eq!(ack(&mut pod, 0, 0, 1000), codes::NO_MORE_READINGS);
    assert!(collect(&mut pod, 0).is_empty());
    // id 0 only re-seeks.
    assert_eq!(ack(&mut pod, 0, 0, 0), codes::NO_MORE_READINGS);
    assert_eq!(pod.ack(0), 1000);
    assert_eq!(ack(&mut pod, 9, 0, 1), codes::STREAMER_NOT_ALLOCATED);
}

#[test]
fn buffer_is_freed_only_after_acknowledgement() {
    // Fill-stop on the streaming area, configured by a script and latched by its reset.
    let config = PodConfig {
        streaming_capacity: 400,
        ..quiet_config(0x106)
    };
    let mut pod = PodModel::new(&config).expect("valid");
    let set_fill_stop = script(vec![
        Record::set_config(Tile::Controller, 0x2005, &[1]).expect("record"),
        Record::reset_device(),
    ]);
    assert_eq!(run_script(&mut pod, &set_fill_stop, Channel::Rpc2101), 0);
    let mut last = 0;
    while let Ok(Some(reading)) = pod.push_reading(0x5001, 0) {
        last = reading.reading_id;
    }
    assert_eq!(pod.reading_counts().1, 400);
    assert_eq!(pod.push_reading(0x5001, 0), Err(codes::RING_BUFFER_FULL));
    // Sending frees nothing.
    let sent = collect(&mut pod, 0);
    assert_eq!(sent.last().map(|r| r.reading_id), Some(last));
    assert_eq!(pod.push_reading(0x5001, 0), Err(codes::RING_BUFFER_FULL));
    // Streamer 1 has not acknowledged the system readings: acknowledging streamer 0 frees
    // the user readings only.
    assert_eq!(ack(&mut pod, 0, 0, last), 0);
    assert!(pod.push_reading(0x5001, 0).is_ok());
    let left: Vec<u16> = pod.readings().map(|r| r.stream).collect();
    assert!(left
        .iter()
        .filter(|s| **s != 0x5001)
        .all(|s| (0x5C00..=0x5C09).contains(s)));
    assert_eq!(pod.lost_readings(), 0);

    // The ring (default) erases the oldest 256 when nothing is acknowledged.
    let config = PodConfig {
        streaming_capacity: 400,
        ..quiet_config(0x107)
    };
    let mut ring = PodModel::new(&config).expect("valid");
    while ring.reading_counts().1 < 400 {
        push(&mut ring, 0x5001, 0);
    }
    push(&mut ring, 0x5001, 1);
    assert_eq!(ring.reading_counts().1, 400 - 256 + 1);
    assert_eq!(ring.lost_readings(), 256);
}

// ----- §8.7 streamer control --------------------------------------------------------------

#[test]
fn trigger_and_status() {
    let mut pod = quiet(0x108);
    assert_eq!(trigger(&mut pod, 0), 0, "the boot readings");
    let _ = send(&mut pod);
    let high = pod.last_allocated_id();
    assert_eq!(ack(&mut pod, 0, 0, 1), 0);
    assert_eq!(ack(&mut pod, 1, 0, 3), 0);
    let _ = high;
    // 0x5C01 (streaming opened) is new for streamer 1; acknowledge it too.
    let opened = pod.stream_readings(0x5C01)[0].reading_id;
    assert_eq!(ack(&mut pod, 1, 0, opened), 0);
    assert_eq!(trigger(&mut pod, 0), codes::STREAMER_HAS_NO_NEW_DATA);
    assert_eq!(trigger(&mut pod, 8), codes::STREAMER_NOT_ALLOCATED);

    push(&mut pod, 0x5001, 5);
    assert_eq!(trigger(&mut pod, 0), 0);
    assert_eq!(trigger(&mut pod, 0), codes::STREAM_ALREADY_IN_PROGRESS);
    let status = call(&mut pod, 0x200A, &0u16.to_le_bytes());
    assert_eq!(status.len(), 20);
    assert_ne!(status[18], 0, "comm status while sending");
    assert_eq!(word(&status, 12), 1, "the stored ack");
    let report = pod.next_report().expect("a report");
    assert_ne!(call(&mut pod, 0x200A, &0u16.to_le_bytes())[18], 0);
    pod.report_delivered(report.token);
    let status = call(&mut pod, 0x200A, &0u16.to_le_bytes());
    assert_eq!(status[18], 0, "comm status back to 0 after the last report");
    assert_eq!(status[16], 0, "last status: success");
    // An unallocated index answers 4 bytes.
    assert_eq!(
        call(&mut pod, 0x200A, &2u16.to_le_bytes()),
        codes::STREAMER_NOT_ALLOCATED.to_le_bytes().to_vec()
    );
    // 0x2017 describes streamer 0.
    let described = call(&mut pod, 0x2017, &0u16.to_le_bytes());
    assert_eq!(described.len(), 20);
    let descriptor = StreamerDescriptor::decode(&described[4..18]).expect("descriptor");
    assert_eq!(descriptor.selector(), StreamSelector::ALL_OUTPUTS);
    assert_eq!(descriptor.trigger(), StreamerTrigger::Manual);
}

// ----- §8.9 identity ----------------------------------------------------------------------

#[test]
fn identity_rpcs_and_tags_after_a_script() {
    let mut pod = quiet(0x1_0000_0109);
    let info = call(&mut pod, 0x1008, &[]);
    assert_eq!(info.len(), 20);
    assert_eq!(word(&info, 0), 0x0000_0109, "the low 32 bits of the id");
    assert_eq!(word(&info, 12), 0x0400_0802);
    assert_eq!(word(&info, 16), 0x0400_0801);
    let status = call(&mut pod, 0x0004, &[]);
    assert_eq!(status.len(), 12);
    assert_eq!(&status[2..8], b"NRF52 ");

    let records =
        vec![Record::set_device_tag(Some(tag(2060, 2, 1)), Some(tag(2070, 3, 4))).expect("record")];
    assert_eq!(run_script(&mut pod, &script(records), Channel::Rpc2101), 0);
    let info = call(&mut pod, 0x1008, &[]);
    assert_eq!(word(&info, 12), tag(2060, 2, 1).pack());
    assert_eq!(word(&info, 16), tag(2070, 3, 4).pack());
    // The version streams change at the next reset.
    assert_eq!(
        pod.stream_readings(0x5C08).last().map(|r| r.value),
        Some(0x0400_0802)
    );
    assert_eq!(pod.rpc(8, 0x0001, &[]).outcome(), RpcOutcome::TileNotFound);
    assert_eq!(
        pod.stream_readings(0x5C08).last().map(|r| r.value),
        Some(tag(2060, 2, 1).pack())
    );
    assert_eq!(
        pod.stream_readings(0x5C09).last().map(|r| r.value),
        Some(tag(2070, 3, 4).pack())
    );
}

// ----- §8.11 scripts ----------------------------------------------------------------------

fn node(output: u16, input: u16, processor: Processor) -> NodeDescriptor {
    NodeDescriptor::new(
        stream(output),
        NodeInput {
            selector: StreamSelector::single(stream(input)),
            trigger: Trigger::Always,
        },
        None,
        processor,
    )
    .expect("node")
}

fn streamer(selector: u16, trigger: StreamerTrigger) -> StreamerDescriptor {
    StreamerDescriptor::new(
        Tile::Controller,
        StreamSelector::from_code(selector),
        trigger,
        ReportFormat::HashedList,
        ReportType::Telegram,
    )
    .expect("streamer")
}

/// A firmware + sensor-graph script using every record kind.
fn everything_script() -> Vec<Record> {
    let tick_node = node(0x5005, 0x3802, Processor::CopyLatestA);
    vec![
        Record::set_graph_online(false),
        Record::clear_data(),
        Record::reset_graph(),
        Record::add_node(tick_node),
        Record::add_streamer(streamer(0x5005, StreamerTrigger::Manual)),
        Record::add_streamer(streamer(0x5FFF, StreamerTrigger::WithStreamer(0))),
        Record::set_constant(stream(0x2004), 77),
        Record::persist_graph(),
        Record::clear_config_variables(),
        Record::set_config(Tile::Controller, 0x2002, &25u32.to_le_bytes()).expect("record"),
        Record::set_device_tag(None, Some(tag(3000, 1, 2))).expect("record"),
        Record::reflash_tile(
            1,
            0x1000,
            b"name=accel1\nversion=2.0.1\n\0image bytes".to_vec(),
        )
        .expect("record"),
        Record::reflash_controller(0x8000, b"name=NRF52 \nversion=3.1.0\n\0controller".to_vec())
            .expect("record"),
        Record::enhanced_reflash_controller(0x9000, vec![0xAB; 100]).expect("record"),
        Record::reset_device(),
        Record::send_rpc(8, 0x1006, vec![1]).expect("record"),
        Record::send_error_checking_rpc(
            8,
            0x2015,
            [9u32.to_le_bytes().to_vec(), vec![2, 0]].concat(),
        )
        .expect("record"),
        Record::set_graph_online(true),
    ]
}

fn check_everything_ran(pod: &mut PodModel, boots_before: u32) {
    // Two controller flashes and one ResetDevice: three more boots.
    assert_eq!(pod.reboot_count(), boots_before + 3);
    // ClearData then the persisted graph: what was logged before is gone.
    assert!(pod.stream_readings(0x5001).is_empty());
    assert_eq!(pod.stream_readings(0x5C03).len(), 1);
    // ResetGraph/AddNode/AddStreamer/SetConstant/PersistGraph: loaded after the resets.
    assert!(pod.has_persisted_graph());
    assert_eq!(code(pod, 0x2002, &[]), 1);
    assert_eq!(pod.streamer_count(), 2);
    let described = call(pod, 0x2017, &0u16.to_le_bytes());
    assert_eq!(&described[12..14], &0x5005u16.to_le_bytes());
    assert_eq!(
        call(pod, 0x200B, &0x2004u16.to_le_bytes()),
        [0u32.to_le_bytes(), 77u32.to_le_bytes()].concat()
    );
    // ClearConfigVariables + SetConfig: one entry, latched as user tick 1.
    assert_eq!(code(pod, 0x2A0B, &[]), 1);
    assert_eq!(
        call(pod, 0x2014, &1u16.to_le_bytes()),
        [0u32.to_le_bytes(), 25u32.to_le_bytes()].concat()
    );
    // SetDeviceTag.
    assert_eq!(pod.app_tag(), tag(3000, 1, 2));
    assert_eq!(
        pod.stream_readings(0x5C09).last().map(|r| r.value),
        Some(tag(3000, 1, 2).pack())
    );
    // ReflashTile: a tile in slot 1 answers at address 11 with its new name and version.
    let tile = pod.rpc(11, 0x0004, &[]);
    assert_eq!(&tile.payload()[2..8], b"accel1");
    assert_eq!(&tile.payload()[8..11], &[2, 0, 1]);
    assert_eq!(pod.tiles()[0].image.as_ref().map(|i| i.len), Some(38));
    assert_eq!(call(pod, 0x2A01, &[]), 2u16.to_le_bytes().to_vec());
    // ReflashController then EnhancedReflashController: the last image is installed.
    let image = pod.controller_image().expect("installed").clone();
    assert_eq!(image.record, "enhanced controller");
    assert_eq!((image.address, image.len), (0x9000, 100));
    assert_eq!(image.sha256.len(), 64);
    assert_eq!(pod.firmware_version(), (3, 1, 1), "3.1.0 then a patch bump");
    // After the ResetDevice record: the volatile effects of the last records are there.
    assert!(pod.safe_mode());
    assert_eq!(
        call(pod, 0x2014, &2u16.to_le_bytes()),
        [0u32.to_le_bytes(), 9u32.to_le_bytes()].concat()
    );
    assert!(pod.graph_online());
    // The loaded graph runs: the tick node copies the normal tick to output 5.
    let uptime = pod.uptime();
    pod.advance_to((uptime / 10 + 2) * 10);
    assert!(!pod.stream_readings(0x5005).is_empty());
}

#[test]
fn every_record_kind_runs_over_2101_chunks() {
    let mut pod = PodModel::new(&PodConfig::with_device_id(0x10A)).expect("valid");
    pod.advance(30);
    assert!(!pod.stream_readings(0x5001).is_empty());
    let boots = pod.reboot_count();
    assert_eq!(
        run_script(&mut pod, &script(everything_script()), Channel::Rpc2101),
        0
    );
    check_everything_ran(&mut pod, boots);
}

#[test]
fn every_record_kind_runs_over_the_high_speed_channel() {
    let mut pod = PodModel::new(&PodConfig::with_device_id(0x10B)).expect("valid");
    pod.advance(30);
    let boots = pod.reboot_count();
    assert_eq!(
        run_script(&mut pod, &script(everything_script()), Channel::HighSpeed),
        0
    );
    check_everything_ran(&mut pod, boots);
}

#[test]
fn a_failing_error_checking_rpc_stops_the_script() {
    let mut pod = quiet(0x10C);
    let records = vec![
        Record::set_constant(stream(0x2001), 5),
        // Trigger streamer 7: not allocated.
        Record::send_error_checking_rpc(8, 0x2010, 7u16.to_le_bytes().to_vec()).expect("record"),
        Record::set_device_tag(None, Some(tag(4000, 1, 0))).expect("record"),
    ];
    let error = run_script(&mut pod, &script(records), Channel::Rpc2101);
    assert_eq!(error, codes::STREAMER_NOT_ALLOCATED);
    assert_eq!(bridge(&mut pod), (0, codes::STREAMER_NOT_ALLOCATED));
    assert_eq!(
        code(&mut pod, 0x200B, &0x2001u16.to_le_bytes()),
        0,
        "the first record ran"
    );
    assert_eq!(
        word(&call(&mut pod, 0x200B, &0x2001u16.to_le_bytes()), 4),
        5
    );
    assert_eq!(pod.app_tag(), tag(2049, 1, 0), "the third did not");
    // An RPC at a tile that does not exist fails with its status byte.
    let records = vec![Record::send_error_checking_rpc(20, 0x0004, vec![]).expect("record")];
    assert_eq!(code(&mut pod, 0x2105, &[]), 0);
    assert_eq!(
        run_script(&mut pod, &script(records), Channel::Rpc2101),
        0x8005_00FF
    );
    // A record type nobody knows.
    let records = vec![Record::Unknown {
        record_type: 9,
        payload: vec![1, 2, 3],
    }];
    assert_eq!(code(&mut pod, 0x2105, &[]), 0);
    assert_eq!(
        run_script(&mut pod, &script(records), Channel::HighSpeed),
        0x8005_8003
    );
}

#[test]
fn a_bad_script_is_rejected_before_any_record_runs() {
    let mut pod = quiet(0x10D);
    let good = script(vec![
        Record::set_device_tag(None, Some(tag(4001, 1, 0))).expect("record")
    ]);
    let mut bad_hash = good.clone();
    bad_hash[0] ^= 0xFF;
    assert_eq!(
        run_script(&mut pod, &bad_hash, Channel::Rpc2101),
        codes::BAD_HASH
    );
    assert_eq!(pod.app_tag(), tag(2049, 1, 0));
    let mut bad_body = good.clone();
    *bad_body.last_mut().expect("bytes") ^= 1;
    assert_eq!(code(&mut pod, 0x2105, &[]), 0);
    assert_eq!(
        run_script(&mut pod, &bad_body, Channel::HighSpeed),
        codes::BAD_HASH
    );
    let mut bad_magic = good.clone();
    bad_magic[16] ^= 1;
    assert_eq!(code(&mut pod, 0x2105, &[]), 0);
    assert_eq!(
        run_script(&mut pod, &bad_magic, Channel::Rpc2101),
        codes::BAD_MAGIC
    );
    assert_eq!(pod.app_tag(), tag(2049, 1, 0));
    // Bridge state rules: no trigger before the end, no begin while one is received.
    assert_eq!(code(&mut pod, 0x2105, &[]), 0);
    assert_eq!(
        code(&mut pod, 0x2103, &[]),
        codes::STATE_CHANGE_AT_INVALID_TIME
    );
    assert_eq!(
        code(&mut pod, 0x2101, &[1, 2]),
        codes::STATE_CHANGE_AT_INVALID_TIME
    );
    assert!(!pod.script_chunk(&[1, 2]));
    assert_eq!(code(&mut pod, 0x2100, &[]), 0);
    assert_eq!(code(&mut pod, 0x2102, &[]), 0);
    assert_eq!(
        code(&mut pod, 0x2100, &[]),
        codes::STATE_CHANGE_AT_INVALID_TIME
    );
    assert_eq!(code(&mut pod, 0x2105, &[]), 0);
    // The good one runs.
    assert_eq!(run_script(&mut pod, &good, Channel::Rpc2101), 0);
    assert_eq!(pod.app_tag(), tag(4001, 1, 0));
}

#[test]
fn a_reset_record_resumes_at_the_next_record() {
    let mut pod = quiet(0x10E);
    let set_timer = |seconds: u32| {
        Record::send_error_checking_rpc(
            8,
            0x2015,
            [seconds.to_le_bytes().to_vec(), vec![1, 0]].concat(),
        )
        .expect("record")
    };
    let records = vec![set_timer(11), Record::reset_device(), set_timer(7)];
    pod.advance(50);
    let boots = pod.reboot_count();
    assert_eq!(run_script(&mut pod, &script(records), Channel::Rpc2101), 0);
    assert_eq!(pod.reboot_count(), boots + 1);
    assert_eq!(pod.last_reset_cause(), ResetCause::Script);
    assert_eq!(pod.uptime(), 0);
    assert_eq!(
        call(&mut pod, 0x2014, &1u16.to_le_bytes()),
        [0u32.to_le_bytes(), 7u32.to_le_bytes()].concat()
    );
    // A host's reset RPC in the middle of a script drops the script.
    let records = vec![
        Record::send_rpc(8, 0x0001, vec![]).expect("record"),
        set_timer(3),
    ];
    assert_eq!(run_script(&mut pod, &script(records), Channel::Rpc2101), 0);
    assert_eq!(
        call(&mut pod, 0x2014, &1u16.to_le_bytes()),
        [0u32.to_le_bytes(), 0u32.to_le_bytes()].concat()
    );
}

// ----- §8.4 signatures --------------------------------------------------------------------

#[test]
fn reports_verify_hash_only_and_with_the_user_key() {
    let mut pod = quiet(0x10F);
    push(&mut pod, 0x5001, 42);
    pod.open_streaming();
    assert_eq!(trigger(&mut pod, 0), 0);
    let report = &pod.collect_reports()[0];
    let decoded = SignedListReport::decode(&report.bytes).expect("report");
    assert_eq!(decoded.header.streamer, 0);
    assert_eq!(
        decoded
            .readings(None)
            .expect("hash only")
            .last()
            .map(|r| r.value),
        Some(42)
    );

    let key_hex = "ac1de4832c8ba4a07ce457c1b51ff995057ae53562a1d5f32c65b73a193f55f9";
    let config = PodConfig {
        user_key: Some(key_hex.to_string()),
        ..quiet_config(0x110)
    };
    let mut pod = PodModel::new(&config).expect("valid");
    let key = RootKey::from_hex(key_hex).expect("key");
    push(&mut pod, 0x5001, 43);
    pod.advance(17);
    pod.open_streaming();
    assert_eq!(trigger(&mut pod, 0), 0);
    for report in pod.collect_reports() {
        let decoded = SignedListReport::decode(&report.bytes).expect("report");
        assert_eq!(decoded.header.sent_timestamp, 17);
        assert_eq!(decoded.verify(None), Verification::NoKey);
        assert_eq!(
            decoded.readings(Some(&RootKey::new([1; 32]))),
            Err(Verification::Failed)
        );
        let readings = decoded
            .readings(Some(&key))
            .expect("verifies with the user key");
        assert!(!readings.is_empty());
        if decoded.header.streamer == 0 {
            assert_eq!(readings.last().map(|r| r.value), Some(43));
        }
    }
}

// ----- over GATT --------------------------------------------------------------------------

const WAIT: Duration = Duration::from_secs(5);

async fn next_event(connection: &mut Connection) -> Option<LinkEvent> {
    tokio::time::timeout(WAIT, connection.events.recv())
        .await
        .expect("an event in time")
}

async fn gatt_rpc(connection: &mut Connection, rpc_id: u16, payload: &[u8]) -> RpcResponse {
    let request = RpcRequest::new(8, rpc_id, payload.to_vec()).expect("fits");
    if !payload.is_empty() {
        connection
            .link
            .write(0x2004, &request.padded_payload(), false)
            .expect("payload written");
    }
    connection
        .link
        .write(0x2003, &request.header(), false)
        .expect("header written");
    let header = loop {
        match next_event(connection).await {
            Some(LinkEvent::Notify {
                characteristic: 0x2001,
                value,
            }) => break value,
            Some(LinkEvent::Notify { .. }) => continue,
            other => panic!("expected the RPC answer, got {other:?}"),
        }
    };
    let header: [u8; 4] = header.try_into().expect("4-byte header");
    let payload = if RpcResponse::expects_payload(&header) {
        match next_event(connection).await {
            Some(LinkEvent::Notify {
                characteristic: 0x2002,
                value,
            }) => value,
            other => panic!("expected the RPC payload, got {other:?}"),
        }
    } else {
        Vec::new()
    };
    RpcResponse::from_header(&header, &payload).expect("answer")
}

async fn open_rpc(connection: &mut Connection) {
    connection.link.set_notify(0x2001, true).expect("cccd");
    connection.link.set_notify(0x2002, true).expect("cccd");
}

fn gatt_pod(device_id: u64, edit: impl FnOnce(&mut PodConfig)) -> VirtualPod {
    let mut config = quiet_config(device_id);
    edit(&mut config);
    VirtualPod::new(config).expect("pod starts")
}

#[tokio::test]
async fn rpcs_over_gatt() {
    let pod = gatt_pod(0x201, |_| {});
    let mut connection = pod.connect().expect("connects");
    assert!(matches!(
        pod.connect(),
        Err(firmware_tools::radio::ConnectError::Busy)
    ));
    // Before both RPC CCCDs are enabled the RPC interface is closed: no answer.
    connection
        .link
        .write(
            0x2003,
            &RpcRequest::new(8, 0x1008, vec![]).expect("fits").header(),
            false,
        )
        .expect("written");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), connection.events.recv())
            .await
            .is_err()
    );
    open_rpc(&mut connection).await;
    let info = gatt_rpc(&mut connection, 0x1008, &[]).await;
    assert_eq!(info.status, 0xC0);
    assert_eq!(word(info.payload(), 0), 0x201);
    let name = gatt_rpc(&mut connection, 0x0004, &[]).await;
    assert_eq!(&name.payload()[2..8], b"NRF52 ");
    let mut ack = 0u16.to_le_bytes().to_vec();
    ack.extend_from_slice(&0u16.to_le_bytes());
    ack.extend_from_slice(&1u32.to_le_bytes());
    let answer = gatt_rpc(&mut connection, 0x200F, &ack).await;
    assert_eq!(answer.payload(), &[0, 0, 0, 0]);
    assert_eq!(pod.with_model(|m| m.ack(0)), 1);
    assert_eq!(gatt_rpc(&mut connection, 0x7777, &[]).await.status, 0x02);
    assert_eq!(
        gatt_rpc(&mut connection, 0x200F, &[1, 2, 3])
            .await
            .outcome(),
        RpcOutcome::AppError(17)
    );
    assert!(!pod.advertising().expect("advertises").connectable);
    // A reset RPC drops the link instead of answering.
    let request = RpcRequest::new(8, 0x0001, vec![]).expect("fits");
    connection
        .link
        .write(0x2003, &request.header(), false)
        .expect("written");
    assert_eq!(
        next_event(&mut connection).await,
        Some(LinkEvent::Disconnected)
    );
    assert_eq!(next_event(&mut connection).await, None);
    assert!(connection
        .link
        .write(0x2003, &request.header(), false)
        .is_err());
    assert_eq!(pod.with_model(|m| m.reboot_count()), 2);
    assert!(pod.connect().is_ok(), "a new host may connect");
    pod.stop().expect("stopped");
}

/// Collects streaming notifications until `count` reports are complete.
async fn receive_reports(connection: &mut Connection, count: usize) -> Vec<Vec<u8>> {
    let mut framer = ReportFramer::new();
    let mut reports = Vec::new();
    while reports.len() < count {
        match next_event(connection).await {
            Some(LinkEvent::Notify {
                characteristic: 0x2005,
                value,
            }) => {
                assert!(value.len() <= 20);
                framer.push(&value);
                while let Some(report) = framer.next_report() {
                    reports.push(report.expect("framed"));
                }
            }
            Some(LinkEvent::Notify { .. }) => {}
            other => panic!("expected report bytes, got {other:?}"),
        }
    }
    reports
}

async fn comm_status(connection: &mut Connection, streamer: u16) -> u8 {
    let status = gatt_rpc(connection, 0x200A, &streamer.to_le_bytes()).await;
    status.payload()[18]
}

#[tokio::test]
async fn a_multi_chunk_report_over_gatt() {
    let pod = gatt_pod(0x202, |_| {});
    let pushed: Vec<u32> = pod.with_model(|m| {
        (0..40)
            .map(|v| {
                m.push_reading(0x5001, v)
                    .expect("room")
                    .expect("id")
                    .reading_id
            })
            .collect()
    });
    let mut connection = pod.connect().expect("connects");
    open_rpc(&mut connection).await;
    connection.link.set_notify(0x2005, true).expect("streaming");
    let answer = gatt_rpc(&mut connection, 0x2010, &0u16.to_le_bytes()).await;
    assert_eq!(answer.payload(), &[0, 0, 0, 0]);
    let reports = receive_reports(&mut connection, 2).await;
    let report = SignedListReport::decode(&reports[0]).expect("report");
    assert!(reports[0].len() > 600, "many notifications");
    let readings = report.readings(None).expect("verified after reassembly");
    assert_eq!(ids(&readings)[1..], pushed[..]);
    assert_eq!(
        SignedListReport::decode(&reports[1])
            .expect("report")
            .header
            .streamer,
        1
    );
    let mut idle = false;
    for _ in 0..50 {
        if comm_status(&mut connection, 0).await == 0 && comm_status(&mut connection, 1).await == 0
        {
            idle = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(idle, "comm status back to 0 once the last chunk is out");
    connection
        .link
        .set_notify(0x2005, false)
        .expect("streaming off");
    assert_eq!(pod.with_model(|m| m.stream_readings(0x5C02).len()), 1);
    connection.link.disconnect();
    pod.stop().expect("stopped");
}

#[tokio::test]
async fn a_link_dropped_mid_report_keeps_the_data() {
    let pod = gatt_pod(0x203, |_| {});
    pod.with_model(|m| {
        for v in 0..30 {
            m.push_reading(0x5001, v).expect("room");
        }
    });
    let mut connection = pod.connect().expect("connects");
    open_rpc(&mut connection).await;
    connection.link.set_notify(0x2005, true).expect("streaming");
    // The trigger's answer takes 2 notifications; the link drops after 3 report chunks.
    pod.set_effects(RadioEffects {
        disconnect_after_notifications: Some(5),
        ..RadioEffects::default()
    });
    let request = RpcRequest::new(8, 0x2010, 0u16.to_le_bytes().to_vec()).expect("fits");
    connection
        .link
        .write(0x2004, &request.padded_payload(), false)
        .expect("payload");
    connection
        .link
        .write(0x2003, &request.header(), false)
        .expect("header");
    let mut streamed = 0;
    loop {
        match next_event(&mut connection).await {
            Some(LinkEvent::Notify {
                characteristic: 0x2005,
                ..
            }) => streamed += 1,
            Some(LinkEvent::Notify { .. }) => {}
            Some(LinkEvent::Disconnected) => break,
            None => panic!("closed without Disconnected"),
        }
    }
    assert_eq!(streamed, 3);
    assert_eq!(next_event(&mut connection).await, None);
    assert!(!pod.is_connected());
    let (status, ack, has_data) = pod.with_model(|m| {
        (
            m.streamer_status(0).expect("streamer 0"),
            m.ack(0),
            m.has_data(),
        )
    });
    assert_eq!(status.comm_status, 0, "idle again");
    assert_eq!(status.last_status, 1, "the attempt failed");
    assert_eq!(ack, 0);
    assert!(has_data, "nothing was freed");
    assert_eq!(
        pod.effects(),
        RadioEffects::default(),
        "the one-shot effect is spent"
    );
    // Next time the whole report goes out again.
    let mut connection = pod.connect().expect("reconnects");
    open_rpc(&mut connection).await;
    connection.link.set_notify(0x2005, true).expect("streaming");
    let answer = gatt_rpc(&mut connection, 0x2010, &0u16.to_le_bytes()).await;
    assert_eq!(answer.payload(), &[0, 0, 0, 0]);
    let reports = receive_reports(&mut connection, 1).await;
    let readings = SignedListReport::decode(&reports[0])
        .expect("report")
        .readings(None)
        .expect("verified");
    assert_eq!(readings.iter().filter(|r| r.stream == 0x5001).count(), 30);
    pod.stop().expect("stopped");
}

#[tokio::test]
async fn out_of_range_and_scripts_over_gatt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("pod.json");
    let pod = gatt_pod(0x204, |c| {
        c.state_file = Some(state.clone());
        c.clock_speed = 100.0;
        c.outputs = vec![OutputConfig {
            stream: StreamCode(0x5001),
            period: 10,
            generator: Generator::Counter { start: 0, step: 1 },
        }];
    });
    let mut connection = pod.connect().expect("connects");
    open_rpc(&mut connection).await;
    // A script over the high-speed characteristic, run by the POD's own clock task.
    let bytes = script(vec![
        Record::set_device_tag(Some(tag(2100, 4, 5)), None).expect("record")
    ]);
    assert_eq!(
        gatt_rpc(&mut connection, 0x2100, &[]).await.payload(),
        &[0, 0, 0, 0]
    );
    for chunk in bytes.chunks(20) {
        connection
            .link
            .write(0x2006, chunk, false)
            .expect("high speed write");
    }
    assert_eq!(
        gatt_rpc(&mut connection, 0x2102, &[]).await.payload(),
        &[0, 0, 0, 0]
    );
    assert_eq!(
        gatt_rpc(&mut connection, 0x2103, &[]).await.payload(),
        &[0, 0, 0, 0]
    );
    let mut done = false;
    for _ in 0..100 {
        let status = gatt_rpc(&mut connection, 0x2104, &[]).await;
        assert_eq!(word(status.payload(), 4), 0, "no error");
        if word(status.payload(), 0) == 0 {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(done);
    let info = gatt_rpc(&mut connection, 0x1008, &[]).await;
    assert_eq!(word(info.payload(), 12), tag(2100, 4, 5).pack());
    // The clock runs at 100×: outputs appear.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pod.with_model(|m| m.uptime()) >= 20);
    assert!(!pod.with_model(|m| m.stream_readings(0x5001)).is_empty());
    // Out of range: the link drops, no advertising, no connection.
    pod.set_effects(RadioEffects {
        out_of_range: true,
        ..RadioEffects::default()
    });
    assert_eq!(
        next_event(&mut connection).await,
        Some(LinkEvent::Disconnected)
    );
    assert!(pod.advertising().is_none());
    assert!(matches!(
        pod.connect(),
        Err(firmware_tools::radio::ConnectError::OutOfRange)
    ));
    pod.set_effects(RadioEffects::default());
    let advertising = pod.advertising().expect("advertises again");
    assert!(advertising.connectable);
    let seen = sync_protocol::ble::Advertisement::parse(
        &advertising.advertisement,
        advertising.scan_response.as_deref(),
        None,
    )
    .expect("an IOTile advertisement");
    assert_eq!(seen.device_id(), 0x204);
    // Stopping saves the state; a new POD from the same file continues the ids.
    let high = pod.with_model(|m| m.last_allocated_id());
    pod.stop().expect("stopped and saved");
    let restarted = PodModel::load(&state).expect("state file");
    assert!(restarted.last_allocated_id() > high);
    assert_eq!(restarted.os_tag(), tag(2100, 4, 5));
    // A virtual POD restarted from its file keeps its identity and skips a reserve of ids.
    let again = gatt_pod(0x204, |c| c.state_file = Some(state.clone()));
    let (os, last) = again.with_model(|m| (m.os_tag(), m.last_allocated_id()));
    assert_eq!(os, tag(2100, 4, 5));
    assert!(last > high + firmware_tools::pod::link::ID_RESERVE);
    again.stop().expect("stopped");
    let wrong = VirtualPod::new(PodConfig {
        state_file: Some(state.clone()),
        ..quiet_config(0x999)
    });
    assert!(matches!(
        wrong,
        Err(firmware_tools::pod::PodError::WrongDevice { .. })
    ));
}

#[tokio::test]
async fn tracing_delays_and_lost_notifications() {
    let pod = gatt_pod(0x205, |_| {});
    let mut connection = pod.connect().expect("connects");
    open_rpc(&mut connection).await;
    // Tracing: nothing until the host enables it, then ≤ 20-byte notifications.
    assert!(!pod.trace(b"ignored"));
    connection.link.set_notify(0x2007, true).expect("tracing");
    let text = b"boot ok; sensor graph loaded; 3 streamers".to_vec();
    assert!(pod.trace(&text));
    let mut traced = Vec::new();
    while traced.len() < text.len() {
        match next_event(&mut connection).await {
            Some(LinkEvent::Notify {
                characteristic: 0x2007,
                value,
            }) => {
                assert!(value.len() <= 20);
                traced.extend(value);
            }
            other => panic!("expected trace bytes, got {other:?}"),
        }
    }
    assert_eq!(traced, text);
    // One RPC at a time: calls made before the previous answer left are answered "busy".
    let unknown = RpcRequest::new(8, 0x7777, vec![]).expect("fits");
    for _ in 0..3 {
        connection
            .link
            .write(0x2003, &unknown.header(), false)
            .expect("written");
    }
    let mut statuses = Vec::new();
    for _ in 0..3 {
        match next_event(&mut connection).await {
            Some(LinkEvent::Notify {
                characteristic: 0x2001,
                value,
            }) => statuses.push(value[0]),
            other => panic!("expected an RPC header, got {other:?}"),
        }
    }
    assert_eq!(statuses, vec![0x02, 0x00, 0x00]);
    // A slow link: every notification waits.
    pod.set_effects(RadioEffects {
        notification_delay: Some(Duration::from_millis(100)),
        ..RadioEffects::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(gatt_rpc(&mut connection, 0x100F, &[]).await.status, 0xC0);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "two delayed notifications"
    );
    // Every second notification is lost: of three header-only answers, two arrive.
    pod.set_effects(RadioEffects {
        drop_every_nth_notification: Some(2),
        ..RadioEffects::default()
    });
    let unknown = RpcRequest::new(8, 0x7777, vec![]).expect("fits");
    for _ in 0..3 {
        connection
            .link
            .write(0x2003, &unknown.header(), false)
            .expect("written");
        // Let the answer leave the queue, else the next call is answered "busy".
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut headers = 0;
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(300), connection.events.recv()).await
    {
        assert_eq!(
            event,
            LinkEvent::Notify {
                characteristic: 0x2001,
                value: vec![0x02, 0, 0, 0]
            }
        );
        headers += 1;
    }
    assert_eq!(headers, 2);
    pod.stop().expect("stopped");
    assert_eq!(
        next_event(&mut connection).await,
        Some(LinkEvent::Disconnected)
    );
    assert!(pod.advertising().is_none(), "a stopped POD is off the air");
}
