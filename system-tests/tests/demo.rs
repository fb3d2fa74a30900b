//! `iotile-demo` as a new user runs it: a real process on a free port; its banner gives the
//! cloud's address and the login; each of its three PODs' readings reach the cloud's data
//! API within a minute, only ever more of them and none twice; Ctrl-C stops it cleanly and
//! removes its temporary directory. A kept data directory (`--data-dir`, here with every POD
//! on the BLED112) starts again with the same login and continues the same streams.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout, Instant};

/// What the banner says.
#[derive(Default, Debug)]
struct Banner {
    web: String,
    /// Whether the web address comes first, before the API's.
    web_first: bool,
    cloud: String,
    email: String,
    password: String,
    data_dir: PathBuf,
    /// (stream slug, radio)
    pods: Vec<(String, String)>,
    fallback: bool,
    /// The desktop app's dongle, from `IOTILE_DESKTOP_BLED112=<pty>`.
    desktop_dongle: PathBuf,
}

/// Reads banner lines until the shell examples.
async fn banner(lines: &mut mpsc::UnboundedReceiver<String>) -> Banner {
    let mut b = Banner::default();
    while let Some(line) = lines.recv().await {
        eprintln!("demo| {line}");
        if line.starts_with("Or from a shell:") {
            return b;
        }
        if line.starts_with("note: every POD is behind the BLED112") {
            b.fallback = true;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("web") => {
                b.web = words.next().unwrap().to_owned();
                b.web_first = b.cloud.is_empty();
            }
            Some("cloud") => b.cloud = words.next().unwrap().to_owned(),
            Some("login") => {
                b.email = words.next().unwrap().to_owned();
                assert_eq!(words.next(), Some("/"));
                b.password = words.next().unwrap().to_owned();
            }
            Some("data") => b.data_dir = words.next().unwrap().into(),
            Some("desktop") => {
                let setting = words.next().unwrap();
                let pty = setting.strip_prefix("IOTILE_DESKTOP_BLED112=").unwrap();
                b.desktop_dongle = pty.into();
            }
            Some("pod") => {
                let _slug = words.next().unwrap();
                let radio = words.next().unwrap().to_owned();
                b.pods.push((words.next().unwrap().to_owned(), radio));
            }
            _ => {}
        }
    }
    panic!("the demo ended before its banner: {b:?}");
}

/// Kills the demo if the test fails before it stops it.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.start_kill();
        }
    }
}

/// The stream's rows, checked for duplicate reading ids.
async fn rows(http: &reqwest::Client, cloud: &str, jwt: &str, stream: &str) -> usize {
    let page: Value = http
        .get(format!(
            "{cloud}/api/v1/data/?filter={stream}&page_size=1000"
        ))
        .header("Authorization", format!("jwt {jwt}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let results = page["results"].as_array().unwrap();
    assert_eq!(page["count"].as_u64().unwrap() as usize, results.len());
    let ids: HashSet<i64> = results
        .iter()
        .map(|r| r["streamer_local_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), results.len(), "a reading twice in {stream}");
    results.len()
}

/// A demo process and its banner.
struct Demo {
    banner: Banner,
    pid: Pid,
    running: Running,
    lines: mpsc::UnboundedReceiver<String>,
    http: reqwest::Client,
    jwt: String,
}

impl Demo {
    async fn start(args: &[&str]) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iotile-demo"))
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let pid = Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
        let running = Running(Some(child));
        let (tx, mut lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let b = timeout(Duration::from_secs(60), banner(&mut lines))
            .await
            .expect("the banner within 60 s");
        assert!(b.cloud.starts_with("http://127.0.0.1:"), "{b:?}");
        assert!(!b.cloud.ends_with(":0"), "the real port is printed: {b:?}");
        assert_eq!(b.email, "demo@iotile.local");
        assert!(b.password.len() >= 12, "{b:?}");
        assert!(b.data_dir.is_dir(), "{b:?}");
        assert_eq!(b.pods.len(), 3, "{b:?}");
        assert!(
            b.web_first,
            "the web address is the first thing printed: {b:?}"
        );
        assert_eq!(b.web, format!("{}/", b.cloud), "{b:?}");

        let http = reqwest::Client::new();
        let sign_in = http.get(format!("{}login", b.web)).send().await.unwrap();
        assert_eq!(sign_in.status(), 200);
        assert!(sign_in.text().await.unwrap().contains("<h1>Sign in</h1>"));
        let login: Value = http
            .post(format!("{}/api/v1/auth/login/", b.cloud))
            .json(&json!({"email": b.email, "password": b.password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwt = login["jwt"].as_str().unwrap().to_owned();
        Demo {
            banner: b,
            pid,
            running,
            lines,
            http,
            jwt,
        }
    }

    fn radios(&self, radio: &str) -> usize {
        self.banner.pods.iter().filter(|(_, r)| r == radio).count()
    }

    async fn counts(&self) -> Vec<usize> {
        let mut counts = Vec::new();
        for (stream, _) in &self.banner.pods {
            counts.push(rows(&self.http, &self.banner.cloud, &self.jwt, stream).await);
        }
        counts
    }

    /// Once every POD has more readings in the cloud than `before` (within 60 s), and
    /// afterwards only ever more, the counts.
    async fn readings_beyond(&self, before: &[usize]) -> Vec<usize> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut counts = self.counts().await;
        while counts.iter().zip(before).any(|(now, was)| now <= was) {
            assert!(
                Instant::now() < deadline,
                "readings per POD after 60 s: {counts:?}, before: {before:?}"
            );
            sleep(Duration::from_millis(500)).await;
            counts = self.counts().await;
        }
        eprintln!("readings per POD: {counts:?}");
        for _ in 0..3 {
            sleep(Duration::from_secs(1)).await;
            let now = self.counts().await;
            for (n, (was, is)) in counts.iter().zip(&now).enumerate() {
                assert!(is >= was, "POD {n}: {was} then {is}");
            }
            counts = now;
        }
        counts
    }

    /// Ctrl-C; the demo exits 0 within 15 s, its last word "stopped".
    async fn interrupt(mut self) {
        kill(self.pid, Signal::SIGINT).unwrap();
        let mut child = self.running.0.take().unwrap();
        let status = timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("the demo stops within 15 s of Ctrl-C")
            .unwrap();
        assert!(status.success(), "{status}");
        let mut rest = Vec::new();
        while let Some(line) = self.lines.recv().await {
            rest.push(line);
        }
        assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_brings_every_pods_readings_to_the_cloud_and_stops_on_ctrl_c() {
    let demo = Demo::start(&[]).await;
    let bluez = if demo.banner.fallback { 0 } else { 2 };
    assert_eq!(demo.radios("bluez"), bluez, "{:?}", demo.banner);
    assert_eq!(demo.radios("bled112"), 3 - bluez, "{:?}", demo.banner);
    // The desktop app gets a dongle of its own.
    assert!(
        demo.banner.desktop_dongle.exists(),
        "{:?}",
        demo.banner.desktop_dongle
    );
    demo.readings_beyond(&[0, 0, 0]).await;
    let dir = demo.banner.data_dir.clone();
    demo.interrupt().await;
    assert!(!dir.exists(), "{} is removed at exit", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_data_dir_continues_where_the_demo_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--bled112-only", "--data-dir", dir.path().to_str().unwrap()];
    let first = Demo::start(&args).await;
    assert_eq!(first.radios("bled112"), 3, "{:?}", first.banner);
    assert!(!first.banner.fallback);
    let counts = first.readings_beyond(&[0, 0, 0]).await;
    let password = first.banner.password.clone();
    first.interrupt().await;
    let recorded = std::fs::metadata(dir.path().join("demo.json")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        recorded.permissions().mode() & 0o777,
        0o600,
        "the login is private"
    );

    // The same login, the same streams, nothing twice, and the PODs' new readings arrive.
    let second = Demo::start(&args).await;
    assert_eq!(second.banner.password, password);
    second.readings_beyond(&counts).await;
    second.interrupt().await;
    assert!(dir.path().join("cloud").is_dir(), "a kept directory stays");
}
