//! P3: `GET /api/v1/data/?filter=<stream slug>&lastn=1000` against a database of 10 million
//! readings, at a constant request rate, from an open-loop load generator on loopback.
//!
//! One process, two tokio runtimes: the real server (HTTP on 127.0.0.1, job workers, SQLite in
//! a temporary directory) on a runtime of 2 worker threads, the load generator on a runtime
//! of its own. An org owner (not staff) is created, logs in, makes an org and a project and
//! claims devices over the API, so the streams queried are real and authorization is the
//! ordinary one. `stream_data` is then filled by direct SQL, shaped like ingested data: each
//! device's readings come in reports of `IOTILE_BENCH_REPORT` readings spread over its
//! streams in turn (one reading id sequence per device, 10 s apart), reports of the devices
//! interleaved, as gateways upload them.
//!
//! The generator sends requests on a fixed schedule (`IOTILE_BENCH_RATE` per second) over
//! `IOTILE_BENCH_CONNECTIONS` keep-alive connections; request `i` goes to connection
//! `i mod C`, and its latency is measured from its scheduled send time, so a stall delays
//! and counts every request behind it (no coordinated omission). Each request asks for a
//! random stream of the set. Every answer must be 200 with a count of `lastn` and `lastn`
//! results (every answer's head is checked, every tenth is parsed in full).
//!
//! Knobs (environment): `IOTILE_BENCH_DEVICES` (default 25), `IOTILE_BENCH_STREAMS` per
//! device (default 4), `IOTILE_BENCH_READINGS` per stream (default 100000),
//! `IOTILE_BENCH_REPORT` (default 2000), `IOTILE_BENCH_RATE` (default 1000),
//! `IOTILE_BENCH_SECONDS` (default 20), `IOTILE_BENCH_WARMUP` seconds (default 3),
//! `IOTILE_BENCH_CONNECTIONS` (default 8), `IOTILE_BENCH_LASTN` (default 1000),
//! `IOTILE_BENCH_PG=1` repeats the run on a throwaway PostgreSQL cluster,
//! `IOTILE_BENCH_KEEP_DB=<dir>` keeps the SQLite database in that directory and reuses it
//! (without filling again) when a run of the same shape left it there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{account, claimed_site, login, Server, ServerOptions};
use reqwest::StatusCode;
use serde::Deserialize;

/// 2026-01-01T00:00:00Z in microseconds.
const EPOCH_2026: i64 = 1_767_225_600_000_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone)]
struct Shape {
    devices: usize,
    streams: usize,
    readings: usize,
    report: usize,
    rate: usize,
    seconds: usize,
    warmup: usize,
    connections: usize,
    lastn: usize,
}

impl Shape {
    fn total(&self) -> usize {
        self.devices * self.streams * self.readings
    }
}

fn main() {
    let shape = Shape {
        devices: env("IOTILE_BENCH_DEVICES", 25),
        streams: env("IOTILE_BENCH_STREAMS", 4),
        readings: env("IOTILE_BENCH_READINGS", 100_000),
        report: env("IOTILE_BENCH_REPORT", 2000),
        rate: env("IOTILE_BENCH_RATE", 1000),
        seconds: env("IOTILE_BENCH_SECONDS", 20),
        warmup: env("IOTILE_BENCH_WARMUP", 3),
        connections: env("IOTILE_BENCH_CONNECTIONS", 8),
        lastn: env("IOTILE_BENCH_LASTN", 1000),
    };
    run("sqlite", &shape, None);
    if std::env::var("IOTILE_BENCH_PG").as_deref() == Ok("1") {
        let setup = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = setup.block_on(postgres::fresh_database_url());
        drop(setup);
        run("postgres", &shape, Some(url));
    }
}

fn run(backend: &str, shape: &Shape, database_url: Option<String>) {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .unwrap();
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("load")
        .enable_all()
        .build()
        .unwrap();
    // A kept database (SQLite only) is reused when its marker names the same shape.
    let keep = match database_url {
        None => std::env::var("IOTILE_BENCH_KEEP_DB")
            .ok()
            .map(std::path::PathBuf::from),
        Some(_) => None,
    };
    let shape_line = format!(
        "{} {} {} {}",
        shape.devices, shape.streams, shape.readings, shape.report
    );
    let kept = keep.as_ref().and_then(|dir| {
        let marker = std::fs::read_to_string(dir.join("p3-filled")).ok()?;
        let mut lines = marker.lines();
        (lines.next()? == shape_line).then(|| lines.map(str::to_string).collect::<Vec<_>>())
    });
    if let (Some(dir), None) = (&keep, &kept) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
    }
    let server = server_rt.block_on(Server::start(ServerOptions {
        workers: 1,
        idle_poll: Duration::from_millis(200),
        database_url,
        keep: keep.clone(),
    }));
    let filling = Instant::now();
    let (jwt, streams) = match kept {
        Some(lines) => {
            let jwt = load_rt.block_on(login(&server, "owner@arch.io"));
            let streams = lines
                .iter()
                .filter_map(|l| l.split_once(' '))
                .map(|(s, d)| (s.to_string(), d.to_string()))
                .collect();
            (jwt, streams)
        }
        None => {
            let (jwt, streams) = load_rt.block_on(site(&server, shape));
            server_rt.block_on(fill(&server, shape, &streams));
            if let Some(dir) = &keep {
                let mut marker = shape_line.clone();
                for (s, d) in &streams {
                    marker.push_str(&format!("\n{s} {d}"));
                }
                std::fs::write(dir.join("p3-filled"), marker).unwrap();
            }
            (jwt, streams)
        }
    };
    let fill_s = filling.elapsed().as_secs_f64();
    let db_bytes = server_rt.block_on(db_size(&server));
    println!(
        "P3 {backend} fill: {} readings in {} streams ({} devices x {} streams x {} readings, \
         reports of {}) in {fill_s:.1}s, database {:.0} MiB",
        shape.total(),
        streams.len(),
        shape.devices,
        shape.streams,
        shape.readings,
        shape.report,
        db_bytes as f64 / (1024.0 * 1024.0),
    );
    let url = Arc::new(format!("{}data/", server.base));
    let jwt = Arc::new(jwt);
    let streams = Arc::new(streams);
    if shape.warmup > 0 {
        let warm = Load {
            seconds: shape.warmup,
            ..Load::of(shape)
        };
        load_rt.block_on(warm.run(url.clone(), jwt.clone(), streams.clone()));
    }
    let load = Load::of(shape);
    let result = load_rt.block_on(load.run(url, jwt, streams));
    result.print(backend, shape, db_bytes);
    drop(load_rt);
    server_rt.block_on(async move { drop(server) });
}

/// Staff registers the devices; an ordinary user makes an org and a project and claims them.
/// Returns that user's JWT and the slugs of the streams to fill and query: each device's
/// streams with the lowest variable ids when the project lists them, else `5001…`.
async fn site(server: &Server, shape: &Shape) -> (String, Vec<(String, String)>) {
    let staff = account(server, "staff@arch.io", true).await;
    let owner = account(server, "owner@arch.io", false).await;
    let site = claimed_site(server, &staff, &owner, shape.devices).await;
    let project_slug = site.project["slug"].as_str().unwrap().to_string();
    let device_slugs = site.devices;
    let (status, listed) = server
        .get(
            &format!("stream/?project={project_slug}&page_size=10000"),
            &owner,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let known: Vec<String> = listed["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["slug"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut streams = Vec::new();
    for device in &device_slugs {
        // `d--0000-0000-0000-0100` → the stream slug's device part `0000-0000-0000-0100`.
        let hex = device.trim_start_matches("d--");
        let mut mine: Vec<&String> = known.iter().filter(|s| s.contains(hex)).collect();
        mine.sort();
        let project_part = project_slug.trim_start_matches("p--");
        for v in 0..shape.streams {
            let slug = match mine.get(v) {
                Some(s) => (*s).clone(),
                None => format!("s--{project_part}--{hex}--{:04x}", 0x5001 + v),
            };
            streams.push((slug, device.clone()));
        }
    }
    (owner, streams)
}

/// Fills `stream_data`: per device one reading id sequence over its streams in turn, in
/// reports of `shape.report` readings, the devices' reports interleaved.
async fn fill(server: &Server, shape: &Shape, streams: &[(String, String)]) {
    let pool = &server.state.db.data;
    let per_device = shape.streams * shape.readings;
    let rounds = per_device.div_ceil(shape.report);
    let s = shape.streams as i64;
    for round in 0..rounds {
        let first = (round * shape.report) as i64;
        let last = ((round + 1) * shape.report).min(per_device) as i64;
        let mut tx = pool.begin().await.unwrap();
        for d in 0..shape.devices {
            let own = &streams[d * shape.streams..(d + 1) * shape.streams];
            // Reading k (0-based) of the device goes to its stream k mod S, with id k + 1,
            // device time 10 (k + 1) s and a UTC timestamp that far into 2026.
            let mut cases = String::new();
            for (v, (slug, _)) in own.iter().enumerate() {
                cases.push_str(&format!(" WHEN {v} THEN '{slug}'"));
            }
            let sql = format!(
                "INSERT INTO stream_data (stream_slug, device_slug, device_timestamp, timestamp, \
                 streamer_local_id, dirty_ts, status, type, value, int_value) \
                 WITH RECURSIVE seq(k) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
                 SELECT k + 1 FROM seq WHERE k + 1 < $2) \
                 SELECT CASE k % {s}{cases} END, $3, (k + 1) * 10, \
                 $4 + (k + 1) * 10000000, k + 1, 0, 'cln', 'Num', \
                 CAST(k * 3 AS DOUBLE PRECISION), k * 3 FROM seq"
            );
            sqlx::query(&sql)
                .bind(first)
                .bind(last)
                .bind(&own[0].1)
                .bind(EPOCH_2026)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    if server.state.db.data_backend == cloud::db::Backend::Postgres {
        sqlx::query("ANALYZE stream_data")
            .execute(pool)
            .await
            .unwrap();
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_data")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(stored, shape.total() as i64, "rows stored");
}

async fn db_size(server: &Server) -> i64 {
    let pool = &server.state.db.data;
    if server.state.db.data_backend == cloud::db::Backend::Postgres {
        sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(pool)
            .await
            .unwrap()
    } else {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(pool)
            .await
            .unwrap();
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(pool)
            .await
            .unwrap();
        pages * size
    }
}

#[derive(Clone)]
struct Load {
    rate: usize,
    seconds: usize,
    connections: usize,
    lastn: usize,
}

#[derive(Deserialize)]
struct Page {
    count: i64,
    results: Vec<serde::de::IgnoredAny>,
}

struct Outcome {
    /// Latency from the scheduled send time, in microseconds, of each answered request.
    latencies: Vec<u64>,
    failures: Vec<String>,
    /// Requests never sent: the generator stopped more than 10 s behind schedule.
    unsent: usize,
    sent: usize,
    elapsed: Duration,
}

impl Load {
    fn of(shape: &Shape) -> Load {
        Load {
            rate: shape.rate,
            seconds: shape.seconds,
            connections: shape.connections,
            lastn: shape.lastn,
        }
    }

    async fn run(
        &self,
        url: Arc<String>,
        jwt: Arc<String>,
        streams: Arc<Vec<(String, String)>>,
    ) -> Outcome {
        let total = self.rate * self.seconds;
        let interval = Duration::from_secs_f64(1.0 / self.rate as f64);
        // A little slack so every connection's first request is scheduled in the future.
        let start = tokio::time::Instant::now() + Duration::from_millis(50);
        // A server that cannot keep up would take forever to drain: stop sending this late.
        let deadline = start + Duration::from_secs(self.seconds as u64 + 10);
        let mut tasks = Vec::new();
        for c in 0..self.connections {
            let (url, jwt, streams) = (url.clone(), jwt.clone(), streams.clone());
            let lastn = self.lastn;
            let connections = self.connections;
            tasks.push(tokio::spawn(async move {
                // One client per connection: requests of a connection go one after another.
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap();
                let auth = format!("jwt {jwt}");
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1);
                let mut latencies = Vec::with_capacity(total / connections + 1);
                let mut failures = Vec::new();
                let head = format!("{{\"count\":{lastn},");
                let mut unsent = 0;
                let mut i = c;
                while i < total {
                    let scheduled = start + interval * i as u32;
                    if tokio::time::Instant::now() > deadline {
                        // Far behind schedule: what is left is reported as not sent.
                        unsent = (total - i).div_ceil(connections);
                        break;
                    }
                    tokio::time::sleep_until(scheduled).await;
                    // xorshift: a random stream of the set.
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let stream = &streams[(rng % streams.len() as u64) as usize].0;
                    let sent = client
                        .get(url.as_str())
                        .query(&[("filter", stream.as_str()), ("lastn", &lastn.to_string())])
                        .header("Authorization", &auth)
                        .send()
                        .await;
                    let checked = match sent {
                        Ok(response) => {
                            let status = response.status();
                            match response.bytes().await {
                                Ok(body) => check(status, &body, &head, lastn, i % 10 == 0),
                                Err(e) => Err(format!("body: {e}")),
                            }
                        }
                        Err(e) => Err(format!("send: {e}")),
                    };
                    let done = tokio::time::Instant::now();
                    match checked {
                        Ok(()) => latencies.push((done - scheduled).as_micros() as u64),
                        Err(e) => failures.push(format!("request {i} ({stream}): {e}")),
                    }
                    i += connections;
                }
                (latencies, failures, unsent)
            }));
        }
        let began = Instant::now();
        let mut out = Outcome {
            latencies: Vec::with_capacity(total),
            failures: Vec::new(),
            unsent: 0,
            sent: total,
            elapsed: Duration::ZERO,
        };
        for t in tasks {
            let (l, f, u) = t.await.unwrap();
            out.latencies.extend(l);
            out.failures.extend(f);
            out.unsent += u;
        }
        out.elapsed = began.elapsed();
        out
    }
}

/// 200, the expected count and, when `full`, exactly `lastn` results.
fn check(
    status: StatusCode,
    body: &[u8],
    head: &str,
    lastn: usize,
    full: bool,
) -> Result<(), String> {
    if status != StatusCode::OK {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    }
    if !body.starts_with(head.as_bytes()) {
        return Err(format!(
            "unexpected head: {}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        ));
    }
    if full {
        let page: Page = serde_json::from_slice(body).map_err(|e| format!("json: {e}"))?;
        if page.count != lastn as i64 || page.results.len() != lastn {
            return Err(format!(
                "count {} with {} results",
                page.count,
                page.results.len()
            ));
        }
    }
    Ok(())
}

impl Outcome {
    fn print(mut self, backend: &str, shape: &Shape, db_bytes: i64) {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        let at = |q: f64| -> f64 {
            if n == 0 {
                return f64::NAN;
            }
            let idx = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.latencies[idx] as f64 / 1000.0
        };
        let achieved = n as f64 / self.elapsed.as_secs_f64();
        for f in self.failures.iter().take(10) {
            println!("P3 {backend} failure: {f}");
        }
        println!(
            "P3 {backend} readings={} streams={} db_mib={:.0} lastn={} target_rate={}/s \
             connections={} seconds={} ok={n} failed={} unsent={} of {} achieved_rate={achieved:.0}/s \
             p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} p99.9_ms={:.2} max_ms={:.2} \
             (latency from each request's scheduled send time)",
            shape.total(),
            shape.devices * shape.streams,
            db_bytes as f64 / (1024.0 * 1024.0),
            shape.lastn,
            shape.rate,
            shape.connections,
            shape.seconds,
            self.failures.len(),
            self.unsent,
            self.sent,
            at(0.50),
            at(0.90),
            at(0.99),
            at(0.999),
            self.latencies
                .last()
                .map_or(f64::NAN, |&m| m as f64 / 1000.0),
        );
    }
}
