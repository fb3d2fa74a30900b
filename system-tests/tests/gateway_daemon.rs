//! The gateway daemon end to end: a virtual POD holding readings behind the virtual BLED112
//! pty, the daemon collecting through it into a real buffer file and syncing under its
//! registered key to the real cloud, where every reading appears exactly once; then the
//! daemon stops when told.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use site::{site, Site, DEVICE};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::Peripheral;
use gateway::buffer::{Budget, Buffer};
use gateway::config::{Adapter, Cloud, Config, Interval, Paths};
use gateway::daemon::Daemon;
use gateway::sync::SyncClient;
use serde_json::{json, Value};
use sync_protocol::ids::DeviceId;
use tokio_util::sync::CancellationToken;

const READINGS: u32 = 40;
const STREAM: u16 = 0x5001;

/// A POD whose only readings are `READINGS` values on the stream, nothing generated.
fn pod() -> VirtualPod {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(u64::from(DEVICE))
    };
    let pod = VirtualPod::new(config).unwrap();
    pod.with_model(|model| {
        for n in 0..READINGS {
            model.push_reading(STREAM, 1000 + n).unwrap();
        }
    });
    pod
}

/// The stream's rows in the cloud, once `expected` are there or after `within`.
async fn data(app: &common::TestApp, s: &Site, expected: usize, within: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let page = app
            .ok(
                &format!("data/?filter={}&page_size=1000", s.stream),
                &s.admin,
            )
            .await;
        let rows = page["results"].as_array().cloned().unwrap_or_default();
        if rows.len() >= expected || tokio::time::Instant::now() >= deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A daemon configuration for one BLED112, with a key registered to the site's org and a
/// free port for the status API.
async fn registered(app: &common::TestApp, s: &Site, dir: &Path, port: &Path) -> Config {
    let base = format!("http://{}", app.addr);
    let key = dir.join("gateway.key");
    let identity = gateway::identity::load_or_create(&key).unwrap();
    let (_, code) = app
        .post("gateway/code/", &s.admin, json!({"org": s.org}))
        .await;
    let client = SyncClient::new(&base, identity.secret, Duration::from_secs(30)).unwrap();
    let registered = client
        .register(code["code"].as_str().unwrap(), Some("pi-1".into()))
        .await
        .unwrap();
    assert_eq!(registered.org, s.org);
    let mut config = Config {
        cloud: Cloud { url: base },
        paths: Paths {
            buffer: dir.join("buffer.sqlite"),
            key,
        },
        adapters: vec![Adapter::Bled112 {
            port: port.to_owned(),
            max_connections: 1,
        }],
        ..Config::default()
    };
    config.status.bind = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config
}

fn buffer_stats(dir: &Path) -> gateway::buffer::Stats {
    let budget = Budget {
        max_bytes: 512 << 20,
    };
    let buffer = Buffer::open_read_only(&dir.join("buffer.sqlite"), budget).unwrap();
    buffer.stats().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_collects_a_pod_and_syncs_every_reading_once() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let s = site(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let made_at = chrono::Utc::now();
    let pod = pod();
    // What the POD holds, before anything is acknowledged and freed.
    let mut expected: Vec<(i64, i64)> = pod.with_model(|model| {
        model
            .readings()
            .filter(|r| r.stream == STREAM)
            .map(|r| (i64::from(r.reading_id), i64::from(r.value)))
            .collect()
    });
    expected.sort_unstable();
    assert_eq!(expected.len(), READINGS as usize);
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod.clone())];
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).unwrap();
    let config = registered(&app, &s, dir.path(), dongle.path()).await;
    let status_addr = config.status.bind;
    let shutdown = CancellationToken::new();
    let started = std::time::Instant::now();
    let daemon = tokio::spawn(Daemon::run(config, shutdown.clone()));

    let rows = data(&app, &s, READINGS as usize, Duration::from_secs(20)).await;
    eprintln!(
        "{} rows in the cloud after {:?}",
        rows.len(),
        started.elapsed()
    );
    let mut values: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["streamer_local_id"].as_i64().unwrap(),
                r["int_value"].as_i64().unwrap(),
            )
        })
        .collect();
    values.sort_unstable();
    let received_by = chrono::Utc::now();
    for row in &rows {
        let at = chrono::DateTime::parse_from_rfc3339(row["timestamp"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
        // Device seconds are whole: a reading may read up to a second early.
        assert!(
            at >= made_at - chrono::Duration::seconds(2) && at <= received_by,
            "{row} was made at {made_at}"
        );
    }
    assert_eq!(values, expected, "every reading once, with its value");

    // The visit was acknowledged and the next may not come before the minimum interval:
    // nothing arrives twice.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        data(&app, &s, usize::MAX, Duration::ZERO).await.len(),
        READINGS as usize
    );
    // Streamer 0 is acknowledged up to the last reading, and the buffer has it on record.
    let last = expected.last().unwrap().0;
    let status = pod.with_model(|model| model.rpc(8, 0x200A, &0u16.to_le_bytes()));
    let acked = u32::from_le_bytes(status.payload()[12..16].try_into().unwrap());
    assert_eq!(i64::from(acked), last);

    // The status API tells the same story.
    let status: Value = app
        .client
        .get(format!("http://{status_addr}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pod_status = &status["gateway"]["pods"]["d--0000-0000-0000-00a1"];
    assert!(pod_status["visits"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(status["buffer"]["pending_reports"], 0, "{status}");
    assert_eq!(status["buffer"]["over_budget"], false);
    assert!(
        status["gateway"]["last_sync_us"].as_i64().is_some(),
        "{status}"
    );
    assert!(status["gateway"]["last_sync_error"].is_null(), "{status}");
    // The cloud knows that the daemon holds nothing more, as its syncs told it.
    let mut backlog = Value::Null;
    for _ in 0..50 {
        backlog = app.ok("gateway/", &s.admin).await["results"][0]["backlog"].clone();
        if backlog["reports"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(backlog["reports"], 0, "{backlog}");
    assert_eq!(backlog["quarantined"], 0, "{backlog}");
    assert_eq!(backlog["buffer_full"], false, "{backlog}");
    let metrics = app
        .client
        .get(format!("http://{status_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\niotile_gateway_pods_seen 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\niotile_gateway_buffer_pending_reports 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE iotile_gateway_synced_reports gauge"),
        "{metrics}"
    );

    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the daemon stops within 10 s")
        .expect("the daemon task does not panic");
    assert!(stopped.is_ok(), "{stopped:?}");

    let buffer = Buffer::open_read_only(
        &dir.path().join("buffer.sqlite"),
        Budget {
            max_bytes: 512 << 20,
        },
    )
    .unwrap();
    let device = DeviceId::new(u64::from(DEVICE)).unwrap();
    assert_eq!(buffer.acked(device, 0).unwrap().map(i64::from), Some(last));
    let stats = buffer.stats().unwrap();
    assert_eq!(stats.pending_reports, 0, "everything collected was synced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_collected_just_before_sigterm_is_synced_before_the_daemon_stops() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let s = site(&app).await;
    let dir = tempfile::tempdir().unwrap();
    // The POD comes into range only after the uploader's look at start (an empty buffer):
    // with the next look an hour away, only the last pass can sync what is collected.
    let dongle = VirtualBled112::start(Vec::new(), DongleOptions::default()).unwrap();
    let mut config = registered(&app, &s, dir.path(), dongle.path()).await;
    config.sync.interval = Interval(Duration::from_secs(3600));
    let status_addr = config.status.bind;
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(Daemon::run(config, shutdown.clone()));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let looked = match app
            .client
            .get(format!("http://{status_addr}/status"))
            .send()
            .await
        {
            Ok(response) => response.json::<Value>().await.ok(),
            Err(_) => None, // not listening yet
        }
        .is_some_and(|status| status["gateway"]["last_sync_us"].is_i64());
        if looked {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no look at start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dongle.add(Arc::new(pod()));

    // The daemon may be creating the file: a buffer that does not open yet holds nothing.
    let pending = || {
        let budget = Budget {
            max_bytes: 512 << 20,
        };
        Buffer::open_read_only(&dir.path().join("buffer.sqlite"), budget)
            .and_then(|b| b.stats())
            .map_or(0, |s| s.pending_reports)
    };
    while pending() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "nothing collected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(15), daemon)
        .await
        .expect("the daemon stops within 15 s")
        .expect("the daemon task does not panic");
    assert!(stopped.is_ok(), "{stopped:?}");
    let stats = buffer_stats(dir.path());
    assert_eq!(
        stats.pending_reports, 0,
        "the last pass synced the collected report"
    );
    let rows = data(&app, &s, READINGS as usize, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), READINGS as usize);
    dongle.stop().await;
}
