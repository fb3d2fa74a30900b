//! P2: streamer reports of 200 readings, uploaded over HTTP to a real server, until every
//! reading is queryable; against a raw prepared-statement bulk insert of the same number of
//! rows into the same `stream_data` table (same migration, same indexes, same pragmas) through
//! rusqlite, in one transaction. Prints readings/s, rows/s and their ratio; with
//! `IOTILE_BENCH_PG=1` also the server's figure on a throwaway PostgreSQL cluster.
//!
//! Knobs (environment): `IOTILE_BENCH_DEVICES` (default 16), `IOTILE_BENCH_REPORTS` per
//! device (default 50), `IOTILE_BENCH_UPLOADERS` (default 16), `IOTILE_BENCH_WORKERS`
//! (default 2).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{account, claimed_site, Server, ServerOptions, FIRST_DEVICE};
use reqwest::StatusCode;
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

const READINGS: u32 = 200;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Shape {
    devices: usize,
    reports: usize,
    uploaders: usize,
    workers: usize,
}

impl Shape {
    fn readings(&self) -> usize {
        self.devices * self.reports * READINGS as usize
    }
}

fn main() {
    let shape = Shape {
        devices: env("IOTILE_BENCH_DEVICES", 16),
        reports: env("IOTILE_BENCH_REPORTS", 50),
        uploaders: env("IOTILE_BENCH_UPLOADERS", 16),
        workers: env("IOTILE_BENCH_WORKERS", 2),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let raw = rt.block_on(raw_sqlite(shape.readings()));
    let driver = rt.block_on(driver_insert(shape.readings()));
    println!("P2 sqlite storage layer alone (store::data::insert_batch, 200 rows per call, one transaction): rows_per_s={driver:.0}");
    let ours = rt.block_on(server_run(&shape, None));
    println!(
        "P2 sqlite devices={} reports={} readings={} workers={} uploaders={} \
         ours_readings_per_s={:.0} rusqlite_rows_per_s={:.0} ratio={:.3} \
         (targets: 300000 readings/s, ratio 0.5)",
        shape.devices,
        shape.devices * shape.reports,
        shape.readings(),
        shape.workers,
        shape.uploaders,
        ours,
        raw,
        ours / raw
    );
    if std::env::var("IOTILE_BENCH_PG").as_deref() == Ok("1") {
        let url = rt.block_on(postgres::fresh_database_url());
        let pg = rt.block_on(server_run(&shape, Some(url)));
        println!(
            "P2 postgres readings={} workers={} ours_readings_per_s={pg:.0}",
            shape.readings(),
            shape.workers
        );
    }
}

/// A report of readings `first..first+200` of stream 5001, 10 s apart.
fn report(device: u32, index: u32) -> Vec<u8> {
    let first = index * READINGS + 1;
    let readings: Vec<Reading> = (first..first + READINGS)
        .map(|id| Reading {
            stream: 0x5001 + (id % 4) as u16,
            reading_id: id,
            raw_time: id * 10,
            value: id * 3,
        })
        .collect();
    let header = SignedListHeader {
        device_id: device,
        report_id: first + READINGS,
        sent_timestamp: (first + READINGS) * 10,
        streamer: 0,
        selector: 0x100B,
    };
    SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode()
}

/// A staff account, an org, a project and `devices` claimed devices; returns the JWT.
async fn site(server: &Server, devices: usize) -> String {
    let jwt = account(server, "bench@arch.io", true).await;
    claimed_site(server, &jwt, &jwt, devices).await;
    jwt
}

/// Uploads every report and waits until all are processed: readings per second.
async fn server_run(shape: &Shape, database_url: Option<String>) -> f64 {
    let server = Arc::new(
        Server::start(ServerOptions {
            workers: shape.workers,
            idle_poll: Duration::from_millis(20),
            database_url,
            keep: None,
        })
        .await,
    );
    let jwt = Arc::new(site(&server, shape.devices).await);
    // Each uploader sends its devices' reports in order, as a gateway does.
    let mut batches: Vec<Vec<Vec<u8>>> = vec![Vec::new(); shape.uploaders];
    for r in 0..shape.reports as u32 {
        for d in 0..shape.devices as u32 {
            batches[d as usize % shape.uploaders].push(report(FIRST_DEVICE + d, r));
        }
    }
    let url = format!(
        "{}streamer/report/?timestamp=2026-01-01T00:00:00",
        server.base
    );
    let started = Instant::now();
    let mut uploads = Vec::new();
    for batch in batches {
        let (server, jwt, url) = (server.clone(), jwt.clone(), url.clone());
        uploads.push(tokio::spawn(async move {
            for bytes in batch {
                let part = reqwest::multipart::Part::bytes(bytes).file_name("report.bin");
                let form = reqwest::multipart::Form::new().part("file", part);
                let response = server
                    .client
                    .post(&url)
                    .header("Authorization", format!("jwt {jwt}"))
                    .multipart(form)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        }));
    }
    for u in uploads {
        u.await.unwrap();
    }
    let uploaded = started.elapsed();
    loop {
        let counts = cloud::store::jobs::counts(&server.state.db.meta)
            .await
            .unwrap();
        let open: i64 = counts
            .iter()
            .filter(|(state, _)| state != "done")
            .map(|(_, n)| n)
            .sum();
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed();
    // Every reading is there, once (plus one marker row per report).
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_data")
        .fetch_one(&server.state.db.data)
        .await
        .unwrap();
    let expected = shape.readings() + shape.devices * shape.reports;
    assert_eq!(stored, expected as i64, "rows stored");
    println!(
        "P2 run: uploads done in {:.3}s, all processed in {:.3}s",
        uploaded.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    shape.readings() as f64 / elapsed.as_secs_f64()
}

/// The floor: the same number of rows, one prepared INSERT each through rusqlite (prepared
/// once, cached), in one transaction, into a fresh database migrated like the server's and
/// opened with the server's pragmas (WAL, synchronous=NORMAL).
async fn raw_sqlite(rows: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.sqlite3");
    let url = format!("sqlite://{}", path.display());
    let db = cloud::db::Db::open(&url, None).await.unwrap();
    db.close().await;
    tokio::task::spawn_blocking(move || {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .unwrap();
        let device = "d--0000-0000-0000-0100";
        let streams: Vec<String> = (0..4)
            .map(|s| format!("s--0000-0001--0000-0000-0000-0100--500{}", s + 1))
            .collect();
        let started = Instant::now();
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO stream_data (stream_slug, device_slug, device_timestamp, \
                     timestamp, streamer_local_id, dirty_ts, status, type, value, int_value) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .unwrap();
            for i in 0..rows as i64 {
                insert
                    .execute(rusqlite::params![
                        &streams[(i % 4) as usize],
                        device,
                        i * 10,
                        1_767_225_600_000_000 + i * 10_000_000,
                        i + 1,
                        0i64,
                        "cln",
                        "Num",
                        (i * 3) as f64,
                        i * 3,
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        rows as f64 / started.elapsed().as_secs_f64()
    })
    .await
    .unwrap()
}

/// The storage layer's own floor: the same rows through `store::data::insert_batch` (sqlx
/// `Any`), a report's 200 rows per call, in one transaction.
async fn driver_insert(rows: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("any.sqlite3").display());
    let db = cloud::db::Db::open(&url, None).await.unwrap();
    let all: Vec<cloud::store::data::NewDataRow> = (0..rows as i64)
        .map(|i| cloud::store::data::NewDataRow {
            stream_slug: format!("s--0000-0001--0000-0000-0000-0100--500{}", i % 4 + 1),
            device_slug: "d--0000-0000-0000-0100".into(),
            device_timestamp: Some(i * 10),
            timestamp: 1_767_225_600_000_000 + i * 10_000_000,
            streamer_local_id: i + 1,
            dirty_ts: false,
            status: "cln".into(),
            kind: "Num".into(),
            value: Some((i * 3) as f64),
            int_value: Some(i * 3),
        })
        .collect();
    let started = Instant::now();
    let mut tx = db.data_writes.begin().await.unwrap();
    for chunk in all.chunks(200) {
        cloud::store::data::insert_batch(&mut tx, chunk)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    rows as f64 / started.elapsed().as_secs_f64()
}
