//! The same visit, run over either transport against a virtual POD: find it, connect, RPCs,
//! stream a signed report, acknowledge it.

#![allow(dead_code)]

use std::time::Duration;

use firmware_tools::pod::advertising::AdvertisementFormat;
use firmware_tools::pod::{PodConfig, StreamCode, VirtualPod};
use gateway::transport::{Connection, RpcAnswer, Seen, Transport, TransportError, CONTROLLER};
use sync_protocol::report::SignedListReport;
use tokio::sync::mpsc;

pub const RPC: Duration = Duration::from_secs(5);
pub const REPORT: Duration = Duration::from_secs(10);

/// Waits for an advertisement of `device_id`.
pub async fn find(scan: &mut mpsc::Receiver<Seen>, device_id: u64) -> Seen {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let seen = scan.recv().await.expect("the scan goes on");
            if u64::from(seen.device_id) == device_id {
                return seen;
            }
        }
    })
    .await
    .expect("the POD is heard within 10 s")
}

pub async fn call(connection: &mut impl Connection, rpc_id: u16, payload: &[u8]) -> Vec<u8> {
    match connection
        .rpc(CONTROLLER, rpc_id, payload, RPC)
        .await
        .expect("the RPC is answered")
    {
        RpcAnswer::Ok(answer) => answer,
        other => panic!("RPC {rpc_id:#06x}: {other:?}"),
    }
}

pub fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Pushes readings with these values on output 1 (0x5001).
pub async fn push(connection: &mut impl Connection, values: impl IntoIterator<Item = u32>) {
    for value in values {
        let mut payload = value.to_le_bytes().to_vec();
        payload.extend_from_slice(&0x5001u16.to_le_bytes());
        assert_eq!(word(&call(connection, 0x2000, &payload).await, 0), 0);
    }
}

/// Triggers streamer 0 and returns its next report; other streamers' reports are skipped.
pub async fn trigger_and_receive(
    connection: &mut impl Connection,
) -> Result<SignedListReport, TransportError> {
    let _ = connection
        .rpc(CONTROLLER, 0x2010, &0u16.to_le_bytes(), RPC)
        .await?;
    loop {
        let bytes = connection.next_report(REPORT).await?;
        let report = SignedListReport::decode(&bytes).expect("a signed list report");
        if report.header.streamer == 0 {
            return Ok(report);
        }
    }
}

/// 0x200F: acknowledges streamer `index` up to `id`; returns the error code.
pub async fn ack(connection: &mut impl Connection, index: u16, id: u32) -> u32 {
    let mut payload = index.to_le_bytes().to_vec();
    payload.extend_from_slice(&0u16.to_le_bytes());
    payload.extend_from_slice(&id.to_le_bytes());
    word(&call(connection, 0x200F, &payload).await, 0)
}

/// The POD walks away a few notifications into a ~33-notification report: the report never
/// arrives half, the link reads as lost afterwards, and closing it is still fine.
pub async fn cut_mid_report(mut connection: impl Connection, pod: &VirtualPod) {
    push(&mut connection, 0..40).await;
    pod.set_effects(firmware_tools::radio::RadioEffects {
        disconnect_after_notifications: Some(5),
        ..Default::default()
    });
    connection.open_streaming().await.expect("streaming opens");
    let outcome = trigger_and_receive(&mut connection).await;
    assert!(
        matches!(outcome, Err(TransportError::Disconnected)),
        "{outcome:?}"
    );
    let after = connection.rpc(CONTROLLER, 0x1008, &[], RPC).await;
    assert!(
        matches!(after, Err(TransportError::Disconnected)),
        "{after:?}"
    );
    connection
        .disconnect()
        .await
        .expect("closing a lost link is fine");
    pod.set_effects(firmware_tools::radio::RadioEffects::default());
}

/// The whole visit: controller info, readings pushed, a verified report, the ack.
pub async fn visit<T: Transport>(transport: &T, device_id: u64) {
    let mut scan = transport.scan().await.expect("scanning starts");
    let seen = find(&mut scan, device_id).await;
    assert!(!seen.user_connected);
    drop(scan);
    let mut connection = transport.connect(seen.address).await.expect("connects");

    let info = call(&mut connection, 0x1008, &[]).await;
    assert_eq!(
        u64::from(word(&info, 0)),
        device_id,
        "0x1008 carries the uuid"
    );
    assert_eq!(
        connection
            .rpc(CONTROLLER, 0x7777, &[], RPC)
            .await
            .expect("answered"),
        RpcAnswer::NotFound
    );

    push(&mut connection, [111, 222, 333]).await;
    connection.open_streaming().await.expect("streaming opens");
    let report = trigger_and_receive(&mut connection)
        .await
        .expect("a report");
    let readings = report.readings(None).expect("the report verifies");
    let values: Vec<u32> = readings
        .iter()
        .filter(|r| r.stream == 0x5001)
        .map(|r| r.value)
        .collect();
    assert!(values.ends_with(&[111, 222, 333]), "{values:?}");
    assert_eq!(u64::from(report.header.device_id), device_id);

    assert_eq!(ack(&mut connection, 0, report.highest_id).await, 0);
    let status = call(&mut connection, 0x200A, &0u16.to_le_bytes()).await;
    assert_eq!(
        word(&status, 12),
        report.highest_id,
        "the POD keeps the ack"
    );
    connection.disconnect().await.expect("disconnects");
}

/// A POD advertising `format`, broadcasting output 1, holding one reading (777) on it.
pub fn broadcasting(device_id: u64, format: AdvertisementFormat) -> VirtualPod {
    let config = PodConfig {
        advertisement: format,
        broadcast_stream: Some(StreamCode(0x5001)),
        outputs: Vec::new(),
        rssi: -42,
        ..PodConfig::with_device_id(device_id)
    };
    let pod = VirtualPod::new(config).expect("the POD starts");
    pod.with_model(|model| model.push_reading(0x5001, 777).expect("room"));
    pod
}

pub fn assert_seen(seen: &Seen, pod: &VirtualPod) {
    assert_eq!(seen.address, pod.address());
    assert_eq!(seen.rssi, -42);
    assert!(seen.has_data, "a reading waits to be streamed");
    assert!(!seen.user_connected);
    let broadcast = seen.broadcast.as_ref().expect("the broadcast reading");
    let readings = broadcast.readings();
    assert_eq!(
        readings
            .iter()
            .map(|r| (r.stream, r.value))
            .collect::<Vec<_>>(),
        vec![(0x5001, 777)]
    );
}
