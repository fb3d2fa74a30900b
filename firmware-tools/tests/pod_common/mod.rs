//! Helpers shared by the virtual POD tests (`pod_*.rs`): a quiet POD model, RPC shorthands,
//! report collection, the script sender, and RPCs and report reception over GATT.

#![allow(dead_code)]

use std::time::Duration;

use firmware_tools::pod::{BridgeStatus, PodConfig, PodModel, VirtualPod};
use firmware_tools::radio::{Connection, LinkEvent};
use sync_protocol::report::{ReportFramer, SignedListReport};
use sync_protocol::rpc::{RpcOutcome, RpcRequest, RpcResponse};
use sync_protocol::script::{Record, UpdateScript};
use sync_protocol::stream::DataStream;
use sync_protocol::version::TagVersion;
use sync_protocol::{Reading, Verification};

/// A POD with no scheduled outputs and no trigger-on-connect: everything it logs, the test
/// did.
pub fn quiet_config(device_id: u64) -> PodConfig {
    PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(device_id)
    }
}

pub fn quiet(device_id: u64) -> PodModel {
    PodModel::new(&quiet_config(device_id)).expect("valid config")
}

pub fn call(pod: &mut PodModel, rpc_id: u16, payload: &[u8]) -> Vec<u8> {
    match pod.rpc(8, rpc_id, payload).outcome() {
        RpcOutcome::Ok(answer) => answer,
        other => panic!("RPC {rpc_id:#06x} failed: {other}"),
    }
}

pub fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub fn code(pod: &mut PodModel, rpc_id: u16, payload: &[u8]) -> u32 {
    word(&call(pod, rpc_id, payload), 0)
}

pub fn ack(pod: &mut PodModel, streamer: u16, force: u16, id: u32) -> u32 {
    let mut payload = streamer.to_le_bytes().to_vec();
    payload.extend_from_slice(&force.to_le_bytes());
    payload.extend_from_slice(&id.to_le_bytes());
    code(pod, 0x200F, &payload)
}

pub fn trigger(pod: &mut PodModel, streamer: u16) -> u32 {
    code(pod, 0x2010, &streamer.to_le_bytes())
}

pub fn push(pod: &mut PodModel, stream: u16, value: u32) -> Reading {
    pod.push_reading(stream, value)
        .expect("room")
        .expect("a stored stream")
}

/// Every report the POD sends now, decoded and verified (hash-only).
pub fn send(pod: &mut PodModel) -> Vec<SignedListReport> {
    pod.open_streaming();
    pod.collect_reports()
        .into_iter()
        .map(|r| SignedListReport::decode(&r.bytes).expect("a signed list report"))
        .inspect(|r| assert_eq!(r.verify(None), Verification::Verified))
        .collect()
}

/// Triggers `streamer` and returns the readings of its reports.
pub fn collect(pod: &mut PodModel, streamer: u8) -> Vec<Reading> {
    pod.open_streaming();
    let _ = trigger(pod, u16::from(streamer));
    send(pod)
        .into_iter()
        .filter(|r| r.header.streamer == streamer)
        .flat_map(|r| r.readings(None).expect("verified"))
        .collect()
}

pub fn ids(readings: &[Reading]) -> Vec<u32> {
    readings.iter().map(|r| r.reading_id).collect()
}

pub fn bridge(pod: &mut PodModel) -> (u32, u32) {
    let answer = call(pod, 0x2104, &[]);
    (word(&answer, 0), word(&answer, 4))
}

#[derive(Clone, Copy)]
pub enum Channel {
    Rpc2101,
    HighSpeed,
}

/// Sends a script as coretools does and runs it, checking the bridge states on the way:
/// 1 → 2 → 3 → 4 → 5 → … → 0. Returns the final error.
pub fn run_script(pod: &mut PodModel, script: &[u8], channel: Channel) -> u32 {
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

pub fn script(records: Vec<Record>) -> Vec<u8> {
    UpdateScript::new(records).encode()
}

pub fn stream(code: u16) -> DataStream {
    DataStream::from_code(code).expect("stream")
}

pub fn tag(tag: u32, major: u8, minor: u8) -> TagVersion {
    TagVersion::new(tag, major, minor).expect("fits")
}

// ----- over GATT --------------------------------------------------------------------------

pub const WAIT: Duration = Duration::from_secs(5);

pub async fn next_event(connection: &mut Connection) -> Option<LinkEvent> {
    tokio::time::timeout(WAIT, connection.events.recv())
        .await
        .expect("an event in time")
}

pub async fn gatt_rpc(connection: &mut Connection, rpc_id: u16, payload: &[u8]) -> RpcResponse {
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

pub async fn open_rpc(connection: &mut Connection) {
    connection.link.set_notify(0x2001, true).expect("cccd");
    connection.link.set_notify(0x2002, true).expect("cccd");
}

pub fn gatt_pod(device_id: u64, edit: impl FnOnce(&mut PodConfig)) -> VirtualPod {
    let mut config = quiet_config(device_id);
    edit(&mut config);
    VirtualPod::new(config).expect("pod starts")
}

/// Collects streaming notifications until `count` reports are complete.
pub async fn receive_reports(connection: &mut Connection, count: usize) -> Vec<Vec<u8>> {
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

pub async fn comm_status(connection: &mut Connection, streamer: u16) -> u8 {
    let status = gatt_rpc(connection, 0x200A, &streamer.to_le_bytes()).await;
    status.payload()[18]
}
