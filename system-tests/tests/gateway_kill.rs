//! R1: the gateway binary killed with SIGKILL at random points while it collects from PODs
//! and syncs to the cloud, again and again, while the PODs keep producing readings; then
//! a last run is let finish. Every reading the PODs made arrives in the cloud exactly once,
//! with its value, every POD ends acknowledged up to its last reading, and no POD's ring
//! erased a reading that was not acknowledged.
//!
//! `IOTILE_R1_KILLS` sets the number of kills (default 50), `IOTILE_R1_SEED` the seed of the
//! random delays (printed either way, so a failing run can be repeated).

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::time::{Duration, Instant};

use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use site::pods::{peripherals, Producer};
use site::process::GatewayProcess;
use site::runs::{env_or, seed, XorShift};
use site::two_pods;

/// One new reading per POD this often.
const PRODUCE_EVERY: Duration = Duration::from_millis(100);
/// The random lifetime of a gateway before its kill, in milliseconds: from before the
/// dongle is open to well into visits and syncs.
const KILL_AFTER_MS: (u64, u64) = (50, 2_500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reading_arrives_once_through_sigkills_of_the_gateway() {
    let kills: usize = env_or("IOTILE_R1_KILLS", 50);
    let seed = seed("IOTILE_R1_SEED");
    eprintln!("R1: {kills} kills, IOTILE_R1_SEED={seed}");
    let mut rng = XorShift(seed);

    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let (s, streams, pods) = two_pods(&app).await;
    let dongle = VirtualBled112::start(peripherals(&pods), DongleOptions::default()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut gateway = GatewayProcess::new(
        dir.path(),
        &format!("http://{}", app.addr),
        &[dongle.path()],
        "",
    );
    s.register_gateway(&app, &gateway.key(), "r1").await;

    let producer = Producer::start(&pods, 1, PRODUCE_EVERY);

    let started = Instant::now();
    let mut lifetimes = Vec::with_capacity(kills);
    for _ in 0..kills {
        gateway.start();
        let life = rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1);
        lifetimes.push(life);
        tokio::time::sleep(Duration::from_millis(life)).await;
        gateway.kill();
    }
    let in_cloud_after_kills: usize = s.arrived(&app, &streams).await.values().map(Vec::len).sum();
    let made = producer.stop();
    let total: usize = made.values().map(Vec::len).sum();
    eprintln!(
        "R1: {kills} kills in {:?}; {in_cloud_after_kills} of {total} readings in the cloud by then",
        started.elapsed()
    );

    // The last run is let finish: everything arrives, once.
    gateway.start();
    s.assert_delivered(
        &app,
        &streams,
        &pods,
        &made,
        Duration::from_secs(90),
        || gateway.log_tail(40),
    )
    .await;
    eprintln!(
        "R1: all {total} readings once in the cloud {:?} after the start",
        started.elapsed()
    );

    let status = gateway.stop(Duration::from_secs(10));
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}");
    let budget = gateway::buffer::Budget {
        max_bytes: 512 << 20,
    };
    let buffer = gateway::buffer::Buffer::open_read_only(&gateway.buffer(), budget).unwrap();
    assert_eq!(buffer.stats().unwrap().pending_reports, 0);
    dongle.stop().await;
}
