//! Unit tests of the model's internals: the graph engine, room-making, clock and config.
//! Protocol-level behaviour is tested in `tests/pod_*.rs`.

use sync_protocol::report::SignedListReport;
use sync_protocol::rpc::{codes, RpcOutcome};
use sync_protocol::script::{
    Combiner, NodeDescriptor, NodeInput, Processor, Tile, Trigger, TriggerOp, TriggerSource,
};
use sync_protocol::stream::{DataStream, StreamSelector};
use sync_protocol::time::RTC_FLAG;

use super::*;
use crate::pod::config::{OutputConfig, PodConfig, StreamCode};

fn quiet_pod() -> PodModel {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(0x42)
    };
    PodModel::new(&config).expect("valid config")
}

fn call(pod: &mut PodModel, rpc_id: u16, payload: &[u8]) -> Vec<u8> {
    match pod.rpc(8, rpc_id, payload).outcome() {
        RpcOutcome::Ok(payload) => payload,
        other => panic!("RPC {rpc_id:#06x} failed: {other}"),
    }
}

fn code(pod: &mut PodModel, rpc_id: u16, payload: &[u8]) -> u32 {
    let answer = call(pod, rpc_id, payload);
    u32::from_le_bytes(answer[..4].try_into().expect("4 bytes"))
}

fn stream(code: u16) -> DataStream {
    DataStream::from_code(code).expect("stream")
}

fn input(code: u16, trigger: Trigger) -> NodeInput {
    NodeInput {
        selector: StreamSelector::single(stream(code)),
        trigger,
    }
}

#[test]
fn boot_logs_reset_and_tags_with_fresh_ids() {
    let pod = quiet_pod();
    let streams: Vec<(u16, u32)> = pod.readings().map(|r| (r.stream, r.reading_id)).collect();
    assert_eq!(streams, vec![(0x5C00, 1), (0x5C08, 2), (0x5C09, 3)]);
    assert_eq!(pod.reboot_count(), 1);
    assert_eq!(pod.streamer_count(), 2);
    assert!(pod.graph_online());
}

#[test]
fn nodes_run_on_ticks_and_feed_each_other() {
    let mut pod = quiet_pod();
    // (system input 2 always) => unbuffered 5 using copy_latest_a
    let a = NodeDescriptor::new(
        stream(0x1005),
        input(0x3802, Trigger::Always),
        None,
        Processor::CopyLatestA,
    )
    .expect("node");
    // (unbuffered 5 when count >= 1) => output 7 using copy_all_a
    let b = NodeDescriptor::new(
        stream(0x5007),
        input(
            0x1005,
            Trigger::When {
                source: TriggerSource::Count,
                op: TriggerOp::Ge,
                reference: 1,
            },
        ),
        None,
        Processor::CopyAllA,
    )
    .expect("node");
    assert_eq!(code(&mut pod, 0x2003, &a.to_bytes()), 0);
    assert_eq!(code(&mut pod, 0x2003, &b.to_bytes()), 0);
    assert_eq!(code(&mut pod, 0x2002, &[]), 2);
    pod.advance_to(30);
    let values: Vec<u32> = pod
        .stream_readings(0x5007)
        .iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(values, vec![10, 20, 30]);
    assert_eq!(
        call(&mut pod, 0x2016, &1u16.to_le_bytes()),
        b.to_bytes().to_vec()
    );
    assert_eq!(pod.rpc(8, 0x2016, &2u16.to_le_bytes()).status, 0x46);
    // Offline, the ticks do nothing.
    assert_eq!(code(&mut pod, 0x2005, &0u16.to_le_bytes()), 0);
    pod.advance_to(60);
    assert_eq!(pod.stream_readings(0x5007).len(), 3);
}

#[test]
fn processors_compute_what_their_names_say() {
    let mut pod = quiet_pod();
    // (input 16 always) => buffered 1 using copy_latest_a
    let feed = NodeDescriptor::new(
        stream(0x0001),
        input(0x3010, Trigger::Always),
        None,
        Processor::CopyLatestA,
    )
    .expect("node");
    assert_eq!(code(&mut pod, 0x2003, &feed.to_bytes()), 0);
    // (buffered 1 when count >= 3) => output n using <processor>
    let three = Trigger::When {
        source: TriggerSource::Count,
        op: TriggerOp::Ge,
        reference: 3,
    };
    for (output, processor) in [
        (0x5011, Processor::SumA),
        (0x5012, Processor::AverageA),
        (0x5013, Processor::CopyCountA),
        (0x5015, Processor::CopyAllA),
    ] {
        let node = NodeDescriptor::new(stream(output), input(0x0001, three), None, processor)
            .expect("node");
        assert_eq!(code(&mut pod, 0x2003, &node.to_bytes()), 0);
    }
    // (constant 1 always && input 17 always) => output 0x14 using subtract_afromb
    let subtract = NodeDescriptor::new(
        stream(0x5014),
        input(0x2001, Trigger::Always),
        Some((Combiner::And, input(0x3011, Trigger::Always))),
        Processor::SubtractAFromB,
    )
    .expect("node");
    let mut payload = 3u32.to_le_bytes().to_vec();
    payload.extend_from_slice(&0x2001u16.to_le_bytes());
    assert_eq!(code(&mut pod, 0x2000, &payload), 0, "constant 1 = 3");
    assert_eq!(code(&mut pod, 0x2003, &subtract.to_bytes()), 0);
    assert_eq!(code(&mut pod, 0x200B, &0x2001u16.to_le_bytes()), 0);
    pod.graph_input(0x3011, 10);
    let values = |pod: &PodModel, s| {
        pod.stream_readings(s)
            .iter()
            .map(|r| r.value)
            .collect::<Vec<u32>>()
    };
    assert_eq!(values(&pod, 0x5014), vec![7]);
    for value in [1, 2, 6] {
        pod.graph_input(0x3010, value);
    }
    assert_eq!(values(&pod, 0x0001), vec![1, 2, 6]);
    assert_eq!(values(&pod, 0x5011), vec![9]);
    assert_eq!(values(&pod, 0x5012), vec![3]);
    assert_eq!(values(&pod, 0x5013), vec![3]);
    assert_eq!(values(&pod, 0x5015), vec![1, 2, 6]);
    // Virtual streams answer 0x200B with their latest value.
    let answer = call(&mut pod, 0x200B, &0x3011u16.to_le_bytes());
    assert_eq!(answer, [0u32.to_le_bytes(), 10u32.to_le_bytes()].concat());
    let answer = call(&mut pod, 0x200B, &0x5011u16.to_le_bytes());
    assert_eq!(answer[..4], 0x8002_8001u32.to_le_bytes());
}

#[test]
fn trigger_streamer_nodes_and_call_rpc_nodes_work() {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: true,
        ..PodConfig::with_device_id(0x43)
    };
    let mut pod = PodModel::new(&config).expect("valid");
    assert_eq!(pod.node_count(), 1, "the factory on-connect node");
    pod.open_streaming();
    let reports = pod.collect_reports();
    assert_eq!(
        reports.len(),
        2,
        "streamer 0 and its partner fired on connect"
    );
    // call_rpc: (input 1 always && constant 2 always) => output 9, calling 0x100F (uptime).
    let node = NodeDescriptor::new(
        stream(0x5009),
        input(0x3001, Trigger::Always),
        Some((Combiner::And, input(0x2002, Trigger::Always))),
        Processor::CallRpc,
    )
    .expect("node");
    assert_eq!(code(&mut pod, 0x2003, &node.to_bytes()), 0);
    let mut payload = 0x0008_100Fu32.to_le_bytes().to_vec();
    payload.extend_from_slice(&0x2002u16.to_le_bytes());
    assert_eq!(code(&mut pod, 0x2000, &payload), 0);
    pod.advance_to(5);
    pod.graph_input(0x3001, 1);
    assert_eq!(pod.stream_readings(0x5009).last().map(|r| r.value), Some(5));
}

#[test]
fn full_areas_free_acknowledged_readings_first_then_ring_or_stop() {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        streaming_capacity: 300,
        ..PodConfig::with_device_id(0x44)
    };
    let mut pod = PodModel::new(&config).expect("valid");
    let push = |pod: &mut PodModel| pod.push_reading(0x5001, 1);
    while pod.reading_counts().1 < 300 {
        push(&mut pod).expect("room");
    }
    // Ring: nothing acknowledged, the oldest 256 go (and are counted as lost).
    push(&mut pod).expect("ring makes room");
    assert_eq!(pod.reading_counts().1, 45);
    assert_eq!(pod.lost_readings(), 256);

    // Fill-stop (config 0x2005 = 1, latched at reset).
    let mut begin = 0x2005u16.to_le_bytes().to_vec();
    begin.extend_from_slice(
        &sync_protocol::script::SlotTarget::for_tile(Tile::Controller)
            .expect("controller")
            .to_bytes(),
    );
    assert_eq!(code(&mut pod, 0x2A07, &begin), 0);
    assert_eq!(code(&mut pod, 0x2A08, &[1]), 0);
    assert_eq!(code(&mut pod, 0x2A09, &[]), 0);
    pod.reset(ResetCause::Software);
    assert_eq!(call(&mut pod, 0x000D, &[0x05, 0x20, 0, 0]), vec![1]);
    while pod.reading_counts().1 < 300 {
        push(&mut pod).expect("room");
    }
    assert_eq!(push(&mut pod), Err(codes::RING_BUFFER_FULL));
    let mut payload = 7u32.to_le_bytes().to_vec();
    payload.extend_from_slice(&0x5001u16.to_le_bytes());
    assert_eq!(code(&mut pod, 0x2000, &payload), codes::RING_BUFFER_FULL);
    let lost = pod.lost_readings();
    // Acknowledge half of what streamer 0 selects: exactly that becomes free.
    let ids: Vec<u32> = pod
        .stream_readings(0x5001)
        .iter()
        .map(|r| r.reading_id)
        .collect();
    let half = ids[ids.len() / 2];
    let mut ack = 0u16.to_le_bytes().to_vec();
    ack.extend_from_slice(&0u16.to_le_bytes());
    ack.extend_from_slice(&half.to_le_bytes());
    assert_eq!(code(&mut pod, 0x200F, &ack), 0);
    push(&mut pod).expect("acknowledged readings were freed");
    assert!(pod
        .stream_readings(0x5001)
        .iter()
        .all(|r| r.reading_id > half));
    assert_eq!(pod.lost_readings(), lost, "nothing unacknowledged was lost");
}

#[test]
fn clock_and_rtc() {
    let mut pod = quiet_pod();
    pod.advance(100);
    assert_eq!(code(&mut pod, 0x100F, &[]), 100);
    assert_eq!(code(&mut pod, 0x1001, &[]), 100);
    assert_eq!(code(&mut pod, 0x1010, &1_000_000u32.to_le_bytes()), 0);
    assert_eq!(code(&mut pod, 0x1001, &[]), 1_000_000 | RTC_FLAG);
    pod.advance(5);
    let reading = pod.push_reading(0x5001, 9).expect("stored").expect("id");
    assert_eq!(reading.raw_time, 1_000_005 | RTC_FLAG);
    // The RTC keeps counting across a reset; the volatile offset of 0x100E does not.
    pod.reset(ResetCause::Software);
    assert_eq!(pod.uptime(), 0);
    assert_eq!(code(&mut pod, 0x1001, &[]), 1_000_005 | RTC_FLAG);
    let restored = PodModel::from_bytes(&pod.to_bytes()).expect("restores");
    assert_eq!(restored.current_time(), 1_000_005 | RTC_FLAG);

    let config = PodConfig {
        has_rtc: false,
        outputs: Vec::new(),
        ..PodConfig::with_device_id(0x45)
    };
    let mut pod = PodModel::new(&config).expect("valid");
    let mut payload = 500u32.to_le_bytes().to_vec();
    payload.extend_from_slice(&1u32.to_le_bytes());
    assert_eq!(code(&mut pod, 0x100E, &payload), 0);
    assert_eq!(
        call(&mut pod, 0x100D, &[]),
        [500u32.to_le_bytes(), 1u32.to_le_bytes()].concat()
    );
    assert_eq!(code(&mut pod, 0x1001, &[]), 500 | RTC_FLAG);
    pod.reset(ResetCause::Software);
    assert_eq!(code(&mut pod, 0x1001, &[]), 0);
}

#[test]
fn outputs_follow_their_schedule_and_generators() {
    let config = PodConfig {
        outputs: vec![
            OutputConfig {
                stream: StreamCode(0x5001),
                period: 10,
                generator: Generator::Counter { start: 5, step: 2 },
            },
            OutputConfig {
                stream: StreamCode(0x0E00),
                period: 15,
                generator: Generator::Random { min: 10, max: 12 },
            },
            OutputConfig {
                stream: StreamCode(0x5002),
                period: 1,
                generator: Generator::Sine {
                    center: 0,
                    amplitude: 100,
                    period: 4,
                },
            },
        ],
        ..PodConfig::with_device_id(0x46)
    };
    let mut pod = PodModel::new(&config).expect("valid");
    pod.advance_to(30);
    let values = |pod: &PodModel, s| {
        pod.stream_readings(s)
            .iter()
            .map(|r| r.value)
            .collect::<Vec<u32>>()
    };
    assert_eq!(values(&pod, 0x5001), vec![5, 7, 9]);
    let random = values(&pod, 0x0E00);
    assert_eq!(random.len(), 2);
    assert!(random.iter().all(|v| (10..=12).contains(v)));
    assert_eq!(&values(&pod, 0x5002)[..4], &[100, 0, (-100i32) as u32, 0]);
    // The counter carries on across a restart.
    let mut restored = PodModel::from_bytes(&pod.to_bytes()).expect("restores");
    restored.advance_to(10);
    assert_eq!(values(&restored, 0x5001), vec![5, 7, 9, 11]);
}

#[test]
fn wrong_sizes_unknown_rpcs_and_tiles() {
    let mut pod = quiet_pod();
    assert_eq!(pod.rpc(8, 0x200F, &[0; 7]).status, 0x40 | 17);
    assert_eq!(pod.rpc(8, 0x1008, &[0]).status, 0x40 | 17);
    assert_eq!(pod.rpc(8, 0x7777, &[]).outcome(), RpcOutcome::NotFound);
    assert_eq!(pod.rpc(12, 0x0004, &[]).outcome(), RpcOutcome::TileNotFound);
    assert_eq!(call(&mut pod, 0x0002, &[]), b"btc1_v3\0\0\0".to_vec());
    assert_eq!(code(&mut pod, 0x0003, b"btc1_v3\0\0\0"), 0);
    assert_eq!(code(&mut pod, 0x0003, b"btc2_v3\0\0\0"), 1);
}

#[test]
fn dump_walker_reads_the_log() {
    let mut pod = quiet_pod();
    for value in 0..4 {
        pod.push_reading(0x5001, value).expect("stored");
    }
    let begin = call(&mut pod, 0x2008, &0x5001u16.to_le_bytes());
    assert_eq!(
        u32::from_le_bytes(begin[8..12].try_into().expect("count")),
        4
    );
    let next = call(&mut pod, 0x2009, &[1]);
    assert_eq!(next.len(), 20);
    assert_eq!(
        u32::from_le_bytes(next[8..12].try_into().expect("value")),
        0
    );
    assert_eq!(u16::from_le_bytes([next[16], next[17]]), 0x5001);
    let id = u32::from_le_bytes(next[12..16].try_into().expect("id"));
    // Seek onto the last one: it is returned next; then the walker is empty.
    let seek = call(&mut pod, 0x2012, &(id + 3).to_le_bytes());
    assert_eq!(seek[..4], [0, 0, 0, 0]);
    assert_eq!(
        u32::from_le_bytes(seek[8..12].try_into().expect("count")),
        1
    );
    let next = call(&mut pod, 0x2009, &[0]);
    assert_eq!(
        u32::from_le_bytes(next[8..12].try_into().expect("value")),
        3
    );
    let next = call(&mut pod, 0x2009, &[0]);
    assert_eq!(
        u32::from_le_bytes(next[..4].try_into().expect("err")),
        codes::NO_MORE_READINGS
    );
    // Seeking onto a reading of another stream.
    let seek = call(&mut pod, 0x2012, &1u32.to_le_bytes());
    // Reading 1 is 0x5C00, in the same area but not selected.
    assert_eq!(
        u32::from_le_bytes(seek[..4].try_into().expect("err")),
        codes::ID_FOUND_FOR_ANOTHER_STREAM
    );
}

#[test]
fn reports_are_built_in_max_size_pieces() {
    let mut pod = quiet_pod();
    for value in 0..10 {
        pod.push_reading(0x5001, value).expect("stored");
    }
    let mut size = (44 + 3 * 16u32).to_le_bytes().to_vec();
    size.push(0);
    assert_eq!(code(&mut pod, 0x0A05, &size), 0);
    assert_eq!(call(&mut pod, 0x0A06, &[])[..4], size[..4]);
    pod.open_streaming();
    assert_eq!(code(&mut pod, 0x2010, &0u16.to_le_bytes()), 0);
    let reports = pod.collect_reports();
    let sizes: Vec<usize> = reports
        .iter()
        .filter(|r| r.streamer == 0)
        .map(|r| {
            SignedListReport::decode(&r.bytes)
                .expect("report")
                .reading_count()
        })
        .collect();
    assert_eq!(
        sizes,
        vec![3, 3, 3, 2],
        "the reset reading and ten outputs, three at a time"
    );
}

#[test]
fn a_state_io_error_names_its_cause_once() {
    let error = StateError::Io {
        path: "pods/1.json".into(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    };
    let cause = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
    let chain = format!("{:#}", anyhow::Error::new(error));
    assert_eq!(chain.matches(&cause).count(), 1, "{chain}");
}
