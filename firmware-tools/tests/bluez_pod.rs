//! End to end on the BLE side: unmodified btleplug, through the virtual BlueZ on a private
//! D-Bus bus, finds a virtual POD by its advertisement, runs RPCs and receives a streamed
//! report that verifies. Everything above the radio is field code.

use std::sync::Arc;
use std::time::Duration;

use btleplug::api::{
    Central, CentralEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter, WriteType,
};
use btleplug::platform::{Manager, Peripheral};
use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bluez::{PrivateBus, VirtualBluez};
use firmware_tools::radio::Peripheral as VirtualPeripheral;
use futures::StreamExt;
use sync_protocol::ble::{uuid16_to_u128, Advertisement, V2_SERVICE_UUID16};
use sync_protocol::report::{ReportFramer, SignedListReport};
use sync_protocol::rpc::{RpcOutcome, RpcRequest, RpcResponse};
use uuid::Uuid;

const DEVICE_ID: u64 = 0x0042_1337;

fn characteristic(peripheral: &Peripheral, uuid16: u16) -> Characteristic {
    let uuid = Uuid::from_u128(uuid16_to_u128(uuid16));
    peripheral
        .characteristics()
        .into_iter()
        .find(|c| c.uuid == uuid)
        .unwrap_or_else(|| panic!("characteristic {uuid16:#06x}"))
}

/// Finds the POD whose v2 advertisement (service data 0xFDDD) carries `device_id`.
async fn find_pod(adapter: &btleplug::platform::Adapter, device_id: u64) -> Peripheral {
    let service = Uuid::from_u128(uuid16_to_u128(V2_SERVICE_UUID16));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        for peripheral in adapter.peripherals().await.expect("peripherals") {
            let Some(properties) = peripheral.properties().await.expect("properties") else {
                continue;
            };
            let Some(data) = properties.service_data.get(&service) else {
                continue;
            };
            // BlueZ hands over the service data; the advertisement is the AD header plus it.
            let mut packet = vec![0x02, 0x01, 0x06, 0x1B, 0x16, 0xDD, 0xFD];
            packet.extend_from_slice(data);
            if let Ok(Advertisement::V2(seen)) = Advertisement::parse(&packet, None, None) {
                if u64::from(seen.advertisement.device_id) == device_id {
                    return peripheral;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the POD was not seen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn rpc(
    peripheral: &Peripheral,
    notifications: &mut (impl StreamExt<Item = btleplug::api::ValueNotification> + Unpin),
    rpc_id: u16,
    payload: &[u8],
) -> RpcOutcome {
    let call = RpcRequest::new(8, rpc_id, payload.to_vec()).expect("fits");
    if !payload.is_empty() {
        peripheral
            .write(
                &characteristic(peripheral, 0x2004),
                &call.padded_payload(),
                WriteType::WithoutResponse,
            )
            .await
            .expect("payload written");
    }
    peripheral
        .write(
            &characteristic(peripheral, 0x2003),
            &call.header(),
            WriteType::WithoutResponse,
        )
        .await
        .expect("header written");
    let header_uuid = Uuid::from_u128(uuid16_to_u128(0x2001));
    let payload_uuid = Uuid::from_u128(uuid16_to_u128(0x2002));
    let header = loop {
        let n = tokio::time::timeout(Duration::from_secs(5), notifications.next())
            .await
            .expect("an answer")
            .expect("stream open");
        if n.uuid == header_uuid {
            break n.value;
        }
    };
    let header: [u8; 4] = header.as_slice().try_into().expect("4-byte header");
    let body = if RpcResponse::expects_payload(&header) {
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), notifications.next())
                .await
                .expect("a payload")
                .expect("stream open");
            if n.uuid == payload_uuid {
                break n.value;
            }
        }
    } else {
        Vec::new()
    };
    RpcResponse::from_header(&header, &body)
        .expect("a valid answer")
        .outcome()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn btleplug_collects_a_verified_report_from_a_virtual_pod() {
    let bus = PrivateBus::start().expect("dbus-daemon starts (Debian package dbus)");
    let pod = VirtualPod::new(PodConfig::with_device_id(DEVICE_ID)).expect("the POD starts");
    let peripherals: Vec<Arc<dyn VirtualPeripheral>> = vec![Arc::new(pod.clone())];
    let bluez = VirtualBluez::start(bus.address(), peripherals)
        .await
        .expect("org.bluez served");
    // btleplug finds "the system bus" through this variable, as on a gateway.
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bus.address());

    let manager = Manager::new().await.expect("btleplug manager");
    let adapter = manager
        .adapters()
        .await
        .expect("adapters")
        .into_iter()
        .next()
        .expect("hci0");
    let mut events = adapter.events().await.expect("adapter events");
    adapter
        .start_scan(ScanFilter::default())
        .await
        .expect("scan starts");
    let peripheral = find_pod(&adapter, DEVICE_ID).await;
    assert_eq!(peripheral.address().to_string(), pod.address().to_string());
    adapter.stop_scan().await.expect("scan stops");

    peripheral.connect().await.expect("connects");
    peripheral.discover_services().await.expect("services");
    for uuid16 in [0x2001, 0x2002, 0x2005] {
        peripheral
            .subscribe(&characteristic(&peripheral, uuid16))
            .await
            .expect("subscribed");
    }
    let mut notifications = peripheral
        .notifications()
        .await
        .expect("notification stream");

    let RpcOutcome::Ok(info) = rpc(&peripheral, &mut notifications, 0x1008, &[]).await else {
        panic!("0x1008")
    };
    assert_eq!(
        u32::from_le_bytes(info[..4].try_into().expect("4 bytes")),
        DEVICE_ID as u32
    );
    assert_eq!(
        rpc(&peripheral, &mut notifications, 0x7777, &[]).await,
        RpcOutcome::NotFound
    );
    for value in [7u32, 8, 9] {
        let mut payload = value.to_le_bytes().to_vec();
        payload.extend_from_slice(&0x5001u16.to_le_bytes());
        assert!(matches!(
            rpc(&peripheral, &mut notifications, 0x2000, &payload).await,
            RpcOutcome::Ok(_)
        ));
    }
    let _ = rpc(&peripheral, &mut notifications, 0x2010, &0u16.to_le_bytes()).await;

    let streaming = Uuid::from_u128(uuid16_to_u128(0x2005));
    let mut framer = ReportFramer::new();
    let report = 'found: loop {
        let n = tokio::time::timeout(Duration::from_secs(10), notifications.next())
            .await
            .expect("report chunks")
            .expect("open");
        if n.uuid != streaming {
            continue;
        }
        assert!(n.value.len() <= 20);
        framer.push(&n.value);
        while let Some(bytes) = framer.next_report() {
            let report =
                SignedListReport::decode(&bytes.expect("well framed")).expect("a signed list");
            if report.header.streamer == 0 {
                break 'found report;
            }
        }
    };
    let readings = report.readings(None).expect("the report verifies");
    let values: Vec<u32> = readings
        .iter()
        .filter(|r| r.stream == 0x5001)
        .map(|r| r.value)
        .collect();
    assert!(values.ends_with(&[7, 8, 9]), "{values:?}");

    // The POD dropping the link reaches btleplug as a disconnect event, not a hang.
    pod.drop_connection();
    let disconnected = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.next().await {
            if matches!(event, CentralEvent::DeviceDisconnected(_)) {
                return true;
            }
        }
        false
    })
    .await
    .expect("a disconnect event within 10 s");
    assert!(disconnected);
    assert!(!peripheral.is_connected().await.expect("state"));
    bluez.stop().await.expect("stops");
}
