//! Crash test of ingest, on both backends: `iotile-cloud serve --workers 0` takes many
//! overlapping, late and repeated reports from six devices, then `iotile-cloud worker`
//! processes are started and killed with SIGKILL after random delays, again and again, before
//! a last worker is let finish. Every job must end done, every report processed, and each stream
//! must hold each uploaded reading id exactly once, with the books agreeing.
//!
//! `IOTILE_CRASH_KILLS` sets the number of kills (default 50), `IOTILE_CRASH_SEED` the seed of
//! the random delays (printed either way, so a failing run can be repeated).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloud::db::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

const STAFF: &str = "crash@arch.io";
const PASSWORD: &str = "crash test password";
/// Jobs of one streamer run one at a time: a kill holds its streamer up for a lease, the
/// others go on.
const DEVICES: [u32; 6] = [0x101, 0x102, 0x103, 0x104, 0x105, 0x106];
/// Reports per device in the first upload; more follow whenever the queue runs low.
const FIRST_WAVE: u32 = 12;
const NEXT_WAVE: u32 = 4;
const READINGS: u32 = 500;
/// Each report starts this far after the previous one: consecutive reports overlap by 100.
const STEP: u32 = 400;
/// Seconds since the epoch of 2026-01-01T00:00:00Z, the device's boot.
const BOOT: i64 = 1_767_225_600;
/// Worker processes hold a job this long without a heartbeat.
const LEASE_SECS: &str = "1";
/// The random delay before a kill, in milliseconds.
const KILL_AFTER_MS: (u64, u64) = (5, 400);

/// A tiny xorshift generator: reproducible delays without another dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn seed() -> u64 {
    std::env::var("IOTILE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            (nanos as u64 ^ u64::from(std::process::id())) | 1
        })
}

fn kills() -> usize {
    std::env::var("IOTILE_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
}

/// The binary with a fresh data directory and, on PostgreSQL, the database URL as a flag;
/// variables that would point it elsewhere are removed.
struct Cloud {
    dir: tempfile::TempDir,
    database: Option<String>,
}

impl Cloud {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_iotile-cloud"));
        for var in [
            "DATABASE_URL",
            "STREAM_DATABASE_URL",
            "IOTILE_CONFIG",
            "IOTILE_BIND",
            "IOTILE_WORKERS",
            "IOTILE_JOB_LEASE_SECS",
            "IOTILE_USER_PASSWORD",
        ] {
            command.env_remove(var);
        }
        command
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path())
            .env("IOTILE_LOG", "warn")
            // Worker names are `<host>-<pid>-<n>`: the kill accounting looks them up.
            .env("HOSTNAME", "crash")
            .stdin(Stdio::null());
        if let Some(url) = &self.database {
            command.arg("--database").arg(url);
        }
        command
    }

    fn run(&self, args: &[&str]) {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "iotile-cloud {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A child whose output goes to `log` in the data directory (appended).
    fn spawn(&self, args: &[&str], log: &str) -> Running {
        let path = self.dir.path().join(log);
        let out = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let child = self
            .command(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Running { child, log: path }
    }

    fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| cloud::db::default_sqlite_url(self.dir.path()))
    }
}

/// A child process, killed when dropped so a failing assertion never leaves it behind.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    /// SIGKILL, then reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Api {
    base: String,
    client: reqwest::Client,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("jwt {}", self.token));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn upload(&self, bytes: Vec<u8>, received: i64) -> Value {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("report.bin");
        let form = reqwest::multipart::Form::new().part("file", part);
        let at = chrono::DateTime::from_timestamp(received, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S");
        let response = self
            .client
            .post(format!("{}streamer/report/?timestamp={at}", self.base))
            .header("Authorization", format!("jwt {}", self.token))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::CREATED, "upload: {body}");
        body
    }
}

/// Starts `serve` without workers and waits until it answers.
async fn start_server(cloud: &Cloud) -> (Running, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let bind = addr.to_string();
    let mut server = cloud.spawn(&["serve", "--workers", "0", "--bind", &bind], "server.log");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = client
            .get(format!("http://{addr}/api/v1/server/"))
            .send()
            .await;
        if matches!(&answer, Ok(r) if r.status() == StatusCode::OK) {
            return (server, addr);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("serve exited with {status}:\n{}", server.log());
        }
        assert!(
            Instant::now() < deadline,
            "serve did not answer:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A hash-signed report of readings `first..first + READINGS` on stream 5001, each taken
/// 10 s after boot times its id, sent 10 s after its last reading; and its upload time.
fn report(device: u32, first: u32, count: u32) -> (Vec<u8>, i64) {
    let last = first + count - 1;
    let readings: Vec<Reading> = (first..=last)
        .map(|id| Reading {
            stream: 0x5001,
            reading_id: id,
            raw_time: id * 10,
            value: id ^ device,
        })
        .collect();
    let sent = last * 10 + 10;
    let header = SignedListHeader {
        device_id: device,
        report_id: last + 1,
        sent_timestamp: sent,
        streamer: 0,
        selector: 0x100B,
    };
    let bytes = SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode();
    (bytes, BOOT + i64::from(sent))
}

/// What was uploaded, to check the outcome against.
#[derive(Default)]
struct Uploaded {
    /// Distinct reading ids per device.
    ids: BTreeMap<u32, BTreeSet<u32>>,
    /// Reports (not counting the same bytes sent again) per device that bring new ids.
    fresh_reports: BTreeMap<u32, usize>,
    /// Reports that were accepted as new, with a job each.
    reports: usize,
    /// Uploads answered as a repeat of earlier bytes.
    repeats: usize,
}

/// Uploads reports `from..to` of every device: report k holds ids `k * STEP + 1` on, so it
/// overlaps the previous one; every sixth arrives after the next one (late, as from a gateway
/// that was offline), filling a hole below the newest id; every fourth is sent twice; and
/// every fifth brings a stale report of ids the stream already has, sent after the wave.
async fn upload_wave(api: &Api, uploaded: &mut Uploaded, from: u32, to: u32) {
    let mut order: Vec<u32> = (from..to).collect();
    let mut i = 0;
    while i + 1 < order.len() {
        if order[i] % 6 == 2 {
            order.swap(i, i + 1);
            i += 1;
        }
        i += 1;
    }
    let mut stale = Vec::new();
    for k in order {
        for device in DEVICES {
            let (bytes, received) = report(device, k * STEP + 1, READINGS);
            let times = if k % 4 == 3 { 2 } else { 1 };
            for _ in 0..times {
                let answer = api.upload(bytes.clone(), received).await;
                assert_eq!(answer["count"], READINGS, "{answer}");
                if answer["duplicate"] == true {
                    uploaded.repeats += 1;
                } else {
                    uploaded.reports += 1;
                }
            }
            uploaded
                .ids
                .entry(device)
                .or_default()
                .extend(k * STEP + 1..k * STEP + 1 + READINGS);
            *uploaded.fresh_reports.entry(device).or_default() += 1;
            if k % 5 == 4 {
                stale.push(report(device, k * STEP - 250, 200));
            }
        }
    }
    for (bytes, received) in stale {
        let answer = api.upload(bytes, received + 1).await;
        assert!(answer["job"].is_i64(), "{answer}");
        uploaded.reports += 1;
    }
}

/// Counts of jobs in each state.
async fn job_states(db: &Db) -> BTreeMap<String, i64> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        .fetch_all(&db.meta)
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.get::<String, _>("state"), r.get::<i64, _>("n")))
        .collect()
}

async fn unfinished(db: &Db) -> i64 {
    let states = job_states(db).await;
    states.get("queued").copied().unwrap_or(0) + states.get("running").copied().unwrap_or(0)
}

/// What a killed worker process had in hand: its jobs still marked running (nothing else
/// touches them until their lease runs out), and how many of their reports had their rows
/// committed already (killed between the data and the metadata transaction).
async fn in_hand(db: &Db, pid: u32) -> (usize, usize) {
    let rows = sqlx::query("SELECT payload FROM jobs WHERE state = 'running' AND worker LIKE $1")
        .bind(format!("crash-{pid}-%"))
        .fetch_all(&db.meta)
        .await
        .unwrap();
    let mut logged = 0;
    for row in &rows {
        let payload: Value = serde_json::from_str(&row.get::<String, _>("payload")).unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ingest_log WHERE report_id = $1")
            .bind(payload["report"].as_str().unwrap())
            .fetch_one(&db.data)
            .await
            .unwrap();
        logged += usize::try_from(n).unwrap();
    }
    (rows.len(), logged)
}

async fn crash_test(backend: common::Backend) {
    let started = Instant::now();
    let database = match backend {
        common::Backend::Sqlite => None,
        common::Backend::Postgres => Some(common::postgres::fresh_database_url().await),
    };
    let cloud = Cloud {
        dir: tempfile::tempdir().unwrap(),
        database,
    };
    cloud.run(&["migrate"]);
    cloud.run(&[
        "user",
        "create",
        "--email",
        STAFF,
        "--password",
        PASSWORD,
        "--staff",
    ]);
    let (server, addr) = start_server(&cloud).await;
    let base = format!("http://{addr}/api/v1/");
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}auth/login/"))
        .json(&json!({"email": STAFF, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let token = login.json::<Value>().await.unwrap()["jwt"]
        .as_str()
        .unwrap()
        .to_string();
    let api = Api {
        base,
        client,
        token,
    };

    let (_, org) = api.post("org/", json!({"name": "Crash"})).await;
    let (status, project) = api
        .post("project/", json!({"name": "P", "org": org["slug"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    for id in DEVICES {
        let body = json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        let (status, body) = api.post("device/?staff=1", body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = api
            .post(
                "device/claim/",
                json!({"device": device_slug(id), "project": project["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let gid = project["gid"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| project["slug"].as_str().unwrap()[3..].to_string());

    let mut uploaded = Uploaded::default();
    upload_wave(&api, &mut uploaded, 0, FIRST_WAVE).await;
    let mut next_report = FIRST_WAVE;
    let uploads_done = started.elapsed();

    let db = Db::open(&cloud.database_url(), None).await.unwrap();
    let seed = seed();
    let kills = kills();
    let mut rng = XorShift(seed);
    let (mut with_job, mut between_commits, mut waves) = (0, 0, 0);
    let worker_args = ["worker", "--workers", "2", "--job-lease-secs", LEASE_SECS];
    for _ in 0..kills {
        if unfinished(&db).await < i64::try_from(DEVICES.len()).unwrap() {
            // Keep the workers busy: each kill should find work to interrupt.
            upload_wave(&api, &mut uploaded, next_report, next_report + NEXT_WAVE).await;
            next_report += NEXT_WAVE;
            waves += 1;
        }
        let mut worker = cloud.spawn(&worker_args, "workers.log");
        let delay = rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if let Ok(Some(status)) = worker.child.try_wait() {
            panic!("a worker exited by itself with {status}:\n{}", worker.log());
        }
        worker.kill();
        let (jobs, logged) = in_hand(&db, worker.child.id()).await;
        with_job += usize::from(jobs > 0);
        between_commits += logged;
    }
    let killing_done = started.elapsed();

    let mut last = cloud.spawn(&worker_args, "workers.log");
    let deadline = Instant::now() + Duration::from_secs(120);
    while unfinished(&db).await > 0 {
        assert!(
            Instant::now() < deadline,
            "jobs left after 120 s: {:?}\n{}",
            job_states(&db).await,
            last.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last.kill();
    let most_attempts: i64 = sqlx::query_scalar("SELECT MAX(attempts) FROM jobs")
        .fetch_one(&db.meta)
        .await
        .unwrap();
    println!(
        "{backend:?}: seed {seed}; {kills} kills, {with_job} with a job in hand, \
         {between_commits} between the data and the books commit; {} reports ({} repeats, \
         {waves} extra waves, at most {most_attempts} attempts at one job); uploads {:.1} s, kills until {:.1} s, all done at {:.1} s",
        uploaded.reports,
        uploaded.repeats,
        uploads_done.as_secs_f64(),
        killing_done.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    check(&db, &api, &uploaded, &gid).await;
    assert!(
        with_job * 10 >= kills,
        "only {with_job} of {kills} kills found a job in hand"
    );
    db.close().await;
    drop(server);
}

fn device_slug(id: u32) -> String {
    format!("d--0000-0000-0000-{id:04x}")
}

/// The outcome: every job done, every report processed, each reading id stored once, and
/// the books agreeing with the rows.
async fn check(db: &Db, api: &Api, uploaded: &Uploaded, gid: &str) {
    let states = job_states(db).await;
    let expected_jobs = i64::try_from(uploaded.reports).unwrap();
    assert_eq!(
        states,
        BTreeMap::from([("done".to_string(), expected_jobs)]),
        "every job done, none dead or left"
    );
    let statuses: Vec<(String, i64)> =
        sqlx::query("SELECT status, COUNT(*) AS n FROM streamer_reports GROUP BY status")
            .fetch_all(&db.meta)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("status"), r.get("n")))
            .collect();
    assert_eq!(statuses, [("processed".to_string(), expected_jobs)]);
    let dups: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT stream_slug, streamer_local_id FROM stream_data \
         GROUP BY stream_slug, streamer_local_id HAVING COUNT(*) > 1) d",
    )
    .fetch_one(&db.data)
    .await
    .unwrap();
    assert_eq!(dups, 0, "no reading stored twice");
    let logged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ingest_log")
        .fetch_one(&db.data)
        .await
        .unwrap();
    assert_eq!(logged, expected_jobs, "one ingest log entry per report");

    let mut total_rows = 0;
    for device in DEVICES {
        let stream = format!("s--{gid}--0000-0000-0000-{device:04x}--5001");
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT streamer_local_id FROM stream_data WHERE stream_slug = $1 \
             ORDER BY streamer_local_id",
        )
        .bind(&stream)
        .fetch_all(&db.data)
        .await
        .unwrap();
        let expected: Vec<i64> = uploaded.ids[&device]
            .iter()
            .map(|&i| i64::from(i))
            .collect();
        assert_eq!(ids.len(), expected.len(), "{stream}: row count");
        assert!(
            ids == expected,
            "{stream}: the stored ids are not the uploaded ids"
        );
        total_rows += ids.len();

        let marker = stream.replace("--5001", "--5a05");
        let markers: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM stream_data WHERE stream_slug = $1")
                .bind(&marker)
                .fetch_one(&db.data)
                .await
                .unwrap();
        let reports_with_new: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM streamer_reports r JOIN streamers s ON s.id = r.streamer_id \
             JOIN devices d ON d.id = s.device_id WHERE d.slug = $1 AND r.new_count > 0",
        )
        .bind(device_slug(device))
        .fetch_one(&db.meta)
        .await
        .unwrap();
        assert_eq!(
            (markers, reports_with_new),
            (
                i64::try_from(uploaded.fresh_reports[&device]).unwrap(),
                i64::try_from(uploaded.fresh_reports[&device]).unwrap()
            ),
            "{marker}: one marker per report with new readings"
        );

        let acks = api
            .ok(&format!("streamer/?device={}", device_slug(device)))
            .await;
        assert_eq!(
            acks["results"][0]["last_id"],
            json!(expected.last().unwrap()),
            "{stream}: the streamer's last_id"
        );
        let rows = api.ok(&format!("data/?filter={stream}&page_size=1")).await;
        assert_eq!(
            rows["count"],
            json!(expected.len()),
            "{stream}: data API count"
        );
    }
    let new_total: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(new_count) AS BIGINT) FROM streamer_reports")
            .fetch_one(&db.meta)
            .await
            .unwrap();
    assert_eq!(
        new_total,
        i64::try_from(total_rows).unwrap(),
        "new_count adds up to the rows"
    );
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM streamer_reports WHERE new_count + duplicate_count <> reading_count",
    )
    .fetch_one(&db.meta)
    .await
    .unwrap();
    assert_eq!(
        mismatched, 0,
        "each report's readings are new or duplicates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    crash_test(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    crash_test(common::Backend::Postgres).await;
}
