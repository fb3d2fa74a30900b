//! `iotile-demo` as a new user runs it: a real process on a free port; its banner gives the
//! cloud's address and the login; each of its three PODs' readings reach the cloud's data
//! API within a minute, only ever more of them and none twice; Ctrl-C stops it cleanly and
//! removes its temporary directory.

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
    cloud: String,
    email: String,
    password: String,
    data_dir: PathBuf,
    /// (stream slug, radio)
    pods: Vec<(String, String)>,
    fallback: bool,
}

/// Reads banner lines until "Try:".
async fn banner(lines: &mut mpsc::UnboundedReceiver<String>) -> Banner {
    let mut b = Banner::default();
    while let Some(line) = lines.recv().await {
        eprintln!("demo| {line}");
        if line.starts_with("Try:") {
            return b;
        }
        if line.starts_with("note: no private D-Bus") {
            b.fallback = true;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("cloud") => b.cloud = words.next().unwrap().to_owned(),
            Some("login") => {
                b.email = words.next().unwrap().to_owned();
                assert_eq!(words.next(), Some("/"));
                b.password = words.next().unwrap().to_owned();
            }
            Some("data") => b.data_dir = words.next().unwrap().into(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_brings_every_pods_readings_to_the_cloud_and_stops_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotile-demo"))
        .args(["--bind", "127.0.0.1:0"])
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    let mut running = Running(Some(child));
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
    let bluez = b.pods.iter().filter(|(_, radio)| radio == "bluez").count();
    assert_eq!(bluez, if b.fallback { 0 } else { 2 }, "{b:?}");

    let http = reqwest::Client::new();
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

    // Every POD's readings arrive within a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut counts = vec![0; b.pods.len()];
    while counts.contains(&0) {
        assert!(
            Instant::now() < deadline,
            "readings per POD after 60 s: {counts:?}"
        );
        sleep(Duration::from_millis(500)).await;
        for (n, (stream, _)) in b.pods.iter().enumerate() {
            counts[n] = rows(&http, &b.cloud, &jwt, stream).await;
        }
    }
    eprintln!("readings per POD: {counts:?}");
    // Afterwards they only grow.
    for _ in 0..3 {
        sleep(Duration::from_secs(1)).await;
        for (n, (stream, _)) in b.pods.iter().enumerate() {
            let now = rows(&http, &b.cloud, &jwt, stream).await;
            assert!(now >= counts[n], "{stream}: {} then {now}", counts[n]);
            counts[n] = now;
        }
    }

    kill(pid, Signal::SIGINT).unwrap();
    let mut child = running.0.take().unwrap();
    let status = timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the demo stops within 15 s of Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = Vec::new();
    while let Some(line) = lines.recv().await {
        rest.push(line);
    }
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
    assert!(
        !b.data_dir.exists(),
        "{} is removed at exit",
        b.data_dir.display()
    );
}
