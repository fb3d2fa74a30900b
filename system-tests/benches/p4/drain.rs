//! P4 drain: a gateway buffer holding days of readings from many PODs (the cloud was out of
//! reach), emptied by the real `iotile-gateway sync` into a real cloud. Timed until the
//! gateway exits with everything accepted, and until the cloud has ingested every reading.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway::buffer::{Budget, Buffer, NewReport, ReportKind, Stored};
use sync_protocol::ids::DeviceId;
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

use crate::process::cpu_seconds;
use crate::site::{self, FIRST_DEVICE, STREAM};

/// Seconds between two readings of a POD.
const PERIOD: u32 = 10;

pub struct Shape {
    pub devices: usize,
    pub readings_per_device: u32,
    /// Readings in one report (360 = an hour of readings).
    pub report_readings: u32,
    pub limit: Duration,
}

impl Shape {
    pub fn readings(&self) -> i64 {
        self.devices as i64 * i64::from(self.readings_per_device)
    }

    pub fn reports_per_device(&self) -> u32 {
        self.readings_per_device.div_ceil(self.report_readings)
    }

    pub fn reports(&self) -> i64 {
        self.devices as i64 * i64::from(self.reports_per_device())
    }
}

pub struct Figures {
    pub fill: Duration,
    pub report_bytes: usize,
    pub buffer_bytes: u64,
    /// Until `iotile-gateway sync` exited 0 with the buffer empty.
    pub uploaded: Duration,
    /// Jobs the cloud had finished when the gateway exited.
    pub done_at_upload: i64,
    /// Until every job in the cloud was done.
    pub ingested: Duration,
    pub stream_rows: i64,
    pub all_rows: i64,
    pub sync_output: String,
    /// CPU seconds from the sync's start to the end of ingestion: the gateway's, and the
    /// bench process's (the cloud's HTTP handlers and job workers).
    pub gateway_cpu: f64,
    pub cloud_cpu: f64,
}

/// Report `index` of `device`: readings `index * n + 1 ..`, 10 s apart in device uptime,
/// received by the gateway `received_at_us`.
fn report(shape: &Shape, device: u32, index: u32, received_at_us: i64) -> NewReport {
    let first = index * shape.report_readings + 1;
    let last = (first + shape.report_readings - 1).min(shape.readings_per_device);
    let readings: Vec<Reading> = (first..=last)
        .map(|id| Reading {
            stream: STREAM,
            reading_id: id,
            raw_time: id * PERIOD,
            value: id.wrapping_mul(7),
        })
        .collect();
    let header = SignedListHeader {
        device_id: device,
        report_id: last + 1,
        sent_timestamp: last * PERIOD,
        streamer: 0,
        selector: 0x5fff,
    };
    let built = SignedListReport::build(header, &readings, Signer::Hash).unwrap();
    NewReport {
        device: DeviceId::new(u64::from(device)).unwrap(),
        streamer: 0,
        report_id: header.report_id,
        first_reading_id: first,
        last_reading_id: last,
        reading_count: last - first + 1,
        kind: ReportKind::SignedList,
        raw: built.encode(),
        received_at_us,
    }
}

/// Fills the buffer at `path` as a gateway would have while the cloud was away: each POD's
/// reports collected in turn, hour after hour, each stored in its own durable transaction.
/// Returns the time the stores took.
fn fill(shape: &Shape, path: &Path) -> (Duration, usize) {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let span_us = i64::from(shape.readings_per_device) * i64::from(PERIOD) * 1_000_000;
    let reports: Vec<NewReport> = (0..shape.reports_per_device())
        .flat_map(|index| (0..shape.devices as u32).map(move |d| (index, FIRST_DEVICE + d)))
        .map(|(index, device)| {
            let at = i64::from((index + 1) * shape.report_readings * PERIOD) * 1_000_000;
            report(shape, device, index, now_us - span_us + at.min(span_us))
        })
        .collect();
    let (mut buffer, _) = Buffer::open(
        path,
        Budget {
            max_bytes: u64::MAX,
        },
    )
    .unwrap();
    let started = Instant::now();
    for r in &reports {
        assert!(matches!(buffer.store(r).unwrap(), Stored::New(_)));
    }
    let elapsed = started.elapsed();
    let stats = buffer.stats().unwrap();
    assert_eq!(stats.pending_reports as i64, shape.reports());
    assert_eq!(stats.pending_readings as i64, shape.readings());
    (elapsed, reports.first().map_or(0, |r| r.raw.len()))
}

pub async fn run(shape: &Shape, workers: usize) -> Figures {
    let server = site::server(workers).await;
    let dir = tempfile::tempdir().unwrap();
    site::site_with_gateway(&server, shape.devices, &dir.path().join("gateway.key")).await;
    let config = site::write_config(&site::GatewayToml {
        cloud: &site::origin(&server),
        dir: dir.path(),
        dongles: &[],
        status: site::free_port(),
    });
    let buffer_path = dir.path().join("buffer.sqlite");
    let (fill_time, report_bytes) = {
        let (shape_ref, path) = (shape, buffer_path.clone());
        tokio::task::block_in_place(|| fill(shape_ref, &path))
    };
    let buffer_bytes = std::fs::metadata(&buffer_path).map_or(0, |m| m.len());

    let log = dir.path().join("sync.log");
    let (children_cpu, self_cpu) = (cpu_seconds(true), cpu_seconds(false));
    let started = Instant::now();
    let child = crate::process::spawn(&config, "sync", &log);
    let output = tokio::time::timeout(shape.limit, child.wait_with_output())
        .await
        .expect("the sync finishes within the limit")
        .unwrap();
    let uploaded = started.elapsed();
    let sync_output = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        output.status.success(),
        "iotile-gateway sync failed ({}): {}",
        output.status,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let done_at_upload = {
        let (all, open) = site::jobs(&server).await;
        all - open
    };
    // Without workers nothing is ingested: the run measured the cloud's intake alone.
    if workers > 0 {
        loop {
            let (all, open) = site::jobs(&server).await;
            if open == 0 {
                assert_eq!(all, shape.reports(), "one job per report");
                break;
            }
            assert!(started.elapsed() < shape.limit, "{open} jobs still open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let ingested = started.elapsed();
    let gateway_cpu = cpu_seconds(true) - children_cpu;
    let cloud_cpu = cpu_seconds(false) - self_cpu;
    let after = Buffer::open_read_only(
        &buffer_path,
        Budget {
            max_bytes: u64::MAX,
        },
    )
    .unwrap()
    .stats()
    .unwrap();
    assert_eq!(after.pending_reports, 0, "the buffer is drained");
    let (stream_rows, all_rows) = site::rows(&server).await;
    Figures {
        fill: fill_time,
        report_bytes,
        buffer_bytes,
        uploaded,
        done_at_upload,
        ingested,
        stream_rows,
        all_rows,
        sync_output,
        gateway_cpu,
        cloud_cpu,
    }
}
