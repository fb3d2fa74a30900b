//! Buffer write rate with `synchronous=FULL`: one transaction (one fsync-bound commit) per
//! report of 200 readings, as the gateway stores what a POD streamer sends.
//!
//! `cargo bench -p gateway --bench buffer_write [-- N]` (default N = 2000). The buffer goes
//! in a temporary directory under `$TMPDIR`, so point that at the disk to measure.

use std::time::Instant;

use gateway::buffer::{Budget, Buffer, NewReport, ReportKind, Stored};
use sync_protocol::ids::DeviceId;
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

const READINGS: u32 = 200;

fn report(n: u32) -> anyhow::Result<NewReport> {
    let first = n * READINGS + 1;
    let readings: Vec<Reading> = (0..READINGS)
        .map(|i| Reading {
            stream: 0x5001,
            reading_id: first + i,
            raw_time: first + i,
            value: i * 7,
        })
        .collect();
    let header = SignedListHeader {
        device_id: 0xd2,
        report_id: first + READINGS,
        sent_timestamp: first + READINGS,
        streamer: 0,
        selector: 0x5fff,
    };
    let built = SignedListReport::build(header, &readings, Signer::Hash)?;
    Ok(NewReport {
        device: DeviceId::new(0xd2)?,
        streamer: 0,
        report_id: header.report_id,
        first_reading_id: first,
        last_reading_id: first + READINGS - 1,
        reading_count: READINGS,
        kind: ReportKind::SignedList,
        raw: built.encode(),
        received_at_us: 1_700_000_000_000_000 + i64::from(n),
    })
}

fn main() -> anyhow::Result<()> {
    let n: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let reports = (0..n).map(report).collect::<anyhow::Result<Vec<_>>>()?;
    let raw_len = reports.first().map_or(0, |r| r.raw.len());
    let dir = tempfile::tempdir()?;
    let (mut buffer, _) = Buffer::open(
        &dir.path().join("bench.sqlite"),
        Budget {
            max_bytes: u64::MAX,
        },
    )?;

    let mut latencies = Vec::with_capacity(reports.len());
    let start = Instant::now();
    for r in &reports {
        let t = Instant::now();
        let stored = buffer.store(r)?;
        latencies.push(t.elapsed());
        anyhow::ensure!(matches!(stored, Stored::New(_)), "report stored twice");
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    let rate = f64::from(n) / elapsed;
    println!(
        "buffer_write: {n} reports of {READINGS} readings ({raw_len} B raw), synchronous=FULL, \
         one transaction each"
    );
    println!(
        "  {rate:.0} reports/s, {:.0} readings/s; store latency p50 {:.2} ms, p99 {:.2} ms",
        rate * f64::from(READINGS),
        pct(50).as_secs_f64() * 1e3,
        pct(99).as_secs_f64() * 1e3,
    );
    anyhow::ensure!(
        buffer.stats()?.pending_reports == u64::from(n),
        "rows missing"
    );
    Ok(())
}
