//! The cloud's completion latency: the real cloud in-process (HTTP on 127.0.0.1, one job
//! worker, SQLite in a temporary directory), `devices` devices whose factory app version
//! (2049 v1.0) it learned from their system reports, a deployment of the update script
//! released to them the way an admin does it (`site::ota::deploy`), a successful action
//! posted for each as the gateway's agent would, then the hash-signed system report carrying
//! each device's new `0x5C09` reading (app 2050 v2.0) uploaded. Measured: from the start of
//! the last report's upload until `GET ota/request/{id}/` (polled every 20 ms) shows
//! `completed_on`.
//!
//! Two orders: `settled` waits until the other devices are confirmed before the last report
//! goes up (the latency of one confirmation that completes the deployment); `burst` uploads
//! all of them back to back (the latency includes the worker draining the queue).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::version::TagVersion;
use sync_protocol::Reading;

use crate::common::{Backend, TestApp};
use crate::rig::FIRST_DEVICE;
use crate::site::ota::{self, Deployment, NEW_APP};
use crate::site::{self, Site};

/// How often the deployment is read while waiting.
pub const POLL: Duration = Duration::from_millis(20);
const VERSION_STREAM: u16 = 0x5C09;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Settled,
    Burst,
}

/// One run's figures.
pub struct Completion {
    /// From the start of the last upload until `completed_on` was seen.
    pub latency: Duration,
    /// How long the last upload's request itself took.
    pub upload: Duration,
}

/// One run on a fresh cloud.
pub async fn run(devices: usize, script: &[u8], order: Order) -> Completion {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let s = site::site(&app).await;
    let ids: Vec<u32> = (0..devices as u32).map(|d| FIRST_DEVICE + d).collect();
    for id in &ids {
        s.claim(&app, *id).await;
    }
    // The factory app, as each POD reports it after its first boot: what the deployment's
    // criteria select on.
    let factory = TagVersion::new(2049, 1, 0).unwrap().pack();
    for id in &ids {
        upload(&app, &s, system_report(*id, 1, factory)).await;
    }
    assert!(
        ota::versions_known(&app, &s.admin, &ids, Duration::from_secs(120)).await,
        "the cloud did not learn every device's app version"
    );
    let d = ota::deploy(&app, &s, script, &ids, None).await;
    let released = d.request(&app).await;
    assert_eq!(released["progress"]["targeted"], devices, "{released}");
    for id in &ids {
        let (status, body) = app
            .post(
                "ota/action/",
                &d.developer,
                json!({"deployment": d.id, "device": slug(*id),
                       "attempt_successful": true, "last_attempt_on": "2026-12-07T10:05:00Z",
                       "log": "sent over the high-speed channel; back as app 2050 v2.0"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let updated = TagVersion::new(NEW_APP.0, NEW_APP.1, NEW_APP.2)
        .unwrap()
        .pack();
    let (last, others) = ids.split_last().unwrap();
    for id in others {
        upload(&app, &s, system_report(*id, 2, updated)).await;
    }
    if order == Order::Settled {
        wait_for(&app, &d, Duration::from_secs(120), |r| {
            r["progress"]["confirmed"] == others.len()
        })
        .await;
        assert_eq!(d.request(&app).await["completed_on"], Value::Null);
    }
    let started = Instant::now();
    upload(&app, &s, system_report(*last, 2, updated)).await;
    let upload_took = started.elapsed();
    let done = wait_for(&app, &d, Duration::from_secs(120), |r| {
        !r["completed_on"].is_null()
    })
    .await;
    let latency = started.elapsed();
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["progress"]["confirmed"], devices, "{done}");
    Completion {
        latency,
        upload: upload_took,
    }
}

/// Reads the deployment every [`POLL`] until `until` holds; returns it.
async fn wait_for(
    app: &TestApp,
    d: &Deployment,
    within: Duration,
    until: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let request = d.request(app).await;
        if until(&request) {
            return request;
        }
        assert!(Instant::now() < deadline, "still waiting: {request}");
    }
}

fn slug(id: u32) -> String {
    format!("d--0000-0000-0000-{id:04x}")
}

/// A hash-signed report of the system streamer (selector 0x5FFF) with one `0x5C09` reading.
fn system_report(device: u32, reading_id: u32, app: u32) -> Vec<u8> {
    let reading = Reading {
        stream: VERSION_STREAM,
        reading_id,
        raw_time: reading_id * 10,
        value: app,
    };
    let header = SignedListHeader {
        device_id: device,
        report_id: reading_id + 1,
        sent_timestamp: reading_id * 10 + 5,
        streamer: 1,
        selector: 0x5FFF,
    };
    SignedListReport::build(header, &[reading], Signer::Hash)
        .unwrap()
        .encode()
}

/// Uploads a report as coretools' `upload_report` does; it must be accepted.
async fn upload(app: &TestApp, s: &Site, bytes: Vec<u8>) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("report.bin");
    let response = app
        .client
        .post(format!(
            "{}?timestamp=2026-12-07T10:06:00",
            app.url("streamer/report/")
        ))
        .header("Authorization", format!("jwt {}", s.staff))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}
