//! A gateway that tells its backlog, against a cloud of the release before the backlog.
//! That cloud cannot run here, so a small server stands in for its sync endpoint: it reads
//! the body into the batch as that release declared it (`deny_unknown_fields`, reports
//! only) and answers as it did, 400 `{"detail": "JSON parse error - …"}` on a parse error.
//! The gateway must keep uploading: the batch goes again without the backlog, and batches
//! leave it out until the recheck interval has passed.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use gateway::buffer::{Budget, Buffer, NewReport, ReportKind};
use gateway::sync::{report_backlog, sync_pending, BatchLimits, SyncClient, OLD_CLOUD_RECHECK};
use serde_json::{json, Value};
use sync_protocol::gateway::{BatchReport, GatewaySecret, ReportOutcome, SyncAnswer};
use sync_protocol::ids::DeviceId;

/// The batch as the previous release declared it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviousBatch {
    reports: Vec<BatchReport>,
}

/// Every body the server was sent, whatever it answered.
type Seen = Arc<Mutex<Vec<Value>>>;

async fn sync(State(seen): State<Seen>, body: Bytes) -> (StatusCode, Json<Value>) {
    seen.lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    match serde_json::from_slice::<PreviousBatch>(&body) {
        Ok(batch) => {
            let answer = SyncAnswer {
                results: batch
                    .reports
                    .iter()
                    .map(|_| ReportOutcome::Accepted)
                    .collect(),
                cloud_has: Vec::new(),
            };
            (StatusCode::OK, Json(serde_json::to_value(answer).unwrap()))
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail": format!("JSON parse error - {e}")})),
        ),
    }
}

async fn older_cloud() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/api/v1/gateway/sync/", post(sync))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn report(n: u8) -> NewReport {
    NewReport {
        device: DeviceId::new(0xd2).unwrap(),
        streamer: 0,
        report_id: u32::from(n),
        first_reading_id: u32::from(n),
        last_reading_id: u32::from(n),
        reading_count: 1,
        kind: ReportKind::SignedList,
        raw: vec![1, n, 2, 3],
        received_at_us: 1_700_000_000_000_000 + i64::from(n),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn an_older_cloud_gets_the_reports_without_the_backlog() {
    let (url, seen) = older_cloud().await;
    let client = SyncClient::new(
        &url,
        GatewaySecret::from_bytes(&[3; 32]),
        Duration::from_secs(10),
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
    for n in 0..5 {
        buffer.lock().unwrap().store(&report(n)).unwrap();
    }
    assert!(client.sends_backlog(now()));

    let limits = BatchLimits {
        reports: 2,
        bytes: 1 << 20,
    };
    let pass = sync_pending(&buffer, &client, limits).await.unwrap();
    assert_eq!((pass.batches, pass.accepted), (3, 5));
    assert_eq!(pass.backlog, None, "the cloud took no backlog");
    assert_eq!(buffer.lock().unwrap().stats().unwrap().pending_reports, 0);
    let bodies = seen.lock().unwrap().clone();
    // The first batch with its backlog (refused), then every batch without one.
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    assert_eq!(bodies[0]["backlog"]["reports"], 3, "{}", bodies[0]);
    assert_eq!(bodies[0]["reports"], bodies[1]["reports"]);
    for body in &bodies[1..] {
        assert!(body.get("backlog").is_none(), "{body}");
    }

    // Nothing to tell an older cloud until the recheck, then it is asked again.
    assert!(!client.sends_backlog(now()));
    assert!(client.sends_backlog(now() + OLD_CLOUD_RECHECK.as_secs()));
    assert_eq!(report_backlog(&buffer, &client).await.unwrap(), None);
    assert_eq!(seen.lock().unwrap().len(), 4, "no request for nothing");
}
