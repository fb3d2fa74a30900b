//! The same visit, run over either transport against a virtual POD: find it, connect, RPCs,
//! stream a signed report, acknowledge it; and the same script update, sent over the
//! high-speed channel and as remote bridge RPC chunks.

#![allow(dead_code)]

use std::time::Duration;

use firmware_tools::pod::advertising::AdvertisementFormat;
use firmware_tools::pod::{PodConfig, StreamCode, VirtualPod};
use gateway::transport::{Connection, RpcAnswer, Seen, Transport, TransportError, CONTROLLER};
use sha2::{Digest, Sha256};
use sync_protocol::report::SignedListReport;
use sync_protocol::script::{Record, UpdateScript};
use sync_protocol::version::TagVersion;
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

/// How a script's bytes reach the POD's remote bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Writes to the High Speed characteristic (`0x2006`).
    HighSpeed,
    /// RPC `0x2101`, at most 20 bytes each.
    RpcChunks,
}

/// The tile slot the update scripts reflash.
pub const SCRIPT_SLOT: u8 = 11;

/// An update script of a few KiB: a 4 KiB tile image (some 200 writes of 20 bytes), then
/// the app tag. Returns the script and the image.
pub fn update_script(app: TagVersion, seed: u8) -> (Vec<u8>, Vec<u8>) {
    let image: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(31) as u8) ^ seed)
        .collect();
    let records = vec![
        Record::reflash_tile(SCRIPT_SLOT, 0x4000, image.clone()).expect("a tile image"),
        Record::set_device_tag(None, Some(app)).expect("an app tag"),
    ];
    (UpdateScript::new(records).encode(), image)
}

/// 0x2104: the remote bridge's (status, error).
pub async fn bridge_status(connection: &mut impl Connection) -> (u32, u32) {
    let status = call(connection, 0x2104, &[]).await;
    (word(&status, 0), word(&status, 4))
}

/// The remote bridge sequence: begin (0x2100), the bytes, end (0x2102), trigger (0x2103),
/// then 0x2104 until the bridge is idle again; returns the script's error code.
pub async fn run_script(
    connection: &mut impl Connection,
    script: &[u8],
    delivery: Delivery,
) -> u32 {
    assert_eq!(
        bridge_status(connection).await,
        (0, 0),
        "the bridge starts idle"
    );
    assert_eq!(word(&call(connection, 0x2100, &[]).await, 0), 0, "0x2100");
    match delivery {
        Delivery::HighSpeed => connection
            .send_script(script)
            .await
            .expect("the script goes over the high-speed channel"),
        Delivery::RpcChunks => {
            for chunk in script.chunks(20) {
                assert_eq!(word(&call(connection, 0x2101, chunk).await, 0), 0, "0x2101");
            }
        }
    }
    assert_eq!(word(&call(connection, 0x2102, &[]).await, 0), 0, "0x2102");
    // The bridge holds every byte, in order, or validation (length and hash) fails.
    assert_eq!(bridge_status(connection).await.0, 3, "received");
    assert_eq!(word(&call(connection, 0x2103, &[]).await, 0), 0, "0x2103");
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (status, error) = bridge_status(connection).await;
            if status == 0 {
                return error;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the script finishes within 20 s")
}

/// The same update sent both ways, each with its own app tag and image: the POD runs it,
/// and its effects (the app tag 0x1008 reports, the tile's new image) are there. The radio
/// refuses every 7th write as "buffers full" (BGAPI `0x0182`; BlueZ queues and resends
/// itself): the transport must send it again, or the script fails its hash.
pub async fn update_both_ways<T: Transport>(transport: &T, pod: &VirtualPod, device_id: u64) {
    let mut scan = transport.scan().await.expect("scanning starts");
    let seen = find(&mut scan, device_id).await;
    drop(scan);
    let mut connection = transport.connect(seen.address).await.expect("connects");
    assert!(connection.has_script_channel(), "the POD offers High Speed");
    pod.set_effects(firmware_tools::radio::RadioEffects {
        buffers_full_every_nth_write: Some(7),
        ..Default::default()
    });

    for (delivery, tag, seed) in [
        (Delivery::HighSpeed, 2050, 0x5A),
        (Delivery::RpcChunks, 2051, 0xA5),
    ] {
        let app = TagVersion::new(tag, 1, 4).expect("in range");
        let (script, image) = update_script(app, seed);
        assert!(script.len() > 4096, "{} bytes", script.len());
        let error = run_script(&mut connection, &script, delivery).await;
        assert_eq!(error, 0, "{delivery:?}: the script ran without error");

        let info = call(&mut connection, 0x1008, &[]).await;
        assert_eq!(
            word(&info, 16),
            app.pack(),
            "{delivery:?}: the app tag is set"
        );
        let installed = pod.with_model(|model| {
            model
                .tiles()
                .iter()
                .find(|t| t.slot == SCRIPT_SLOT)
                .and_then(|t| t.image.clone())
        });
        let installed = installed.expect("the tile has the image");
        assert_eq!(installed.len, image.len(), "{delivery:?}");
        assert_eq!(
            installed.sha256,
            hex::encode(Sha256::digest(&image)),
            "{delivery:?}"
        );
    }
    pod.set_effects(firmware_tools::radio::RadioEffects::default());
    connection.disconnect().await.expect("disconnects");
}
