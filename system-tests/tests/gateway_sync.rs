//! The gateway's sync client against the real cloud: registration with a one-time code,
//! the backlog of a buffer drained in signed batches into stream data exactly once, a cloud
//! that is down (nothing marked, nothing lost), a report the cloud rejects (kept aside), a
//! revoked gateway (refused, its reports kept), and the backlog the gateway tells, which the
//! cloud shows as the buffer has it.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use site::{site, Site, DEVICE, STRANGER};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway::buffer::{Budget, Buffer, NewReport, ReportKind};
use gateway::sync::{report_backlog, sync_pending, BatchLimits, SyncClient, SyncError};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::gateway::GatewaySecret;
use sync_protocol::ids::DeviceId;
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

const PER_REPORT: u32 = 20;

fn report(device: u32, n: u32) -> NewReport {
    let first = n * PER_REPORT + 1;
    let last = first + PER_REPORT - 1;
    let readings: Vec<Reading> = (first..=last)
        .map(|id| Reading {
            stream: 0x5001,
            reading_id: id,
            raw_time: id * 10,
            value: id * 2,
        })
        .collect();
    let header = SignedListHeader {
        device_id: device,
        report_id: last + 1,
        sent_timestamp: last * 10 + 5,
        streamer: 0,
        selector: 0x100B,
    };
    NewReport {
        device: DeviceId::new(u64::from(device)).unwrap(),
        streamer: 0,
        report_id: last + 1,
        first_reading_id: first,
        last_reading_id: last,
        reading_count: PER_REPORT,
        kind: ReportKind::SignedList,
        raw: SignedListReport::build(header, &readings, Signer::Hash)
            .unwrap()
            .encode(),
        received_at_us: cloud::time::now_micros(),
    }
}

fn base(app: &common::TestApp) -> String {
    format!("http://{}", app.addr)
}

async fn rows(app: &common::TestApp, s: &Site, expected: i64) -> i64 {
    let mut count = 0;
    for _ in 0..300 {
        let data = app
            .ok(&format!("data/?filter={}&page_size=1", s.stream), &s.admin)
            .await;
        count = data["count"].as_i64().unwrap();
        if count == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    count
}

const LIMITS: BatchLimits = BatchLimits {
    reports: 7,
    bytes: 1 << 20,
};

backends!(
    backlog_drains_once_through_signed_batches,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let (_, code) = app
            .post("gateway/code/", &s.admin, json!({"org": s.org}))
            .await;
        let secret = GatewaySecret::from_bytes(&[11; 32]);
        let client = SyncClient::new(&base(&app), secret.clone(), Duration::from_secs(30)).unwrap();
        let registered = client
            .register(code["code"].as_str().unwrap(), Some("pi-1".into()))
            .await
            .unwrap();
        assert_eq!(registered.org, s.org);
        assert_eq!(registered.id, secret.public().key_id());

        let dir = tempfile::tempdir().unwrap();
        let (buffer, _) = Buffer::open(
            &dir.path().join("buffer.sqlite3"),
            Budget {
                max_bytes: 64 << 20,
            },
        )
        .unwrap();
        let buffer = Arc::new(Mutex::new(buffer));
        {
            let mut b = buffer.lock().unwrap();
            for n in 0..30 {
                b.store(&report(DEVICE, n)).unwrap();
            }
            // A claimed device of another org, or none: the cloud rejects it for good.
            b.store(&report(STRANGER, 0)).unwrap();
        }
        let pass = sync_pending(&buffer, &client, LIMITS).await.unwrap();
        assert_eq!(pass.accepted, 30);
        assert_eq!(pass.rejected, 1);
        assert_eq!(pass.batches, 5, "31 reports in batches of 7");
        let stats = buffer.lock().unwrap().stats().unwrap();
        assert_eq!(stats.pending_reports, 0);
        assert_eq!(stats.quarantined, 1, "the rejected report is kept aside");
        assert_eq!(rows(&app, &s, 600).await, 600, "every reading once");

        // The same reports again (a gateway that crashed before marking them): duplicates only.
        let dir2 = tempfile::tempdir().unwrap();
        let (again, _) = Buffer::open(
            &dir2.path().join("b.sqlite3"),
            Budget {
                max_bytes: 64 << 20,
            },
        )
        .unwrap();
        let again = Arc::new(Mutex::new(again));
        for n in 0..30 {
            again.lock().unwrap().store(&report(DEVICE, n)).unwrap();
        }
        let pass = sync_pending(&again, &client, LIMITS).await.unwrap();
        assert_eq!((pass.accepted, pass.duplicates), (0, 30));
        assert_eq!(rows(&app, &s, 600).await, 600);
        let cloud_has = again
            .lock()
            .unwrap()
            .cloud_has(DeviceId::new(u64::from(DEVICE)).unwrap(), 0)
            .unwrap();
        assert!(cloud_has.is_some_and(|id| id <= 600), "{cloud_has:?}");

        // Revoked: refused for good, and the reports stay pending.
        let key = secret.public().key_id();
        let (status, _) = app
            .post(&format!("gateway/{key}/revoke/"), &s.admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        buffer.lock().unwrap().store(&report(DEVICE, 30)).unwrap();
        let err = sync_pending(&buffer, &client, LIMITS).await.unwrap_err();
        assert!(
            matches!(err, SyncError::Refused { status: 401, .. }),
            "{err}"
        );
        assert!(!err.is_transient());
        assert_eq!(buffer.lock().unwrap().stats().unwrap().pending_reports, 1);
    }
);

/// The backlog the cloud shows for the site's only gateway.
async fn shown_backlog(app: &common::TestApp, s: &Site) -> Value {
    let listed = app.ok("gateway/", &s.admin).await;
    assert_eq!(listed["count"], 1, "{listed}");
    listed["results"][0]["backlog"].clone()
}

backends!(
    the_backlog_the_gateway_tells_is_its_buffers,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let (_, code) = app
            .post("gateway/code/", &s.admin, json!({"org": s.org}))
            .await;
        let secret = GatewaySecret::from_bytes(&[12; 32]);
        let client = SyncClient::new(&base(&app), secret, Duration::from_secs(30)).unwrap();
        client
            .register(code["code"].as_str().unwrap(), None)
            .await
            .unwrap();
        assert_eq!(shown_backlog(&app, &s).await, Value::Null);

        let dir = tempfile::tempdir().unwrap();
        let (buffer, _) = Buffer::open(
            &dir.path().join("buffer.sqlite3"),
            Budget {
                max_bytes: 64 << 20,
            },
        )
        .unwrap();
        let buffer = Arc::new(Mutex::new(buffer));
        {
            let mut b = buffer.lock().unwrap();
            for n in 0..10 {
                let mut r = report(DEVICE, n);
                // Received one minute apart, the oldest first.
                r.received_at_us -= i64::from(10 - n) * 60_000_000;
                b.store(&r).unwrap();
            }
            b.quarantine(b"not a report", "does not decode", 1).unwrap();
        }

        // Told with nothing uploaded: everything the buffer holds.
        let told = report_backlog(&buffer, &client)
            .await
            .unwrap()
            .expect("this cloud takes backlogs");
        let stats = buffer.lock().unwrap().stats().unwrap();
        assert_eq!(stats.pending_reports, 10);
        let shown = shown_backlog(&app, &s).await;
        assert_eq!(shown["reports"], stats.pending_reports, "{shown}");
        assert_eq!(shown["bytes"], stats.pending_bytes, "{shown}");
        assert_eq!(shown["readings"], stats.pending_readings, "{shown}");
        assert_eq!(
            shown["oldest_received_on"],
            cloud::time::format(stats.oldest_pending.unwrap()),
            "{shown}"
        );
        assert_eq!(shown["quarantined"], stats.quarantined, "{shown}");
        assert_eq!(shown["ota_outcomes"], 0, "{shown}");
        assert_eq!(shown["buffer_full"], stats.over_budget, "{shown}");
        assert_eq!(told.reports, stats.pending_reports);

        // Uploaded in batches of four, each telling what is left after it: the last, nothing.
        let limits = BatchLimits {
            reports: 4,
            bytes: 1 << 20,
        };
        let pass = sync_pending(&buffer, &client, limits).await.unwrap();
        assert_eq!((pass.batches, pass.accepted), (3, 10));
        let now_held = buffer.lock().unwrap().backlog(0).unwrap();
        assert_eq!(pass.backlog, Some(now_held));
        assert_eq!(now_held.reports, 0);
        let shown = shown_backlog(&app, &s).await;
        assert_eq!(shown["reports"], 0, "{shown}");
        assert_eq!(shown["bytes"], 0, "{shown}");
        assert_eq!(shown["oldest_received_on"], Value::Null, "{shown}");
        assert_eq!(shown["quarantined"], 1, "{shown}");
        assert_eq!(rows(&app, &s, 200).await, 200, "every reading once");
    }
);

#[tokio::test]
async fn a_cloud_that_is_down_loses_nothing() {
    // A port that nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = SyncClient::new(
        &url,
        GatewaySecret::from_bytes(&[1; 32]),
        Duration::from_secs(2),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (buffer, _) = Buffer::open(
        &dir.path().join("b.sqlite3"),
        Budget {
            max_bytes: 64 << 20,
        },
    )
    .unwrap();
    let buffer = Arc::new(Mutex::new(buffer));
    for n in 0..3 {
        buffer.lock().unwrap().store(&report(DEVICE, n)).unwrap();
    }
    let err = sync_pending(&buffer, &client, LIMITS).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let stats = buffer.lock().unwrap().stats().unwrap();
    assert_eq!(stats.pending_reports, 3);
    assert_eq!(stats.synced_reports, 0);
}
