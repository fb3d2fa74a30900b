//! The virtual POD model running update scripts (device-protocols §8 item 11): every record
//! kind over both channels, failing and rejected scripts, resets inside a script.

use firmware_tools::pod::{PodConfig, PodModel, ResetCause};
use sha2::Digest;
use sync_protocol::rpc::codes;
use sync_protocol::script::{
    NodeDescriptor, NodeInput, Processor, Record, ReportFormat, ReportType, StreamerDescriptor,
    StreamerTrigger, Tile, Trigger,
};
use sync_protocol::stream::StreamSelector;

mod pod_common;
use pod_common::*;

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
    let bytes = script(everything_script());
    assert_eq!(run_script(&mut pod, &bytes, Channel::Rpc2101), 0);
    check_everything_ran(&mut pod, boots);
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    assert_eq!(
        pod.scripts_completed(),
        [sha],
        "a completed script is recorded once"
    );
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
    assert!(
        pod.scripts_completed().is_empty(),
        "a failed script is not recorded"
    );
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
