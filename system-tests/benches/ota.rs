//! OTA: what updating a site costs, beside collecting from it, and how soon the cloud
//! notices that a deployment is done.
//!
//! - Gateway: `pods` virtual PODs (factory app 2049 v1.0, `backlog` readings waiting, clock
//!   at real speed, no radio effects) spread over virtual BLED112 dongles on ptys, the
//!   gateway's BLED112 transport on each, and the gateway library driving them with a real
//!   buffer file: per dongle, one task per connection slot pulling PODs from a queue. The
//!   script is the system tests' update (`site::ota::update_script`: a controller image of
//!   `image` bytes, a new sensor graph, app tag 2050 v2.0), in a feed signed with the site's
//!   release key. (c) one collection visit per POD (`gateway::collect::visit`, the daemon's
//!   options), then (a) one update per POD (`gateway::ota::update`) over the high-speed
//!   script channel on the same PODs; (b) the same update on a fresh, identical set of PODs
//!   with the channel hidden by the bench's transport wrapper, so the script goes as
//!   `0x2101` RPC chunks of 20 bytes. Every update must end proven by the POD's versions.
//! - Cloud: see `ota/cloud.rs`; the latency from the last version report's upload until the
//!   deployment's `completed_on` is set, over `runs` fresh clouds per order.
//!
//! Run: `cargo bench -p system-tests --bench ota`. Knobs (environment): `IOTILE_BENCH_PART`
//! (`gateway`, `cloud` or `all`, the default), `IOTILE_BENCH_PODS` (50),
//! `IOTILE_BENCH_DONGLES` (2), `IOTILE_BENCH_CONNECTIONS` (per dongle, 3),
//! `IOTILE_BENCH_IMAGE` (bytes of controller image in the script, 65536),
//! `IOTILE_BENCH_POD_BACKLOG` (readings waiting in each POD, 360),
//! `IOTILE_BENCH_CLOUD_DEVICES` (50), `IOTILE_BENCH_CLOUD_RUNS` (per order, 5).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "ota/cloud.rs"]
mod cloud;
#[path = "../../cloud/tests/common/mod.rs"]
mod common;
#[path = "ota/fleet.rs"]
mod fleet;
#[path = "ota/rig.rs"]
mod rig;
#[path = "../tests/site/mod.rs"]
mod site;

use std::time::Duration;

use fleet::{Figures, Work};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // Warnings and errors of the gateway and the cloud on stderr; `RUST_LOG` for more. The
    // seeded catalogue has no sensor graph with the script's app tag, which the cloud warns
    // about once per version report: that one is left out.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,cloud::worker::ota_confirm=error")
            }),
        )
        .init();
    let part = std::env::var("IOTILE_BENCH_PART").unwrap_or_else(|_| "all".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let image = env("IOTILE_BENCH_IMAGE", 64 * 1024);
    let script = site::ota::update_script(image);
    if part == "all" || part == "gateway" {
        let shape = rig::Shape {
            pods: env("IOTILE_BENCH_PODS", 50),
            dongles: env("IOTILE_BENCH_DONGLES", 2).max(1),
            connections: env("IOTILE_BENCH_CONNECTIONS", 3).clamp(1, 8) as u8,
            backlog: env("IOTILE_BENCH_POD_BACKLOG", 360) as u32,
        };
        rt.block_on(gateway_part(&shape, &script, image));
    }
    if part == "all" || part == "cloud" {
        let devices = env("IOTILE_BENCH_CLOUD_DEVICES", 50).max(1);
        let runs = env("IOTILE_BENCH_CLOUD_RUNS", 5).max(1);
        rt.block_on(cloud_part(devices, runs, &script));
    }
}

async fn gateway_part(shape: &rig::Shape, script: &[u8], image: usize) {
    let devices: Vec<u64> = (0..shape.pods as u64)
        .map(|d| u64::from(rig::FIRST_DEVICE) + d)
        .collect();
    let feed = || fleet::feed("site", script, &devices);

    let first = rig::Rig::start(shape).await;
    let collect = fleet::pass(&first, Work::Collect, feed(), script).await;
    let channel = fleet::pass(
        &first,
        Work::Update {
            script_channel: true,
        },
        feed(),
        script,
    )
    .await;
    check_updated(&first.pods, script, &channel);
    first.stop().await;

    let second = rig::Rig::start(shape).await;
    let chunks = fleet::pass(
        &second,
        Work::Update {
            script_channel: false,
        },
        feed(),
        script,
    )
    .await;
    check_updated(&second.pods, script, &chunks);
    second.stop().await;

    println!();
    println!(
        "OTA gateway: {} PODs, {} virtual BLED112 x {} connections, script {} B ({} B \
         controller image + 6 records), PODs at real speed, no radio effects",
        shape.pods,
        shape.dongles,
        shape.connections,
        script.len(),
        image
    );
    println!(
        "{:<30} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7} {:>11} {:>7} {:>12}",
        "", "wall", "mean/POD", "median", "min", "max", "ok", "bytes sent", "RPCs", "throughput"
    );
    let delivered = |f: &Figures| script.len() as u64 * f.ok as u64;
    let rows = [
        (
            "(a) update, high-speed channel",
            &channel,
            delivered(&channel),
        ),
        ("(b) update, 0x2101 RPC chunks", &chunks, delivered(&chunks)),
        ("(c) collect, one visit each", &collect, collect.received),
    ];
    for (name, f, payload) in rows {
        println!(
            "{name:<30} {:>7.2}s {:>8.2}s {:>8.2}s {:>8.2}s {:>8.2}s {:>3}/{:<3} {:>11} {:>7} {:>7.1} kB/s",
            f.wall.as_secs_f64(),
            mean(&f.per_pod),
            median(&f.per_pod),
            f.per_pod.iter().min().map_or(0.0, Duration::as_secs_f64),
            f.per_pod.iter().max().map_or(0.0, Duration::as_secs_f64),
            f.ok,
            f.per_pod.len(),
            f.sent,
            f.rpcs,
            payload as f64 / 1e3 / f.wall.as_secs_f64(),
        );
    }
    for (name, f, _) in &rows[..2] {
        println!(
            "{name}: script upload (0x2100..0x2102) median {:.2}s, max {:.2}s, {:.1} kB/s per \
             link; {} retried visits",
            median(&f.transfers),
            f.transfers.iter().max().map_or(0.0, Duration::as_secs_f64),
            script.len() as f64 / 1e3 / median(&f.transfers).max(1e-9),
            f.retried.len(),
        );
    }
    println!(
        "(c) collect: {} readings, {} B of reports received; the visit waits {:.0}s of \
         silence before asking whether the POD is done",
        collect.readings,
        collect.received,
        gateway::collect::VisitOptions::default().idle.as_secs_f64(),
    );
    println!(
        "PODs still holding a link 5 s after the pass: (a) {}, (b) {}, (c) {}",
        channel.links_left, chunks.links_left, collect.links_left
    );
    println!(
        "throughput: (a), (b) script bytes delivered to PODs proven updated / wall; (c) report \
         bytes received / wall. Bytes sent: RPC payloads plus script channel bytes."
    );
    for (name, f, _) in &rows {
        for again in f.retried.iter().take(5) {
            println!("  {name}: visited again after: {again}");
        }
        for failure in f.failures.iter().take(5) {
            println!("  {name}: FAILED: {failure}");
        }
    }
    assert_eq!(collect.ok, shape.pods, "every POD collected");
    assert_eq!(channel.ok, shape.pods, "every POD updated over the channel");
    assert_eq!(chunks.ok, shape.pods, "every POD updated over RPC chunks");
}

/// Every POD runs the script once and reports the new app, as the outcome said.
fn check_updated(pods: &[firmware_tools::pod::VirtualPod], script: &[u8], f: &Figures) {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(script));
    let (a, b, c) = site::ota::NEW_APP;
    let want = sync_protocol::version::TagVersion::new(a, b, c).unwrap();
    let updated = pods
        .iter()
        .filter(|p| {
            p.with_model(|m| {
                m.app_tag() == want
                    && m.scripts_completed().iter().filter(|s| **s == sha).count() == 1
            })
        })
        .count();
    assert_eq!(updated, f.ok, "PODs updated once, as the visits said");
}

async fn cloud_part(devices: usize, runs: usize, script: &[u8]) {
    let mut lines = Vec::new();
    for (order, name) in [
        (cloud::Order::Settled, "settled"),
        (cloud::Order::Burst, "burst"),
    ] {
        let mut latencies = Vec::new();
        let mut uploads = Vec::new();
        for _ in 0..runs {
            let c = cloud::run(devices, script, order).await;
            latencies.push(c.latency);
            uploads.push(c.upload);
        }
        lines.push(format!(
            "{name:<8} median {:>6.0} ms  max {:>6.0} ms  (each: {}; the upload's own request: \
             median {:.0} ms)",
            median(&latencies) * 1e3,
            latencies.iter().max().unwrap().as_secs_f64() * 1e3,
            latencies
                .iter()
                .map(|l| format!("{:.0}", l.as_secs_f64() * 1e3))
                .collect::<Vec<_>>()
                .join(", "),
            median(&uploads) * 1e3,
        ));
    }
    println!();
    println!(
        "OTA cloud completion: {devices} devices, {runs} runs per order, one job worker, \
         SQLite; from the start of the last version report's upload until completed_on is \
         set (read every {} ms)",
        cloud::POLL.as_millis()
    );
    println!(
        "settled: the other devices already confirmed; burst: all reports uploaded back to back"
    );
    for line in lines {
        println!("{line}");
    }
}

fn mean(d: &[Duration]) -> f64 {
    d.iter().map(Duration::as_secs_f64).sum::<f64>() / d.len().max(1) as f64
}

fn median(d: &[Duration]) -> f64 {
    let mut s: Vec<f64> = d.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}
