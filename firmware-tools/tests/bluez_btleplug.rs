//! The virtual BlueZ on a real private D-Bus bus, driven by unmodified btleplug.
//!
//! All btleplug use stays in this one test binary, in one test, because
//! `DBUS_SYSTEM_BUS_ADDRESS` is process-wide.
//!
//! These tests need `dbus-daemon` (Debian package `dbus`) and fail without it.

mod bluez_common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bluez_common::*;
use btleplug::api::{
    AddressType, BDAddr, Central, CentralEvent, CharPropFlags, Characteristic, Manager as _,
    Peripheral as _, ScanFilter, ValueNotification, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral as BtPeripheral};
use firmware_tools::radio::bluez::{gatt, VirtualBluez};
use firmware_tools::radio::BdAddr;
use futures::{Stream, StreamExt};
use tokio::time::timeout;
use uuid::Uuid;

// ------------------------------------------------------------------------------------------
// btleplug: all in one test, because DBUS_SYSTEM_BUS_ADDRESS is process-wide.

fn bt(address: BdAddr) -> BDAddr {
    BDAddr::from(address.0)
}

async fn find_peripheral(adapter: &Adapter, address: BdAddr) -> BtPeripheral {
    let want = bt(address);
    timeout(STEP, async {
        loop {
            if let Some(p) = adapter
                .peripherals()
                .await
                .expect("peripherals")
                .into_iter()
                .find(|p| p.address() == want)
            {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{address} never showed up in a scan"))
}

async fn wait_event(
    events: &mut (impl Stream<Item = CentralEvent> + Unpin),
    what: &str,
    mut pred: impl FnMut(&CentralEvent) -> bool,
) -> CentralEvent {
    timeout(STEP, async {
        while let Some(e) = events.next().await {
            if pred(&e) {
                return e;
            }
        }
        panic!("adapter event stream ended while waiting for {what}");
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn next_notification(
    notes: &mut (impl Stream<Item = ValueNotification> + Unpin),
    uuid: Uuid,
) -> Vec<u8> {
    timeout(STEP, async {
        while let Some(n) = notes.next().await {
            if n.uuid == uuid {
                return n.value;
            }
        }
        panic!("notification stream ended");
    })
    .await
    .unwrap_or_else(|_| panic!("no notification on {uuid}"))
}

fn characteristic(p: &BtPeripheral, short: u16) -> Characteristic {
    p.characteristics()
        .into_iter()
        .find(|c| c.uuid == gatt::uuid16(short) && c.service_uuid == gatt::TILEBUS_SERVICE_UUID)
        .unwrap_or_else(|| panic!("no characteristic {short:04x}"))
}

async fn connect_and_discover(p: &BtPeripheral) {
    timeout(STEP, p.connect())
        .await
        .expect("connect timed out")
        .expect("connect");
    timeout(STEP, p.discover_services())
        .await
        .expect("discover timed out")
        .expect("discover services");
}

/// Subscribes to the RPC characteristics and runs one call; returns the response.
async fn rpc(
    p: &BtPeripheral,
    notes: &mut (impl Stream<Item = ValueNotification> + Unpin),
    payload: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let header = [0x00, 0x00, 0x04, 0x00, 0x0A, 0x00, 0x08, 0x00];
    p.write(
        &characteristic(p, 0x2004),
        payload,
        WriteType::WithoutResponse,
    )
    .await
    .expect("write payload");
    p.write(&characteristic(p, 0x2003), &header, WriteType::WithResponse)
        .await
        .expect("write header");
    let h = next_notification(notes, gatt::uuid16(0x2001)).await;
    let body = next_notification(notes, gatt::uuid16(0x2002)).await;
    (h, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn btleplug_scans_connects_and_streams_through_the_virtual_radio() {
    let bus = start_bus();
    let pod1 = SimPod::new(POD1, AdFormat::V1, 0x0000_1234, -55);
    let pod2 = SimPod::new(POD2, AdFormat::V2, 0x0000_5678, -70);
    let bluez = VirtualBluez::start_with_options(
        bus.address(),
        vec![pod1.clone(), pod2.clone()],
        fast_options(),
    )
    .await
    .expect("start virtual bluez");

    // btleplug (through bluez-async / libdbus) finds BlueZ on the "system" bus.
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
    let manager = Manager::new().await.expect("btleplug manager");
    let adapters = manager.adapters().await.expect("adapters");
    assert_eq!(adapters.len(), 1, "one virtual adapter");
    let adapter = adapters.into_iter().next().expect("adapter");
    assert!(adapter
        .adapter_info()
        .await
        .expect("info")
        .starts_with("hci0"));
    let mut events = adapter.events().await.expect("events");

    // ---- scanning
    adapter
        .start_scan(ScanFilter::default())
        .await
        .expect("start scan");
    let p1 = find_peripheral(&adapter, pod1.address).await;
    let p2 = find_peripheral(&adapter, pod2.address).await;

    let props1 = p1.properties().await.expect("props").expect("props1");
    assert_eq!(props1.address, bt(pod1.address));
    assert_eq!(props1.address_type, Some(AddressType::Public));
    // Advertisement and scan response both carry company 0x03C0; BlueZ keeps the later one.
    assert_eq!(
        props1.manufacturer_data,
        HashMap::from([(0x03C0u16, pod1.v1_scan_response_data())])
    );
    assert_eq!(props1.services, vec![gatt::TILEBUS_SERVICE_UUID]);
    assert_eq!(props1.local_name.as_deref(), Some("IOTile"));
    assert_eq!(props1.rssi, Some(-55));
    assert!(props1.service_data.is_empty());

    let props2 = p2.properties().await.expect("props").expect("props2");
    assert_eq!(props2.address, bt(pod2.address));
    assert_eq!(props2.address_type, Some(AddressType::Random));
    let fddd = gatt::uuid16(0xFDDD);
    assert_eq!(
        props2.service_data,
        HashMap::from([(fddd, pod2.v2_service_data())])
    );
    assert_eq!(props2.services, vec![fddd]);
    assert!(props2.manufacturer_data.is_empty());
    assert_eq!(props2.advertisement_name, None);
    assert_eq!(props2.rssi, Some(-70));

    wait_event(
        &mut events,
        "DeviceDiscovered(pod1)",
        |e| matches!(e, CentralEvent::DeviceDiscovered(id) if *id == p1.id()),
    )
    .await;
    // btleplug asks for duplicate data: every advertisement re-announces the data.
    for _ in 0..2 {
        wait_event(&mut events, "ManufacturerDataAdvertisement(pod1)", |e| {
            matches!(e, CentralEvent::ManufacturerDataAdvertisement { id, manufacturer_data }
                if *id == p1.id() && manufacturer_data.contains_key(&0x03C0))
        })
        .await;
    }
    wait_event(&mut events, "ServiceDataAdvertisement(pod2)", |e| {
        matches!(e, CentralEvent::ServiceDataAdvertisement { id, service_data }
            if *id == p2.id() && service_data.contains_key(&fddd))
    })
    .await;
    pod2.rssi.store(-48, Ordering::SeqCst);
    wait_event(
        &mut events,
        "RssiUpdate(pod2)",
        |e| matches!(e, CentralEvent::RssiUpdate { id, rssi } if *id == p2.id() && *rssi == -48),
    )
    .await;

    // ---- connect + discover
    connect_and_discover(&p1).await;
    assert!(p1.is_connected().await.expect("is_connected"));
    wait_event(
        &mut events,
        "DeviceConnected(pod1)",
        |e| matches!(e, CentralEvent::DeviceConnected(id) if *id == p1.id()),
    )
    .await;
    let services = p1.services();
    let tilebus = services
        .iter()
        .find(|s| s.uuid == gatt::TILEBUS_SERVICE_UUID)
        .expect("TileBus service");
    assert!(tilebus.primary);
    assert_eq!(tilebus.characteristics.len(), 7);
    let flags = |short: u16| characteristic(&p1, short).properties;
    assert_eq!(flags(0x2001), CharPropFlags::READ | CharPropFlags::NOTIFY);
    assert_eq!(flags(0x2002), CharPropFlags::READ | CharPropFlags::NOTIFY);
    assert_eq!(
        flags(0x2003),
        CharPropFlags::WRITE | CharPropFlags::WRITE_WITHOUT_RESPONSE
    );
    assert_eq!(
        flags(0x2004),
        CharPropFlags::WRITE | CharPropFlags::WRITE_WITHOUT_RESPONSE
    );
    assert_eq!(flags(0x2005), CharPropFlags::READ | CharPropFlags::NOTIFY);
    assert_eq!(flags(0x2006), CharPropFlags::WRITE_WITHOUT_RESPONSE);
    assert_eq!(flags(0x2007), CharPropFlags::NOTIFY);
    let cccd = gatt::uuid16(0x2902);
    for short in [0x2001, 0x2002, 0x2005, 0x2007] {
        let c = characteristic(&p1, short);
        assert_eq!(c.descriptors.len(), 1, "{short:04x} has its CCCD");
        assert!(c.descriptors.iter().all(|d| d.uuid == cccd));
    }
    assert!(characteristic(&p1, 0x2003).descriptors.is_empty());

    // ---- RPC: a header write yields notifications on 0x2001 then 0x2002
    let mut notes1 = p1.notifications().await.expect("notifications");
    p1.subscribe(&characteristic(&p1, 0x2001))
        .await
        .expect("sub 2001");
    p1.subscribe(&characteristic(&p1, 0x2002))
        .await
        .expect("sub 2002");
    let (h, body) = rpc(&p1, &mut notes1, &[1, 2, 3, 4]).await;
    assert_eq!(h, vec![0x00, 0x00, 4, 0x00]);
    assert_eq!(body, vec![0xFE, 0xFD, 0xFC, 0xFB]);
    assert_eq!(
        p1.read(&characteristic(&p1, 0x2001)).await.expect("read"),
        vec![0x00, 0x00, 4, 0x00]
    );
    // As with the real BlueZ, a read updates the cached Value and announces it, so
    // btleplug's notification stream shows the value read too.
    assert_eq!(
        next_notification(&mut notes1, gatt::uuid16(0x2001)).await,
        vec![0x00, 0x00, 4, 0x00]
    );
    // Writes arrive in order and with the write type the host chose.
    let writes: Vec<(u16, bool)> = pod1
        .state()
        .writes
        .iter()
        .map(|(c, _, r)| (*c, *r))
        .collect();
    assert_eq!(writes, vec![(0x2004, false), (0x2003, true)]);
    // A refused write surfaces as an error.
    let err = p1
        .write(
            &characteristic(&p1, 0x2006),
            &[0; 4],
            WriteType::WithResponse,
        )
        .await;
    assert!(
        err.is_err(),
        "write request on a write-without-response characteristic"
    );

    // ---- streaming: a multi-notification blob arrives intact and in order
    let mut stream_notes = p1.notifications().await.expect("notifications");
    p1.subscribe(&characteristic(&p1, 0x2005))
        .await
        .expect("sub 2005");
    let expected: Vec<u8> = pod1.blobs.concat();
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.extend(next_notification(&mut stream_notes, gatt::uuid16(0x2005)).await);
    }
    assert_eq!(got, expected);
    p1.unsubscribe(&characteristic(&p1, 0x2005))
        .await
        .expect("unsub");
    p1.unsubscribe(&characteristic(&p1, 0x2005))
        .await
        .expect("a second unsubscribe is harmless (btleplug maps BlueZ's error)");

    // ---- two peripherals at once
    connect_and_discover(&p2).await;
    let mut notes2 = p2.notifications().await.expect("notifications");
    p2.subscribe(&characteristic(&p2, 0x2001))
        .await
        .expect("sub");
    p2.subscribe(&characteristic(&p2, 0x2002))
        .await
        .expect("sub");
    let (h2, body2) = rpc(&p2, &mut notes2, &[9, 9]).await;
    assert_eq!((h2, body2), (vec![0, 0, 2, 0], vec![0xF6, 0xF6]));
    let (h1, body1) = rpc(&p1, &mut notes1, &[7]).await;
    assert_eq!((h1, body1), (vec![0, 0, 1, 0], vec![0xF8]));
    assert!(bluez.is_connected(pod1.address) && bluez.is_connected(pod2.address));

    // ---- the peripheral drops the link: an event and failing operations, never a hang
    pod1.drop_link();
    wait_event(
        &mut events,
        "DeviceDisconnected(pod1)",
        |e| matches!(e, CentralEvent::DeviceDisconnected(id) if *id == p1.id()),
    )
    .await;
    assert!(!p1.is_connected().await.expect("is_connected"));
    let write = timeout(
        STEP,
        p1.write(
            &characteristic(&p1, 0x2003),
            &[0; 8],
            WriteType::WithResponse,
        ),
    )
    .await
    .expect("a write after link loss must not hang");
    assert!(write.is_err(), "a write after link loss fails");
    let read = timeout(STEP, p1.read(&characteristic(&p1, 0x2001)))
        .await
        .expect("a read after link loss must not hang");
    assert!(read.is_err(), "a read after link loss fails");
    // pod2 is unaffected.
    let (h2, _) = rpc(&p2, &mut notes2, &[1]).await;
    assert_eq!(h2, vec![0, 0, 1, 0]);

    // ---- host disconnect
    timeout(STEP, p2.disconnect())
        .await
        .expect("disconnect timed out")
        .expect("disconnect");
    wait_event(
        &mut events,
        "DeviceDisconnected(pod2)",
        |e| matches!(e, CentralEvent::DeviceDisconnected(id) if *id == p2.id()),
    )
    .await;
    assert!(!pod2.is_linked(), "the peripheral saw the host disconnect");
    timeout(STEP, p2.disconnect())
        .await
        .expect("second disconnect timed out")
        .expect("disconnecting a disconnected device succeeds, as in BlueZ");

    // ---- reconnect after the drop
    connect_and_discover(&p1).await;
    let mut notes1 = p1.notifications().await.expect("notifications");
    p1.subscribe(&characteristic(&p1, 0x2001))
        .await
        .expect("sub");
    p1.subscribe(&characteristic(&p1, 0x2002))
        .await
        .expect("sub");
    let (h1, _) = rpc(&p1, &mut notes1, &[5, 6]).await;
    assert_eq!(h1, vec![0, 0, 2, 0]);
    assert_eq!(pod1.connects.load(Ordering::SeqCst), 2);
    p1.disconnect().await.expect("disconnect");

    adapter.stop_scan().await.expect("stop scan");
    bluez.stop().await.expect("stop");
}
