//! An update script reaches a virtual POD's remote bridge over the high-speed channel and as
//! RPC chunks, through either transport, and the POD runs it.
//!
//! One BlueZ test only: btleplug finds "the system bus" through `DBUS_SYSTEM_BUS_ADDRESS`,
//! which is process-wide. It needs `dbus-daemon` (Debian package `dbus`).

mod transport_common;

use std::sync::Arc;

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::bluez::{PrivateBus, VirtualBluez};
use firmware_tools::radio::Peripheral;
use gateway::transport::bled112::Bled112;
use gateway::transport::bluez::Bluez;
use transport_common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_runs_sent_either_way_through_the_dongle() {
    const DEVICE_ID: u64 = 0x0012_3480;
    let pod = VirtualPod::new(PodConfig::with_device_id(DEVICE_ID)).expect("the POD starts");
    let peripherals = vec![Arc::new(pod.clone()) as Arc<dyn Peripheral>];
    let dongle =
        VirtualBled112::start(peripherals, DongleOptions::default()).expect("the pty opens");
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    update_both_ways(&transport, &pod, DEVICE_ID).await;
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_runs_sent_either_way_through_bluez() {
    const DEVICE_ID: u64 = 0x0042_1380;
    let bus = PrivateBus::start().expect("dbus-daemon starts (Debian package dbus)");
    let pod = VirtualPod::new(PodConfig::with_device_id(DEVICE_ID)).expect("the POD starts");
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod.clone())];
    let bluez = VirtualBluez::start(bus.address(), peripherals)
        .await
        .expect("org.bluez served");
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
    let transport = Bluez::open(1).await.expect("the adapter opens");
    update_both_ways(&transport, &pod, DEVICE_ID).await;
    bluez.stop().await.expect("stops");
}
