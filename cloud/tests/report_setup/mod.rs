//! Shared steps of the tests that ingest streamer reports with a worker they start and stop
//! themselves (servers from `spawn_idle`), including the state a crash leaves behind.

#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common;

/// The upload time given to every report.
pub const RECEIVED: &str = "2026-01-01T00:00:00";

/// Uploads a report file (`.mp`); returns the report id.
pub async fn upload_report(app: &common::TestApp, token: &str, bytes: Vec<u8>) -> String {
    upload_file(app, token, "report.mp", bytes).await["report"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Uploads `bytes` as the file `name` at [`RECEIVED`]; returns the answer, which must be 201.
pub async fn upload_file(app: &common::TestApp, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let response = app
        .client
        .post(format!(
            "{}?timestamp={RECEIVED}",
            app.url("streamer/report/")
        ))
        .header("Authorization", format!("jwt {token}"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// Runs a job worker until the report is processed; returns the report.
pub async fn process(app: &common::TestApp, token: &str, report: &str) -> Value {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(cloud::worker::run(
        app.state.clone(),
        common::worker_options(),
        shutdown.clone(),
    ));
    let mut done = Value::Null;
    for _ in 0..300 {
        let body = app.ok(&format!("streamer/report/{report}/"), token).await;
        if body["status"] != "scheduled" {
            done = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    worker.await.unwrap();
    assert!(!done.is_null(), "report {report} was not processed in 15 s");
    done
}

/// Puts the report's metadata back as a crash before its metadata transaction leaves it.
pub async fn unfinish(app: &common::TestApp, report: &str) {
    let meta = &app.state.db.meta;
    sqlx::query("UPDATE streamer_reports SET status = 'scheduled' WHERE id = $1")
        .bind(report)
        .execute(meta)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE jobs SET state = 'queued', run_after = 0, finished_on = NULL, lease_until = NULL \
         WHERE payload LIKE $1",
    )
    .bind(format!("%{report}%"))
    .execute(meta)
    .await
    .unwrap();
}
