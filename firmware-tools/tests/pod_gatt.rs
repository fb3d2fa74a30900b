//! The virtual POD over its GATT personality: RPCs, multi-chunk reports, dropped links,
//! radio effects, scripts and tracing.

use std::time::Duration;

use firmware_tools::pod::{Generator, OutputConfig, PodConfig, PodModel, StreamCode, VirtualPod};
use firmware_tools::radio::{AttError, LinkEvent, Peripheral, RadioEffects};
use sync_protocol::report::SignedListReport;
use sync_protocol::rpc::{RpcOutcome, RpcRequest};
use sync_protocol::script::Record;

mod pod_common;
use pod_common::*;

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

/// "Buffers full" refuses every nth write-without-response and takes nothing from it; a
/// write sent again goes through, so a script resent chunk by chunk arrives whole.
#[tokio::test]
async fn writes_refused_as_buffers_full_take_nothing_and_can_be_resent() {
    let pod = gatt_pod(0x206, |_| {});
    let mut connection = pod.connect().expect("connects");
    open_rpc(&mut connection).await;
    assert_eq!(
        gatt_rpc(&mut connection, 0x2100, &[]).await.payload(),
        &[0, 0, 0, 0]
    );
    pod.set_effects(RadioEffects {
        buffers_full_every_nth_write: Some(3),
        ..RadioEffects::default()
    });
    let bytes = script(vec![
        Record::set_device_tag(None, Some(tag(2200, 1, 2))).expect("record"),
        Record::send_rpc(8, 0x1008, vec![]).expect("record"),
    ]);
    let mut outcomes = Vec::new();
    for chunk in bytes.chunks(20) {
        loop {
            let written = connection.link.write(0x2006, chunk, false);
            outcomes.push(written.is_ok());
            match written {
                Ok(()) => break,
                Err(error) => assert_eq!(error, AttError::Busy),
            }
        }
    }
    let refused: Vec<usize> = (0..outcomes.len()).filter(|i| !outcomes[*i]).collect();
    assert!(!refused.is_empty());
    assert!(refused.iter().all(|i| (i + 1) % 3 == 0), "{outcomes:?}");
    // Acknowledged writes are not flow-controlled this way.
    connection
        .link
        .write(0x2006, &[], true)
        .expect("a write with response");
    connection
        .link
        .write(0x2006, &[], true)
        .expect("a write with response");
    pod.set_effects(RadioEffects::default());
    assert_eq!(
        gatt_rpc(&mut connection, 0x2102, &[]).await.payload(),
        &[0, 0, 0, 0]
    );
    assert_eq!(
        gatt_rpc(&mut connection, 0x2103, &[]).await.payload(),
        &[0, 0, 0, 0]
    );
    let status = pod.with_model(|m| m.run_script());
    assert_eq!(
        status.1, 0,
        "the script validated and ran: every byte arrived once"
    );
    assert_eq!(pod.with_model(|m| m.app_tag()), tag(2200, 1, 2));
}
