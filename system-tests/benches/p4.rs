//! P4: the gateway's footprint and backlog drain, with the real release `iotile-gateway`
//! binary against a real cloud server started in-process (HTTP on 127.0.0.1, job workers,
//! SQLite and object store in a temporary directory).
//!
//! - Memory: `iotile-gateway run` serving virtual PODs behind virtual BLED112 dongles (ptys),
//!   its `VmRSS`/`VmHWM` sampled every 200 ms until every POD was visited and the cloud holds
//!   their waiting readings; then SIGTERM, which must end it with status 0. Target: ≤ 15 MB.
//! - Drain: a buffer filled with 3 days of readings from 100 PODs (one every 10 s: 25,920 per
//!   POD, 2,592,000 in all) in hash-signed signed-list reports, each stored in its own
//!   `synchronous=FULL` transaction (timed: the buffer write rate), then `iotile-gateway
//!   sync` until it exits with the buffer empty, and until the cloud has ingested every
//!   report, which must leave exactly one row per reading. Target: ≤ 60 s.
//!
//! Needs the release binary: `cargo build --release -p gateway --bin iotile-gateway` (what
//! `bench/p4.sh` does first). Knobs (environment): `IOTILE_BENCH_PART` (`rss`, `drain` or
//! `all`, the default), `IOTILE_BENCH_PODS` (50), `IOTILE_BENCH_POD_BACKLOG` (readings
//! waiting in each POD, 360), `IOTILE_BENCH_DONGLES` (2), `IOTILE_BENCH_CONNECTIONS` (per
//! dongle, 3), `IOTILE_BENCH_DEVICES` (100), `IOTILE_BENCH_READINGS` (per device, 25920),
//! `IOTILE_BENCH_REPORT_READINGS` (360), `IOTILE_BENCH_WORKERS` (the cloud's job
//! workers, 2; 0 times the drain's upload and intake alone, nothing ingested).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../../cloud/benches/common/mod.rs"]
mod common;
#[path = "p4/drain.rs"]
mod drain;
#[path = "p4/process.rs"]
mod process;
#[path = "p4/rss.rs"]
mod rss;
#[path = "p4/site.rs"]
mod site;

use std::time::Duration;

use process::mib;

const RSS_TARGET_MB: f64 = 15.0;
const DRAIN_TARGET_S: f64 = 60.0;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "never".into(), |d| format!("{:.1}s", d.as_secs_f64()))
}

fn main() {
    let part = std::env::var("IOTILE_BENCH_PART").unwrap_or_else(|_| "all".into());
    let workers = env("IOTILE_BENCH_WORKERS", 2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if part == "all" || part == "rss" {
        let shape = rss::Shape {
            pods: env("IOTILE_BENCH_PODS", 50),
            backlog: env("IOTILE_BENCH_POD_BACKLOG", 360) as u32,
            dongles: env("IOTILE_BENCH_DONGLES", 2).max(1),
            connections: env("IOTILE_BENCH_CONNECTIONS", 3).clamp(1, 8) as u8,
            limit: Duration::from_secs(300),
            settle: Duration::from_secs(5),
        };
        let f = rt.block_on(rss::run(&shape, workers));
        let rss_mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
        println!(
            "P4 rss pods={} dongles={}x{} peak_vmhwm={:.1}MB ({:.1} MiB) steady_vmrss={:.1}MB \
             ({:.1} MiB) all_visited_after={} all_in_cloud_after={} readings_in_cloud={} \
             sigterm_exit={:?} (target: <= {RSS_TARGET_MB} MB)",
            shape.pods,
            shape.dongles,
            shape.connections,
            rss_mb(f.peak_kib),
            mib(f.peak_kib),
            rss_mb(f.steady_kib),
            mib(f.steady_kib),
            secs(f.all_visited),
            secs(f.all_in_cloud),
            f.readings,
            f.exit,
        );
        assert!(f.all_in_cloud.is_some(), "not every POD's readings arrived");
        assert!(
            f.readings >= shape.pods as i64 * i64::from(shape.backlog),
            "readings missing"
        );
        assert_eq!(f.exit, Some(0), "the gateway stops cleanly on SIGTERM");
    }
    if part == "all" || part == "drain" {
        let shape = drain::Shape {
            devices: env("IOTILE_BENCH_DEVICES", 100),
            readings_per_device: env("IOTILE_BENCH_READINGS", 25_920) as u32,
            report_readings: env("IOTILE_BENCH_REPORT_READINGS", 360).max(1) as u32,
            limit: Duration::from_secs(900),
        };
        let f = rt.block_on(drain::run(&shape, workers));
        let readings = shape.readings() as f64;
        println!(
            "P4 buffer fill: {} reports of {} readings ({} B), synchronous=FULL, one \
             transaction each: {:.1}s, {:.0} reports/s, {:.0} readings/s; file {:.1} MB",
            shape.reports(),
            shape.report_readings,
            f.report_bytes,
            f.fill.as_secs_f64(),
            shape.reports() as f64 / f.fill.as_secs_f64(),
            readings / f.fill.as_secs_f64(),
            f.buffer_bytes as f64 / 1e6,
        );
        println!("P4 gateway sync said: {}", f.sync_output);
        println!(
            "P4 drain cpu: gateway {:.1}s, cloud (HTTP intake + {workers} job workers) {:.1}s, \
             over {:.1}s wall on a shared 2-CPU machine",
            f.gateway_cpu,
            f.cloud_cpu,
            f.ingested.as_secs_f64()
        );
        println!(
            "P4 drain devices={} readings={} reports={} workers={workers} \
             gateway_sync_exited_after={:.1}s ({:.0} readings/s, cloud jobs done by then: {}/{}) \
             all_ingested_after={:.1}s ({:.0} readings/s) rows={} (target: <= {DRAIN_TARGET_S} s)",
            shape.devices,
            shape.readings(),
            shape.reports(),
            f.uploaded.as_secs_f64(),
            readings / f.uploaded.as_secs_f64(),
            f.done_at_upload,
            shape.reports(),
            f.ingested.as_secs_f64(),
            readings / f.ingested.as_secs_f64(),
            f.stream_rows,
        );
        if workers == 0 {
            println!("P4 drain with no job workers: the gateway's upload and the cloud's intake alone, nothing ingested");
            return;
        }
        assert_eq!(f.stream_rows, shape.readings(), "one row per reading");
        assert_eq!(
            f.all_rows,
            shape.readings() + shape.reports(),
            "and one marker row per report"
        );
    }
}
