//! The daemon's collection side against a virtual POD behind the virtual BLED112, with the
//! cloud out of reach: a buffer over its budget is not visited into, and one with room takes
//! the POD's readings and acknowledges them on custody while uploads keep failing.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::Peripheral;
use gateway::buffer::{Budget, Buffer};
use gateway::config::{Adapter, ByteSize, Config, Interval};
use gateway::daemon::Daemon;
use tokio_util::sync::CancellationToken;

const DEVICE_ID: u64 = 0x0077_0002;
const READINGS: u32 = 12;

fn pod() -> VirtualPod {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(DEVICE_ID)
    };
    let pod = VirtualPod::new(config).unwrap();
    pod.with_model(|model| {
        for n in 0..READINGS {
            model.push_reading(0x5001, n).unwrap();
        }
    });
    pod
}

fn pod_ack(pod: &VirtualPod) -> u32 {
    pod.with_model(|model| {
        let status = model.rpc(8, 0x200A, &0u16.to_le_bytes());
        u32::from_le_bytes(status.payload()[12..16].try_into().unwrap())
    })
}

/// How many times a host opened the POD's streaming interface (system stream 0x5C01).
fn streaming_opened(pod: &VirtualPod) -> usize {
    pod.with_model(|model| model.readings().filter(|r| r.stream == 0x5C01).count())
}

fn config(dir: &Path, port: &Path, budget: u64) -> Config {
    let mut config = Config::default();
    // Nothing listens on the discard port: every upload fails and is retried later.
    config.cloud.url = "http://127.0.0.1:9".into();
    config.paths.buffer = dir.join("buffer.sqlite");
    config.paths.key = dir.join("gateway.key");
    config.budget.max_bytes = ByteSize(budget);
    config.status.bind = "127.0.0.1:0".parse().unwrap();
    config.adapters = vec![Adapter::Bled112 {
        port: port.to_owned(),
        max_connections: 1,
    }];
    config
}

/// Runs the daemon for `period`, then stops it and checks that it returns cleanly.
async fn run_for(config: Config, period: Duration) {
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(Daemon::run(config, shutdown.clone()));
    tokio::time::sleep(period).await;
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the daemon stops within 10 s")
        .expect("the daemon task does not panic");
    assert!(stopped.is_ok(), "{stopped:?}");
}

fn pending_reports(dir: &Path) -> u64 {
    let budget = Budget {
        max_bytes: 64 << 20,
    };
    let buffer = Buffer::open_read_only(&dir.join("buffer.sqlite"), budget).unwrap();
    buffer.stats().unwrap().pending_reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_stops_visits_and_one_with_room_takes_custody() {
    let pod = pod();
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod.clone())];
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    gateway::identity::load_or_create(&dir.path().join("gateway.key")).unwrap();

    // An empty buffer file is already larger than 1 KiB.
    run_for(
        config(dir.path(), dongle.path(), 1024),
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(streaming_opened(&pod), 0, "no visit while over budget");
    assert_eq!(pod_ack(&pod), 0);
    assert_eq!(pending_reports(dir.path()), 0);

    run_for(
        config(dir.path(), dongle.path(), 64 << 20),
        Duration::from_secs(4),
    )
    .await;
    let highest = pod.with_model(|model| {
        model
            .readings()
            .filter(|r| r.stream == 0x5001)
            .map(|r| r.reading_id)
            .max()
            .unwrap()
    });
    assert_eq!(pod_ack(&pod), highest, "acknowledged once in the buffer");
    assert_eq!(
        streaming_opened(&pod),
        1,
        "one visit within the minimum interval"
    );
    assert!(
        pending_reports(dir.path()) >= 1,
        "kept while the cloud is down"
    );
}

/// The daemon's `/status` and `/metrics` on `bind`.
async fn status_and_metrics(bind: std::net::SocketAddr) -> (serde_json::Value, String) {
    let client = reqwest::Client::new();
    let status = client
        .get(format!("http://{bind}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metrics = client
        .get(format!("http://{bind}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (status, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_heard_but_never_visited_is_reported_starved_until_it_is_visited() {
    let pod = pod();
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod.clone())];
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    gateway::identity::load_or_create(&dir.path().join("gateway.key")).unwrap();
    let mut config = config(dir.path(), dongle.path(), 64 << 20);
    config.status.bind = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config.visits.min_interval = Interval(Duration::from_millis(300));
    config.visits.revisit = Interval(Duration::from_secs(1));
    config.visits.starved_after = Some(Interval(Duration::from_secs(2)));
    let bind = config.status.bind;

    // Another host holds the POD: it advertises a user connected, and is not visited.
    let held = pod.connect().expect("another host connects");
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(Daemon::run(config, shutdown.clone()));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let slug = "d--0000-0000-0077-0002";
    let (status, metrics) = status_and_metrics(bind).await;
    assert_eq!(status["gateway"]["pods"][slug]["starved"], true, "{status}");
    assert_eq!(status["gateway"]["pods"][slug]["visits"], 0, "{status}");
    assert!(
        metrics.contains("\niotile_gateway_pods_starved 1\n"),
        "{metrics}"
    );

    // Once the other host lets go, the POD is visited and no longer starved.
    drop(held);
    pod.drop_connection();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, metrics) = status_and_metrics(bind).await;
        let visited = status["gateway"]["pods"][slug]["visits"]
            .as_u64()
            .unwrap_or(0)
            > 0;
        if visited && status["gateway"]["pods"][slug]["starved"] == false {
            assert!(
                metrics.contains("\niotile_gateway_pods_starved 0\n"),
                "{metrics}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    daemon.await.unwrap().unwrap();
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_that_hangs_holds_the_stop_no_longer_than_the_last_pass() {
    let pod = pod();
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod.clone())];
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    gateway::identity::load_or_create(&dir.path().join("gateway.key")).unwrap();
    // A cloud that takes connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = config(dir.path(), dongle.path(), 64 << 20);
    config.cloud.url = format!("http://{}", silent.local_addr().unwrap());

    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(Daemon::run(config, shutdown.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while pod_ack(&pod) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "nothing collected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let asked = std::time::Instant::now();
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(15), daemon)
        .await
        .expect("the daemon stops")
        .expect("the daemon task does not panic");
    assert!(stopped.is_ok(), "{stopped:?}");
    let took = asked.elapsed();
    let most = gateway::daemon::LAST_PASS + Duration::from_secs(3);
    assert!(took <= most, "stopping took {took:?}");
    assert!(
        pending_reports(dir.path()) >= 1,
        "the reports stay for the next start"
    );
    dongle.stop().await;
}
