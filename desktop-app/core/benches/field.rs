//! The desktop app's field figures, measured on its core (the window adds its own start,
//! which the window test measures): the real cloud in-process, virtual PODs behind the
//! virtual BLED112 (a pty) and the virtual BlueZ (a private D-Bus).
//!
//! - Start to the first POD listed: opening the app's data with a signed-in profile,
//!   opening the radio, scanning, until the POD is in the nearby list.
//! - Collecting a POD holding 10,000 readings, over each radio: from the first RPC to the
//!   last report stored and acknowledged; readings and bytes per second.
//!
//! `bench/desktop.sh` runs it. Knobs: `IOTILE_BENCH_READINGS` (10000), `IOTILE_BENCH_RUNS`
//! (3, the median is printed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../../../cloud/benches/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desktop_core::{Desktop, RadioChoice};
use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::bluez::{PrivateBus, VirtualBluez};
use firmware_tools::radio::Peripheral;

const STREAM: u16 = 0x5001;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pod(device: u32, readings: usize) -> VirtualPod {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        streaming_capacity: readings + 1000,
        ..PodConfig::with_device_id(u64::from(device))
    };
    let pod = VirtualPod::new(config).unwrap();
    pod.with_model(|model| {
        for n in 0..readings {
            model.push_reading(STREAM, n as u32).unwrap();
        }
    });
    pod
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// One collection on a fresh profile: the time from asking to the last report stored.
async fn collect_once(
    server: &common::Server,
    email: &str,
    radio: RadioChoice,
    device: u32,
    data: &Path,
) -> (Duration, Duration, u64, u64) {
    let started = Instant::now();
    let desktop = Arc::new(Desktop::open(data, radio, Arc::new(())).unwrap());
    if desktop.session().unwrap().is_none() {
        let cloud = server.base.trim_end_matches("/api/v1/");
        desktop
            .sign_in(cloud, email, common::PASSWORD)
            .await
            .unwrap();
    }
    let opened = Instant::now();
    desktop.start_scan().await.unwrap();
    loop {
        if desktop
            .nearby()
            .unwrap()
            .iter()
            .any(|p| p.device == u64::from(device))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let listed = opened.elapsed();
    let _ = started;
    let asked = Instant::now();
    let collected = desktop.collect(u64::from(device)).await.unwrap();
    let took = asked.elapsed();
    desktop.stop_scan();
    (listed, took, collected.readings, collected.bytes)
}

fn main() {
    let readings = env("IOTILE_BENCH_READINGS", 10_000);
    let runs = env("IOTILE_BENCH_RUNS", 3).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = common::Server::start(common::ServerOptions {
            workers: 0,
            idle_poll: Duration::from_secs(1),
            database_url: None,
            keep: None,
        })
        .await;
        let staff = common::account(&server, "staff@bench.io", true).await;
        let owner = common::account(&server, "tech@bench.io", false).await;
        common::claimed_site(&server, &staff, &owner, 2).await;
        let bus = PrivateBus::start().expect("dbus-daemon (Debian package dbus)");
        std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bus.address());

        println!("desktop core, {readings} readings per POD, median of {runs} runs");
        for (name, device) in [("BLED112", common::FIRST_DEVICE), ("BlueZ", common::FIRST_DEVICE + 1)] {
            let mut listed = Vec::new();
            let mut took = Vec::new();
            let (mut count, mut bytes) = (0, 0);
            for _ in 0..runs {
                let data = tempfile::tempdir().unwrap();
                let pods: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod(device, readings))];
                let (l, t, c, b) = if name == "BLED112" {
                    let dongle = VirtualBled112::start(pods, DongleOptions::default()).unwrap();
                    let radio = RadioChoice::Bled112(dongle.path().to_owned());
                    let run = collect_once(&server, "tech@bench.io", radio, device, data.path()).await;
                    dongle.stop().await;
                    run
                } else {
                    let bluez = VirtualBluez::start(bus.address(), pods).await.unwrap();
                    let run =
                        collect_once(&server, "tech@bench.io", RadioChoice::Bluez, device, data.path())
                            .await;
                    drop(bluez);
                    run
                };
                listed.push(l);
                took.push(t);
                (count, bytes) = (c, b);
            }
            let took = median(took);
            println!(
                "{name:8} first POD listed {:>7.0} ms   collect {:>6.2} s   {count} readings, {:.0} KiB   {:>7.0} readings/s",
                median(listed).as_secs_f64() * 1000.0,
                took.as_secs_f64(),
                bytes as f64 / 1024.0,
                count as f64 / took.as_secs_f64(),
            );
        }
    });
}
