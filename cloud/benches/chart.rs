//! Charts: a stream's chart over one year and over one day at 1000 buckets, from the rollup
//! tiers (`GET /api/v1/stream/{slug}/chart/`, and its read of the rollups alone, without HTTP),
//! beside the same chart computed from the raw rows: a `GROUP BY` over `stream_data` for the
//! range (SQL on the server's pool, no HTTP),
//! and every raw row of the range fetched through the data API (`/data/?filter=…&start=…&
//! end=…&page_size=10000`, page after page), as a client would draw it without the chart.
//! The web device page is timed as a browser loads it: the page, then each of its charts'
//! data (`/device/{slug}/chart`).
//!
//! One process, two tokio runtimes: the real server (HTTP on 127.0.0.1, SQLite in a temporary
//! directory) on 2 worker threads, the client on one. An org owner claims one device over
//! the API; its stream gets one reading every 10 s for a year (3,153,600 rows) by bulk SQL
//! inserts, then its rollups are built from the rows (`rollups::rebuild`, the statements a
//! range delete runs). Ranges start off the tier grid (at 03:25:45), as a UI's "last year"
//! does. Each figure is the median and p95 of `IOTILE_BENCH_RUNS` runs (default 9) after one
//! warm-up: time to the response head (TTFB) and to the last byte. The year's raw fetch runs
//! `IOTILE_BENCH_RAW_RUNS` times (default 1) and stops after `IOTILE_BENCH_RAW_BUDGET`
//! seconds (default 120), reporting how far it got.
//!
//! Knobs: `IOTILE_BENCH_DAYS` (default 365), `IOTILE_BENCH_PG=1` repeats the run on a
//! throwaway PostgreSQL cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;

mod common;

use std::time::{Duration, Instant};

use common::{account, claimed_site, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::Value;

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;
/// 2025-01-01T00:00:00Z: the first reading.
const T0: i64 = 1_735_689_600 * SECOND;
/// Where the charted ranges start within a day.
const OFF_GRID: i64 = (3 * 3600 + 25 * 60 + 45) * SECOND;
const BUCKETS: u32 = 1000;
/// Rows per bulk insert statement.
const FILL_CHUNK: i64 = 100_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Knobs {
    days: i64,
    runs: usize,
    raw_runs: usize,
    raw_budget: Duration,
}

fn main() {
    let knobs = Knobs {
        days: env("IOTILE_BENCH_DAYS", 365) as i64,
        runs: env("IOTILE_BENCH_RUNS", 9).max(1),
        raw_runs: env("IOTILE_BENCH_RAW_RUNS", 1).max(1),
        raw_budget: Duration::from_secs(env("IOTILE_BENCH_RAW_BUDGET", 120) as u64),
    };
    run("sqlite", &knobs, None);
    if std::env::var("IOTILE_BENCH_PG").as_deref() == Ok("1") {
        let setup = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = setup.block_on(postgres::fresh_database_url());
        drop(setup);
        run("postgres", &knobs, Some(url));
    }
}

fn run(backend: &str, knobs: &Knobs, database_url: Option<String>) {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("client")
        .enable_all()
        .build()
        .unwrap();
    let server = server_rt.block_on(Server::start(ServerOptions {
        workers: 0,
        idle_poll: Duration::from_secs(1),
        database_url,
        keep: None,
    }));
    let (jwt, stream) = client_rt.block_on(site(&server));
    let readings = knobs.days * 8640;
    let started = Instant::now();
    server_rt.block_on(fill(&server, &stream, readings));
    let raw_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let rollup_rows = server_rt.block_on(build_rollups(&server, &stream, knobs.days));
    println!(
        "CHART {backend} seed: {readings} readings of one stream, 10 s apart over {} days: rows \
         in {raw_s:.1} s (bulk SQL), {rollup_rows} rollup rows built in {:.1} s",
        knobs.days,
        started.elapsed().as_secs_f64()
    );
    println!(
        "CHART {backend} {:<5} {:<28} {:>9} {:>11} {:>10} {:>10} {:>10} {:>10}",
        "range", "method", "items", "bytes", "ttfb p50", "ttfb p95", "full p50", "full p95"
    );
    let span = (knobs.days - 1).max(1);
    let ranges = [
        ("year", T0 + OFF_GRID, T0 + OFF_GRID + span * DAY),
        (
            "day",
            T0 + span / 2 * DAY + OFF_GRID,
            T0 + (span / 2 + 1) * DAY + OFF_GRID,
        ),
    ];
    for (name, start, end) in ranges {
        let range = Range { start, end };
        let chart = client_rt.block_on(measure(knobs.runs, || {
            chart_http(&server, &jwt, &stream, &range)
        }));
        chart.print(backend, name, "chart endpoint (HTTP)");
        let page = client_rt.block_on(measure(knobs.runs, || {
            device_page(&server, &jwt, &stream, &range)
        }));
        page.print(backend, name, "device page + charts (web)");
        let width = chart.width;
        let stored =
            server_rt.block_on(measure(knobs.runs, || store_read(&server, &stream, &range)));
        stored.print(backend, name, "rollups read (store, no HTTP)");
        let grouped = server_rt.block_on(measure(knobs.runs, || {
            group_by(&server, &stream, &range, width)
        }));
        grouped.print(backend, name, "raw GROUP BY (SQL, no HTTP)");
        let raw_runs = if name == "year" {
            knobs.raw_runs
        } else {
            knobs.runs
        };
        let budget = knobs.raw_budget;
        let raw = client_rt.block_on(measure(raw_runs, || {
            raw_api(&server, &jwt, &stream, &range, budget)
        }));
        raw.print(backend, name, "raw rows via /data/ (HTTP)");
    }
    drop(client_rt);
    server_rt.block_on(async move { drop(server) });
}

struct Range {
    start: i64,
    end: i64,
}

impl Range {
    fn query(&self) -> String {
        format!(
            "start={}&end={}",
            cloud::time::format(self.start),
            cloud::time::format(self.end)
        )
    }
}

/// One run: time to the head, time to the end, items (buckets, groups or rows), bytes.
struct Sample {
    ttfb: Option<Duration>,
    full: Duration,
    items: usize,
    bytes: usize,
    width: i64,
    /// Why the run stopped early, if it did.
    cut: Option<String>,
}

struct Figures {
    samples: Vec<Sample>,
    width: i64,
}

/// One warm-up, then `runs` timed runs.
async fn measure<F, Fut>(runs: usize, mut once: F) -> Figures
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Sample>,
{
    let warm = once().await;
    let mut samples = Vec::with_capacity(runs);
    if warm.cut.is_some() {
        samples.push(warm);
    } else {
        for _ in 0..runs {
            samples.push(once().await);
        }
    }
    let width = samples[0].width;
    Figures { samples, width }
}

fn percentile(mut values: Vec<Duration>, p: f64) -> Option<Duration> {
    values.sort();
    let rank = ((values.len() as f64 * p).ceil() as usize).clamp(1, values.len().max(1));
    values.get(rank - 1).copied()
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
}

impl Figures {
    fn print(&self, backend: &str, range: &str, method: &str) {
        let s = &self.samples[0];
        let ttfb: Vec<Duration> = self.samples.iter().filter_map(|s| s.ttfb).collect();
        let full: Vec<Duration> = self.samples.iter().map(|s| s.full).collect();
        let (t50, t95) = if ttfb.is_empty() {
            (None, None)
        } else {
            (percentile(ttfb.clone(), 0.5), percentile(ttfb, 0.95))
        };
        println!(
            "CHART {backend} {range:<5} {method:<28} {:>9} {:>11} {:>10} {:>10} {:>10} {:>10}{}",
            s.items,
            if s.bytes > 0 {
                s.bytes.to_string()
            } else {
                "-".into()
            },
            ms(t50),
            ms(t95),
            ms(percentile(full.clone(), 0.5)),
            ms(percentile(full, 0.95)),
            s.cut.as_ref().map_or(String::new(), |c| format!("  ({c})")),
        );
    }
}

async fn chart_http(server: &Server, jwt: &str, stream: &str, range: &Range) -> Sample {
    let url = format!(
        "{}stream/{stream}/chart/?{}&buckets={BUCKETS}",
        server.base,
        range.query()
    );
    let started = Instant::now();
    let response = server
        .client
        .get(url)
        .header("Authorization", format!("jwt {jwt}"))
        .send()
        .await
        .unwrap();
    let ttfb = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.unwrap();
    let full = started.elapsed();
    let chart: Value = serde_json::from_slice(&body).unwrap();
    let buckets = chart["buckets"].as_array().unwrap().len();
    assert!(
        buckets > 0 && buckets <= BUCKETS as usize,
        "{buckets} buckets"
    );
    Sample {
        ttfb: Some(ttfb),
        full,
        items: buckets,
        bytes: body.len(),
        width: chart["bucket_seconds"].as_i64().unwrap() * SECOND,
        cut: None,
    }
}

/// The device page as a browser loads it: the page (time to its first byte), then the chart
/// data of every stream it shows for the range, at 1000 buckets (full load: the last byte
/// of the last chart). The session cookie holds the same JWT the API issues.
async fn device_page(server: &Server, jwt: &str, stream: &str, range: &Range) -> Sample {
    let origin = server.base.trim_end_matches("/api/v1/");
    // s--PPPP-PPPP--DDDD-DDDD-DDDD-DDDD--VVVV names its device d--DDDD-DDDD-DDDD-DDDD.
    let device = format!("d--{}", &stream[15..34]);
    let cookie = format!("iotile_session={jwt}");
    let started = Instant::now();
    let response = server
        .client
        .get(format!("{origin}/device/{device}"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    let ttfb = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let mut bytes = html.len();
    let mut items = 0;
    for shown in html.split("data-stream=\"").skip(1) {
        let slug = &shown[..shown.find('"').unwrap()];
        let url = format!(
            "{origin}/device/{device}/chart?stream={slug}&start={}&end={}&buckets={BUCKETS}",
            range.start / SECOND,
            range.end / SECOND
        );
        let chart = server
            .client
            .get(url)
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(chart.status(), StatusCode::OK);
        let body = chart.bytes().await.unwrap();
        bytes += body.len();
        let columns: Value = serde_json::from_slice(&body).unwrap();
        items += columns["t"].as_array().unwrap().len();
    }
    assert!(items > 0, "the page charted nothing");
    Sample {
        ttfb: Some(ttfb),
        full: started.elapsed(),
        items,
        bytes,
        width: 0,
        cut: None,
    }
}

/// The chart's own read of the rollups, without HTTP, authentication or JSON.
async fn store_read(server: &Server, stream: &str, range: &Range) -> Sample {
    let started = Instant::now();
    let plan = cloud::charts::plan(range.start, range.end, BUCKETS).unwrap();
    let width = plan.width;
    let chart = cloud::store::rollups::chart(&server.state.db, stream, plan)
        .await
        .unwrap();
    let buckets = chart.buckets().len();
    Sample {
        ttfb: None,
        full: started.elapsed(),
        items: buckets,
        bytes: 0,
        width,
        cut: None,
    }
}

/// Count, min, max and first and last time per bucket of `width`, straight from the rows.
async fn group_by(server: &Server, stream: &str, range: &Range, width: i64) -> Sample {
    let origin = range.start.div_euclid(width) * width;
    let started = Instant::now();
    let groups = sqlx::query(
        "SELECT (timestamp - $1) / $2 AS b, COUNT(*), MIN(value), MAX(value), MIN(timestamp), \
         MAX(timestamp) FROM stream_data WHERE stream_slug = $3 AND timestamp >= $4 \
         AND timestamp < $5 GROUP BY b ORDER BY b",
    )
    .bind(origin)
    .bind(width)
    .bind(stream)
    .bind(range.start)
    .bind(range.end)
    .fetch_all(&server.state.db.data)
    .await
    .unwrap();
    Sample {
        ttfb: None,
        full: started.elapsed(),
        items: groups.len(),
        bytes: 0,
        width,
        cut: None,
    }
}

/// Every row of the range through `/data/`, 10,000 a page, until done or out of budget.
async fn raw_api(
    server: &Server,
    jwt: &str,
    stream: &str,
    range: &Range,
    budget: Duration,
) -> Sample {
    let started = Instant::now();
    let (mut ttfb, mut rows, mut bytes, mut pages) = (None, 0, 0, 0);
    let mut total = 0;
    let mut cut = None;
    for page in 1.. {
        let url = format!(
            "{}data/?filter={stream}&{}&page_size=10000&page={page}",
            server.base,
            range.query()
        );
        let response = server
            .client
            .get(url)
            .header("Authorization", format!("jwt {jwt}"))
            .send()
            .await
            .unwrap();
        ttfb.get_or_insert(started.elapsed());
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes().await.unwrap();
        bytes += body.len();
        pages += 1;
        let page: Value = serde_json::from_slice(&body).unwrap();
        rows += page["results"].as_array().unwrap().len();
        total = page["count"].as_u64().unwrap() as usize;
        if page["next"].is_null() {
            break;
        }
        if started.elapsed() > budget {
            cut = Some(format!(
                "stopped after {:.0} s: {rows} of {total} rows, {pages} pages",
                started.elapsed().as_secs_f64()
            ));
            break;
        }
    }
    if cut.is_none() {
        assert_eq!(rows, total);
    }
    Sample {
        ttfb,
        full: started.elapsed(),
        items: rows,
        bytes,
        width: 0,
        cut,
    }
}

/// An org owner with one claimed device; their JWT and the device's first stream.
async fn site(server: &Server) -> (String, String) {
    let staff = account(server, "staff@arch.io", true).await;
    let owner = account(server, "owner@arch.io", false).await;
    let site = claimed_site(server, &staff, &owner, 1).await;
    let project = site.project["slug"].as_str().unwrap();
    let (status, listed) = server
        .get(&format!("stream/?project={project}&page_size=1000"), &owner)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let mut slugs: Vec<String> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["slug"].as_str().map(str::to_string))
        .collect();
    slugs.sort();
    let device = site.devices[0].trim_start_matches("d--");
    let stream = slugs
        .into_iter()
        .next()
        .unwrap_or_else(|| format!("s--{}--{device}--5001", project.trim_start_matches("p--")));
    (owner, stream)
}

/// `readings` rows, one every 10 s from [`T0`], with scattered values from 0 to 100.
async fn fill(server: &Server, stream: &str, readings: i64) {
    let pool = &server.state.db.data;
    let device = format!("d--{}", stream.split("--").nth(2).unwrap());
    let mut first = 0;
    while first < readings {
        let last = (first + FILL_CHUNK).min(readings);
        sqlx::query(
            "INSERT INTO stream_data (stream_slug, device_slug, device_timestamp, timestamp, \
             streamer_local_id, dirty_ts, status, type, value, int_value) \
             WITH RECURSIVE seq(k) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
             SELECT k + 1 FROM seq WHERE k + 1 < $2) \
             SELECT $3, $4, k * 10, $5 + k * 10000000, k + 1, 0, 'cln', 'Num', \
             CAST((k * 7919) % 1001 AS DOUBLE PRECISION) / 10.0, (k * 7919) % 1001 FROM seq",
        )
        .bind(first)
        .bind(last)
        .bind(stream)
        .bind(&device)
        .bind(T0)
        .execute(pool)
        .await
        .unwrap();
        first = last;
    }
    if server.state.db.data_backend == cloud::db::Backend::Postgres {
        sqlx::query("ANALYZE stream_data")
            .execute(pool)
            .await
            .unwrap();
    }
}

/// Builds the stream's rollups from its rows; returns how many there are.
async fn build_rollups(server: &Server, stream: &str, days: i64) -> i64 {
    let pool = &server.state.db.data;
    let mut tx = pool.begin().await.unwrap();
    cloud::store::rollups::rebuild(&mut tx, stream, T0, T0 + (days + 1) * DAY)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    if server.state.db.data_backend == cloud::db::Backend::Postgres {
        sqlx::query("ANALYZE stream_rollups")
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query_scalar("SELECT COUNT(*) FROM stream_rollups WHERE stream_slug = $1")
        .bind(stream)
        .fetch_one(pool)
        .await
        .unwrap()
}
