//! Two gateways in range of the same PODs, as on a real site: each with its own dongle
//! hearing both PODs, its own key and buffer, both syncing to the same org while the PODs
//! produce. A POD takes one connection at a time, so the gateways take turns. Every reading
//! arrives in the cloud exactly once, each POD ends acknowledged up to its last reading, and
//! neither gateway's acknowledgement ever freed a reading the cloud did not get.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::time::{Duration, Instant};

use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use gateway::buffer::{Budget, Buffer};
use site::pods::{peripherals, Producer};
use site::process::GatewayProcess;
use site::two_pods;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_the_same_pods_deliver_every_reading_once() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let (s, streams, pods) = two_pods(&app).await;
    let dongles = [
        VirtualBled112::start(peripherals(&pods), DongleOptions::default()).unwrap(),
        VirtualBled112::start(peripherals(&pods), DongleOptions::default()).unwrap(),
    ];
    let cloud = format!("http://{}", app.addr);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut gateways: Vec<GatewayProcess> = dirs
        .iter()
        .zip(&dongles)
        .map(|(dir, dongle)| GatewayProcess::new(dir.path(), &cloud, &[dongle.path()], ""))
        .collect();
    for (n, gateway) in gateways.iter().enumerate() {
        s.register_gateway(&app, &gateway.key(), &format!("pi-{n}"))
            .await;
    }

    let producer = Producer::start(&pods, 1, Duration::from_millis(50));
    let started = Instant::now();
    for gateway in &mut gateways {
        gateway.start();
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
    let made = producer.stop();
    let total: usize = made.values().map(Vec::len).sum();

    let logs = || -> String { gateways.iter().map(|g| g.log_tail(20) + "\n").collect() };
    s.assert_delivered(&app, &streams, &pods, &made, Duration::from_secs(60), logs)
        .await;
    eprintln!(
        "overlap: all {total} readings once in the cloud {:?} after the start",
        started.elapsed()
    );

    // Both gateways took part: each collected reports and recorded acknowledgements.
    let mut collected = Vec::new();
    for gateway in &mut gateways {
        assert!(gateway.stop(Duration::from_secs(10)).success());
        let budget = Budget {
            max_bytes: 512 << 20,
        };
        let buffer = Buffer::open_read_only(&gateway.buffer(), budget).unwrap();
        let stats = buffer.stats().unwrap();
        assert_eq!(
            stats.pending_reports, 0,
            "everything it collected was synced"
        );
        collected.push(stats.synced_reports);
    }
    eprintln!("overlap: reports collected per gateway {collected:?}");
    assert!(collected.iter().all(|&n| n > 0), "{collected:?}");
    for dongle in dongles {
        dongle.stop().await;
    }
}
