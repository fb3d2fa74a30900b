//! R3: the cloud unreachable for long while PODs keep producing. The gateway binary
//! collects until its buffer reaches the budget, then stops visiting (the PODs keep their
//! readings, and lose none), says so in its status, and waits; when the uplink returns the
//! backlog drains, collection resumes by itself, and every reading arrives exactly once.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::time::{Duration, Instant};

use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use serde_json::Value;
use site::outage::Uplink;
use site::pods::{peripherals, pod_ack, Producer};
use site::process::GatewayProcess;
use site::two_pods;

/// Small enough to be reached in seconds: an empty buffer file is about 40 KiB.
const BUDGET: &str = "72 KiB";

/// Polls the gateway's status until `test` holds; returns the last document.
async fn wait_status(
    gateway: &GatewayProcess,
    client: &reqwest::Client,
    within: Duration,
    test: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = gateway.status(client).await {
            if test(&status) || Instant::now() >= deadline {
                return status;
            }
        } else {
            assert!(Instant::now() < deadline, "{}", gateway.log_tail(30));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_fills_the_budget_pauses_collection_and_then_drains() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let (s, streams, pods) = two_pods(&app).await;
    let dongle = VirtualBled112::start(peripherals(&pods), DongleOptions::default()).unwrap();

    // Registration happens while the network works; then the uplink dies.
    let uplink = Uplink::start(app.addr, true).await;
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = GatewayProcess::new(
        dir.path(),
        &format!("http://{}", uplink.addr),
        &[dongle.path()],
        &format!("[budget]\nmax_bytes = \"{BUDGET}\"\n"),
    );
    s.register_gateway(&app, &gateway.key(), "r3").await;
    uplink.set_up(false);

    let producer = Producer::start(&pods, 4, Duration::from_millis(100));
    gateway.start();
    let started = Instant::now();
    let full = wait_status(&gateway, &app.client, Duration::from_secs(90), |s| {
        s["buffer"]["over_budget"] == true
    })
    .await;
    assert_eq!(full["buffer"]["over_budget"], true, "{full}");
    assert!(full["gateway"]["last_sync_error"].is_string(), "{full}");
    eprintln!(
        "R3: over budget after {:?}: {} readings pending in {} reports, {} bytes of {}",
        started.elapsed(),
        full["buffer"]["pending_readings"],
        full["buffer"]["pending_reports"],
        full["buffer"]["file_bytes"],
        full["buffer"]["budget"],
    );

    // Paused: no POD is visited (so none is acknowledged further) while the PODs keep
    // their readings, and nothing reached the cloud.
    let acks: Vec<u32> = pods.iter().map(|(_, pod)| pod_ack(pod)).collect();
    let visits = |s: &Value| -> u64 {
        s["gateway"]["pods"].as_object().map_or(0, |p| {
            p.values().map(|p| p["visits"].as_u64().unwrap_or(0)).sum()
        })
    };
    // A visit under way when the budget was hit may still finish.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = gateway.status(&app.client).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = gateway.status(&app.client).await.unwrap();
    assert_eq!(visits(&before), visits(&after), "no visits while full");
    assert_eq!(after["buffer"]["over_budget"], true);
    for ((id, pod), acked) in pods.iter().zip(&acks) {
        assert!(pod_ack(pod) <= acked + 1_000, "POD {id:#x}");
        assert_eq!(
            pod.with_model(|m| m.lost_readings()),
            0,
            "the POD lost nothing"
        );
    }
    assert!(
        s.arrived(&app, &streams).await.values().all(Vec::is_empty),
        "nothing crossed a dead uplink"
    );

    // The uplink returns: the backlog drains and collection resumes by itself.
    uplink.set_up(true);
    let resumed = wait_status(&gateway, &app.client, Duration::from_secs(60), |s| {
        s["buffer"]["over_budget"] == false && visits(s) > visits(&after)
    })
    .await;
    assert_eq!(resumed["buffer"]["over_budget"], false, "{resumed}");
    let made = producer.stop();
    let total: usize = made.values().map(Vec::len).sum();
    s.assert_delivered(
        &app,
        &streams,
        &pods,
        &made,
        Duration::from_secs(60),
        || gateway.log_tail(40),
    )
    .await;
    eprintln!(
        "R3: all {total} readings once in the cloud {:?} after the start",
        started.elapsed()
    );
    let log = std::fs::read_to_string(gateway.dir.join("gateway.log")).unwrap();
    assert!(log.contains("OVER BUDGET"), "said loudly in the log");
    assert!(log.contains("collection resumes"));
    assert!(gateway.stop(Duration::from_secs(10)).success());
    dongle.stop().await;
}
