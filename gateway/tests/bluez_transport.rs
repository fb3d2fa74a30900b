//! The BlueZ transport, through unmodified btleplug, against the virtual BlueZ on a private
//! dbus-daemon with a virtual POD behind it.
//!
//! One test only: btleplug finds "the system bus" through `DBUS_SYSTEM_BUS_ADDRESS`, which is
//! process-wide. Needs `dbus-daemon` (Debian package `dbus`) and fails without it.

mod transport_common;

use std::sync::Arc;

use firmware_tools::pod::advertising::AdvertisementFormat;
use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bluez::{PrivateBus, VirtualBluez};
use firmware_tools::radio::Peripheral;
use gateway::transport::bluez::Bluez;
use gateway::transport::{Connection, Transport, TransportError};
use transport_common::*;

const DEVICE_ID: u64 = 0x0042_1337;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn btleplug_visits_a_pod_and_survives_it_vanishing_mid_report() {
    let bus = PrivateBus::start().expect("dbus-daemon starts (Debian package dbus)");
    let pod = VirtualPod::new(PodConfig::with_device_id(DEVICE_ID)).expect("the POD starts");
    let beacon = broadcasting(0x0042_1338, AdvertisementFormat::V2);
    let peripherals: Vec<Arc<dyn Peripheral>> =
        vec![Arc::new(pod.clone()), Arc::new(beacon.clone())];
    let bluez = VirtualBluez::start(bus.address(), peripherals)
        .await
        .expect("org.bluez served");
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
    let transport = Bluez::open(1).await.expect("the adapter opens");
    assert_eq!(transport.max_connections(), 1);

    // Scan, connect, RPCs, a verified report, the ack, disconnect.
    visit(&transport, DEVICE_ID).await;
    assert!(!pod.is_connected(), "the link is closed after the visit");

    let mut scan = transport.scan().await.expect("scan");
    // The v2 advertisement survives BlueZ: flags, rssi and the broadcast reading.
    assert_seen(&find(&mut scan, 0x0042_1338).await, &beacon);
    let seen = find(&mut scan, DEVICE_ID).await;
    assert_eq!(seen.address, pod.address());
    let connection = transport.connect(seen.address).await.expect("connects");
    // One slot: a second link is refused before touching the radio.
    let refused = transport.connect(seen.address).await;
    assert!(
        matches!(refused, Err(TransportError::Busy(1))),
        "{refused:?}"
    );

    cut_mid_report(connection, &pod).await;

    // The slot is free again and nothing was acknowledged: a retry gets every reading.
    let mut connection = transport.connect(seen.address).await.expect("reconnects");
    connection.open_streaming().await.expect("streaming opens");
    let report = trigger_and_receive(&mut connection)
        .await
        .expect("a report");
    let readings = report.readings(None).expect("verifies");
    assert!(readings.iter().filter(|r| r.stream == 0x5001).count() >= 40);
    connection.disconnect().await.expect("disconnects");
    bluez.stop().await.expect("stops");
}
