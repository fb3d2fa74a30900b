//! A host drives the virtual BLED112 through its pty with tokio-serial, as a gateway drives a
//! real dongle on `/dev/ttyACM0`: scan, connect, discover the TileBus GATT table, run RPCs on
//! a virtual POD and receive a streamed report that verifies.

use std::sync::Arc;
use std::time::Duration;

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::{Peripheral, RadioEffects};
use sync_protocol::bgapi::{codes, BdAddr, Command, Event, Response};
use sync_protocol::ble::{Advertisement, CharacteristicDeclaration};
use sync_protocol::report::{ReportFramer, SignedListReport};
use sync_protocol::rpc::{RpcOutcome, RpcRequest, RpcResponse};

#[path = "common/bgapi_host.rs"]
mod bgapi_host;
use bgapi_host::Host;

const DEVICE_ID: u64 = 0x0012_3456;

/// Value handles of the TileBus characteristics, found by discovery.
#[derive(Debug, Default)]
struct Handles {
    receive_header: u16,
    receive_payload: u16,
    send_header: u16,
    send_payload: u16,
    streaming: u16,
}

fn start() -> (VirtualPod, VirtualBled112) {
    let pod = VirtualPod::new(PodConfig::with_device_id(DEVICE_ID)).expect("the POD starts");
    let peripheral: Arc<dyn Peripheral> = Arc::new(pod.clone());
    let dongle =
        VirtualBled112::start(vec![peripheral], DongleOptions::default()).expect("pty opens");
    (pod, dongle)
}

async fn scan_for(host: &mut Host, device_id: u64) -> BdAddr {
    assert!(matches!(
        host.call(Command::SystemGetConnections).await,
        Response::SystemGetConnections { max_connections: 3 }
    ));
    for slot in 0..3 {
        let flags = host
            .wait_for("a slot event", |e| match e {
                Event::ConnectionStatus {
                    connection, flags, ..
                } if *connection == slot => Some(*flags),
                _ => None,
            })
            .await;
        assert_eq!(flags, 0, "no connection is open at start");
    }
    assert_eq!(
        host.call(Command::GapEndProcedure).await.result(),
        Some(codes::WRONG_STATE)
    );
    host.call(Command::GapSetMode {
        discover: 0,
        connect: 0,
    })
    .await;
    host.call(Command::coretools_scan_parameters(true)).await;
    assert_eq!(
        host.call(Command::GapDiscover { mode: 2 }).await.result(),
        Some(codes::SUCCESS)
    );
    assert_eq!(
        host.call(Command::GapDiscover { mode: 2 }).await.result(),
        Some(codes::WRONG_STATE)
    );
    let address = host
        .wait_for("the POD's advertisement", |e| match e {
            Event::ScanResponse {
                address,
                data,
                packet_type: 0,
                ..
            } => {
                let seen = Advertisement::parse(data, None, None).ok()?;
                (seen.device_id() == device_id as u32).then_some(*address)
            }
            _ => None,
        })
        .await;
    assert_eq!(
        host.call(Command::GapEndProcedure).await.result(),
        Some(codes::SUCCESS)
    );
    address
}

async fn connect(host: &mut Host, address: BdAddr) -> u8 {
    let Response::GapConnectDirect {
        result: 0,
        connection,
    } = host.call(Command::connect(address)).await
    else {
        panic!("the connect is accepted")
    };
    let (flags, seen) = host
        .wait_for("connection_status", |e| match e {
            Event::ConnectionStatus {
                connection: c,
                flags,
                address,
                ..
            } if *c == connection => Some((*flags, *address)),
            _ => None,
        })
        .await;
    assert_ne!(flags, 0);
    assert_eq!(seen, address);
    host.forget_events();
    connection
}

async fn discover(host: &mut Host, connection: u8) -> Handles {
    host.call(Command::read_primary_services(connection)).await;
    let mut services = Vec::new();
    loop {
        let event = host
            .wait_for("a service or the end", |e| match e {
                Event::GroupFound {
                    start, end, uuid, ..
                } => Some(Ok((*start, *end, uuid.clone()))),
                Event::ProcedureCompleted { result, .. } => Some(Err(*result)),
                _ => None,
            })
            .await;
        match event {
            Ok(service) => services.push(service),
            // As on a BLED112 (coretools' driver refuses anything else).
            Err(result) => {
                assert_eq!(result, codes::SUCCESS, "services end with 0");
                break;
            }
        }
    }
    let tilebus = sync_protocol::ble::TILEBUS_SERVICE_UUID_LE.to_vec();
    let &(start, end, _) = services
        .iter()
        .find(|(_, _, uuid)| *uuid == tilebus)
        .expect("the TileBus service");

    host.call(Command::FindInformation {
        connection,
        start,
        end,
    })
    .await;
    let mut declarations = Vec::new();
    loop {
        let found = host
            .wait_for("an attribute or the end", |e| match e {
                Event::FindInformationFound { handle, uuid, .. } => {
                    Some(Ok((*handle, uuid.clone())))
                }
                Event::ProcedureCompleted { result, .. } => Some(Err(*result)),
                _ => None,
            })
            .await;
        match found {
            Ok((handle, uuid)) if uuid == [0x03, 0x28] => declarations.push(handle),
            Ok(_) => {}
            Err(result) => {
                assert_eq!(result, codes::SUCCESS, "attributes end with 0");
                break;
            }
        }
    }
    let mut handles = Handles::default();
    for handle in declarations {
        host.call(Command::ReadByHandle { connection, handle })
            .await;
        let value = host
            .wait_for("a declaration", |e| match e {
                Event::AttributeValue {
                    handle: h, value, ..
                } if *h == handle => Some(value.clone()),
                _ => None,
            })
            .await;
        let declaration = CharacteristicDeclaration::decode(&value).expect("a declaration");
        let slot = match sync_protocol::ble::u128_to_uuid16(declaration.uuid) {
            Some(0x2001) => &mut handles.receive_header,
            Some(0x2002) => &mut handles.receive_payload,
            Some(0x2003) => &mut handles.send_header,
            Some(0x2004) => &mut handles.send_payload,
            Some(0x2005) => &mut handles.streaming,
            _ => continue,
        };
        *slot = declaration.value_handle;
    }
    assert!(
        handles.receive_header != 0 && handles.streaming != 0,
        "{handles:?}"
    );
    handles
}

async fn enable_notifications(host: &mut Host, connection: u8, value_handle: u16) {
    let cccd = value_handle + 1;
    let response = host
        .call(Command::AttributeWrite {
            connection,
            handle: cccd,
            value: vec![1, 0],
        })
        .await;
    assert_eq!(response.result(), Some(codes::SUCCESS));
    let result = host
        .wait_for("the write's completion", |e| match e {
            Event::ProcedureCompleted { handle, result, .. } if *handle == cccd => Some(*result),
            _ => None,
        })
        .await;
    assert_eq!(result, codes::SUCCESS);
}

async fn rpc(
    host: &mut Host,
    connection: u8,
    handles: &Handles,
    address: u8,
    rpc_id: u16,
    payload: &[u8],
) -> RpcOutcome {
    let call = RpcRequest::new(address, rpc_id, payload.to_vec()).expect("fits");
    if !payload.is_empty() {
        let write = Command::WriteCommand {
            connection,
            handle: handles.send_payload,
            value: call.padded_payload().to_vec(),
        };
        assert_eq!(host.call(write).await.result(), Some(codes::SUCCESS));
    }
    let write = Command::WriteCommand {
        connection,
        handle: handles.send_header,
        value: call.header().to_vec(),
    };
    assert_eq!(host.call(write).await.result(), Some(codes::SUCCESS));
    let header = host
        .wait_for("the RPC answer header", |e| match e {
            Event::AttributeValue {
                handle,
                value,
                kind: 1,
                ..
            } if *handle == handles.receive_header => Some(value.clone()),
            _ => None,
        })
        .await;
    let header: [u8; 4] = header.as_slice().try_into().expect("a 4-byte header");
    let payload = if RpcResponse::expects_payload(&header) {
        host.wait_for("the RPC answer payload", |e| match e {
            Event::AttributeValue {
                handle,
                value,
                kind: 1,
                ..
            } if *handle == handles.receive_payload => Some(value.clone()),
            _ => None,
        })
        .await
    } else {
        Vec::new()
    };
    RpcResponse::from_header(&header, &payload)
        .expect("a valid answer")
        .outcome()
}

/// Connects, discovers the GATT table and opens the RPC interface.
async fn open_rpc(host: &mut Host, address: BdAddr) -> (u8, Handles) {
    let connection = connect(host, address).await;
    let handles = discover(host, connection).await;
    enable_notifications(host, connection, handles.receive_header).await;
    enable_notifications(host, connection, handles.receive_payload).await;
    (connection, handles)
}

/// Pushes readings with these values on output 1 (RPC 0x2000).
async fn push_readings(
    host: &mut Host,
    connection: u8,
    handles: &Handles,
    values: std::ops::Range<u32>,
) {
    for value in values {
        let mut payload = value.to_le_bytes().to_vec();
        payload.extend_from_slice(&0x5001u16.to_le_bytes());
        let pushed = rpc(host, connection, handles, 8, 0x2000, &payload).await;
        assert_eq!(pushed, RpcOutcome::Ok(0u32.to_le_bytes().to_vec()));
    }
}

/// Triggers streamer 0 (RPC 0x2010) and returns its report.
async fn trigger_and_collect(
    host: &mut Host,
    connection: u8,
    handles: &Handles,
) -> SignedListReport {
    let _ = rpc(host, connection, handles, 8, 0x2010, &0u16.to_le_bytes()).await;
    next_report_of_streamer(host, handles, 0).await
}

/// Reassembles streamed reports until one of `streamer` arrives (streamer 1, "with
/// streamer 0", may come first).
async fn next_report_of_streamer(
    host: &mut Host,
    handles: &Handles,
    streamer: u8,
) -> SignedListReport {
    let mut framer = ReportFramer::new();
    loop {
        let chunk = host
            .wait_for("report chunks", |e| match e {
                Event::AttributeValue {
                    handle,
                    value,
                    kind: 1,
                    ..
                } if *handle == handles.streaming => Some(value.clone()),
                _ => None,
            })
            .await;
        assert!(chunk.len() <= 20, "notifications carry at most 20 bytes");
        framer.push(&chunk);
        while let Some(report) = framer.next_report() {
            let report = SignedListReport::decode(&report.expect("well framed"))
                .expect("a signed list report");
            if report.header.streamer == streamer {
                return report;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_collects_a_report_through_the_virtual_dongle() {
    let (_pod, dongle) = start();
    let mut host = Host::open(dongle.path());
    let address = scan_for(&mut host, DEVICE_ID).await;
    let (connection, handles) = open_rpc(&mut host, address).await;

    // Controller info: the uuid comes back in the first four bytes.
    let RpcOutcome::Ok(info) = rpc(&mut host, connection, &handles, 8, 0x1008, &[]).await else {
        panic!("0x1008 answers")
    };
    assert_eq!(
        u32::from_le_bytes(info[..4].try_into().expect("4 bytes")),
        DEVICE_ID as u32
    );
    assert_eq!(
        rpc(&mut host, connection, &handles, 8, 0x7777, &[]).await,
        RpcOutcome::NotFound
    );
    assert_eq!(
        rpc(&mut host, connection, &handles, 42, 0x1008, &[]).await,
        RpcOutcome::TileNotFound
    );

    // Push two readings on output 1, then stream them as a signed report.
    for value in [111u32, 222] {
        let mut payload = value.to_le_bytes().to_vec();
        payload.extend_from_slice(&0x5001u16.to_le_bytes());
        let RpcOutcome::Ok(code) = rpc(&mut host, connection, &handles, 8, 0x2000, &payload).await
        else {
            panic!("push")
        };
        assert_eq!(code, 0u32.to_le_bytes());
    }
    enable_notifications(&mut host, connection, handles.streaming).await;
    let trigger = rpc(
        &mut host,
        connection,
        &handles,
        8,
        0x2010,
        &0u16.to_le_bytes(),
    )
    .await;
    assert!(matches!(trigger, RpcOutcome::Ok(_)), "{trigger:?}");
    let report = next_report_of_streamer(&mut host, &handles, 0).await;
    let readings = report.readings(None).expect("the report verifies");
    let values: Vec<u32> = readings
        .iter()
        .filter(|r| r.stream == 0x5001)
        .map(|r| r.value)
        .collect();
    assert!(values.ends_with(&[111, 222]), "{values:?}");
    assert!(report.header.report_id > report.highest_id);

    let response = host
        .call(Command::ConnectionDisconnect { connection })
        .await;
    assert_eq!(response.result(), Some(codes::SUCCESS));
    host.wait_for("the disconnect", |e| {
        matches!(e, Event::ConnectionDisconnected { connection: c, .. } if *c == connection)
            .then_some(())
    })
    .await;
    assert_eq!(
        host.call(Command::ReadByHandle {
            connection,
            handle: 0x0C
        })
        .await
        .result(),
        Some(codes::NOT_CONNECTED)
    );
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_walking_out_of_range_mid_transfer_is_a_disconnect_not_a_bad_report() {
    let (pod, dongle) = start();
    let mut host = Host::open(dongle.path());
    let address = scan_for(&mut host, DEVICE_ID).await;
    let (connection, handles) = open_rpc(&mut host, address).await;
    push_readings(&mut host, connection, &handles, 0..40).await;
    // The link drops after 5 more notifications: inside the report (it takes about 33).
    pod.set_effects(RadioEffects {
        disconnect_after_notifications: Some(5),
        ..RadioEffects::default()
    });
    enable_notifications(&mut host, connection, handles.streaming).await;
    let _ = rpc(
        &mut host,
        connection,
        &handles,
        8,
        0x2010,
        &0u16.to_le_bytes(),
    )
    .await;
    let mut framer = ReportFramer::new();
    loop {
        let event = host
            .wait_for("chunks or the disconnect", |e| match e {
                Event::AttributeValue { handle, value, .. } if *handle == handles.streaming => {
                    Some(Some(value.clone()))
                }
                Event::ConnectionDisconnected { connection: c, .. } if *c == connection => {
                    Some(None)
                }
                _ => None,
            })
            .await;
        match event {
            Some(chunk) => framer.push(&chunk),
            None => break,
        }
    }
    // Whole reports that made it out verify; the big one was cut and never comes out whole.
    while let Some(report) = framer.next_report() {
        let report = SignedListReport::decode(&report.expect("well framed")).expect("a report");
        let readings = report.readings(None).expect("a whole report verifies");
        assert!(
            readings.iter().filter(|r| r.stream == 0x5001).count() < 40,
            "the cut report came out whole"
        );
    }
    assert!(framer.pending() > 0, "the link dropped inside a report");
    pod.set_effects(RadioEffects::default());
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The POD kept the data: the host reconnects and gets it all.
    let (connection, handles) = open_rpc(&mut host, address).await;
    enable_notifications(&mut host, connection, handles.streaming).await;
    let report = trigger_and_collect(&mut host, connection, &handles).await;
    let readings = report.readings(None).expect("verifies");
    assert!(readings.iter().filter(|r| r.stream == 0x5001).count() >= 40);
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_notification_never_yields_an_accepted_report() {
    let (pod, dongle) = start();
    let mut host = Host::open(dongle.path());
    let address = scan_for(&mut host, DEVICE_ID).await;
    let (connection, handles) = open_rpc(&mut host, address).await;
    push_readings(&mut host, connection, &handles, 0..30).await;
    enable_notifications(&mut host, connection, handles.streaming).await;
    // From here every 7th notification is lost: the trigger's answer gets through, report
    // chunks do not all arrive.
    pod.set_effects(RadioEffects {
        drop_every_nth_notification: Some(7),
        ..RadioEffects::default()
    });
    let _ = rpc(
        &mut host,
        connection,
        &handles,
        8,
        0x2010,
        &0u16.to_le_bytes(),
    )
    .await;
    let mut framer = ReportFramer::new();
    let mut received = 0;
    while let Ok(chunk) = tokio::time::timeout(
        Duration::from_millis(500),
        host.wait_for("report chunks", |e| match e {
            Event::AttributeValue { handle, value, .. } if *handle == handles.streaming => {
                Some(value.clone())
            }
            _ => None,
        }),
    )
    .await
    {
        received += chunk.len();
        framer.push(&chunk);
    }
    assert!(
        received > 30 * 16,
        "the damaged report was sent ({received} bytes arrived)"
    );
    // Whatever the framer makes of the damaged stream, nothing with 30 readings verifies.
    while let Some(next) = framer.next_report() {
        let Ok(bytes) = next else { break };
        if let Ok(report) = SignedListReport::decode(&bytes) {
            if let Ok(readings) = report.readings(None) {
                assert!(
                    readings.iter().filter(|r| r.stream == 0x5001).count() < 30,
                    "a damaged report verified"
                );
            }
        }
    }
    // The POD still holds everything (nothing was acknowledged): a clean retry gets it all.
    pod.set_effects(RadioEffects::default());
    let report = trigger_and_collect(&mut host, connection, &handles).await;
    let readings = report.readings(None).expect("verifies");
    assert!(readings.iter().filter(|r| r.stream == 0x5001).count() >= 30);
    dongle.stop().await;
}
