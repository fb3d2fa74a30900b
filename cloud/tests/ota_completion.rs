//! Completion from the device's own version streams (spec 6.4 steps 4–7, checks 14–15), on
//! both backends, through the real report upload and the job worker: hash-signed system
//! reports carrying 0x5C08/0x5C09 readings confirm the agent's action, point the device at
//! its new template or sensor graph, leave a system note, and complete the deployment once
//! every target has confirmed; an agent's success alone confirms nothing; the same report
//! processed twice changes nothing twice; without an action one is "auto created".

#![allow(clippy::unwrap_used)]

mod common;
mod ota_deploy_setup;
mod report_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

use ota_deploy_setup::*;
use report_setup::{process, unfinish, upload_file};

const A: i64 = 0x51;
const B: i64 = 0x52;
const LATE: i64 = 0x53;

/// App tag 1027 v1.1 (sensor graph water-meter-v1-1-1).
const APP_1027_V1_1: u32 = (1 << 26) | (1 << 20) | 1027;
/// OS tag 2050 v1.0 (device template pod-1m-v1-0-0), as spec check 15 has it.
const OS_2050_V1_0: u32 = 0x0400_0802;

/// A hash-signed report of the system streamer (selector 0x5FFF) with `(stream, reading id,
/// value)` readings, 10 s of uptime apart.
fn system_report(device: i64, readings: &[(u16, u32, u32)]) -> Vec<u8> {
    let readings: Vec<Reading> = readings
        .iter()
        .map(|&(stream, reading_id, value)| Reading {
            stream,
            reading_id,
            raw_time: reading_id * 10,
            value,
        })
        .collect();
    let last = readings.iter().map(|r| r.reading_id).max().unwrap_or(0);
    let header = SignedListHeader {
        device_id: u32::try_from(device).unwrap(),
        report_id: last + 1,
        sent_timestamp: last * 10 + 5,
        streamer: 1,
        selector: 0x5FFF,
    };
    SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode()
}

/// Uploads and processes a report; returns its id. It must process without failing.
async fn ingest(app: &common::TestApp, s: &Site, bytes: Vec<u8>) -> String {
    let answer = upload_file(app, &s.staff, "report.bin", bytes).await;
    let id = answer["report"].as_str().unwrap().to_string();
    let done = process(app, &s.staff, &id).await;
    assert_eq!(done["status"], "processed", "{done}");
    id
}

async fn actions_of(app: &common::TestApp, s: &Site, device: i64) -> Vec<Value> {
    app.ok(&format!("ota/action/?device={}", slug(device)), &s.dev)
        .await["results"]
        .as_array()
        .unwrap()
        .clone()
}

async fn notes_of(app: &common::TestApp, s: &Site, device: i64) -> Vec<String> {
    app.ok(&format!("note/?target={}", slug(device)), &s.owner)
        .await["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "si")
        .map(|n| n["note"].as_str().unwrap().to_string())
        .collect()
}

async fn device(app: &common::TestApp, s: &Site, id: i64) -> Value {
    app.ok(&format!("device/{}/", slug(id)), &s.owner).await
}

backends!(
    version_streams_confirm_and_complete,
    spawn_idle,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        devices(&app, &s.org_id, &[A, B]).await;
        let z = script(&app, &s.org_id, 1, true).await;
        let created = request(
            &app,
            &s,
            json!({"script": z, "org": ORG, "selection_criteria": []}),
        )
        .await;
        let id = created["id"].clone();
        let running = release(&app, &s, &id).await;
        assert_eq!(running["progress"]["targeted"], 2);
        devices(&app, &s.org_id, &[LATE]).await;
        let request_now = || async { app.ok(&format!("ota/request/{id}/"), &s.dev).await };

        // The agent says it worked on A: nothing is confirmed by that alone, nor by a report
        // without a version reading.
        let tried = action(
            &app,
            &s,
            json!({"deployment": id, "device": slug(A), "attempt_successful": true,
                   "last_attempt_on": "2026-02-01T10:00:00Z", "log": "12 records sent"}),
        )
        .await;
        ingest(
            &app,
            &s,
            system_report(A, &[(0x5001, 1, 7), (0x5002, 2, 8)]),
        )
        .await;
        let actions = actions_of(&app, &s, A).await;
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0]["device_confirmation"], false);
        assert!(notes_of(&app, &s, A).await.is_empty());
        assert_eq!(request_now().await["completed_on"], Value::Null);

        // A's app version stream says v1.1: the action is confirmed, the sensor graph
        // follows, a note says so. B has not confirmed, so the deployment stays open.
        let report = system_report(A, &[(0x5C09, 3, APP_1027_V1_1)]);
        let report_id = ingest(&app, &s, report.clone()).await;
        let actions = actions_of(&app, &s, A).await;
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0]["id"], tried["id"]);
        assert_eq!(actions[0]["device_confirmation"], true);
        let log = actions[0]["log"].as_str().unwrap();
        assert!(log.starts_with("12 records sent\n"), "{log}");
        assert!(log.contains("app tag 1027 v1.1"), "{log}");
        assert_eq!(device(&app, &s, A).await["sg"], "water-meter-v1-1-1");
        let notes = notes_of(&app, &s, A).await;
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with(&format!(
                "Device {} has been updated: app tag 1027 v1.1",
                slug(A)
            )),
            "{}",
            notes[0]
        );
        let open = request_now().await;
        assert_eq!(open["state"], "running");
        assert_eq!(open["completed_on"], Value::Null);
        assert_eq!(open["progress"]["confirmed"], 1);

        // The same report again, uploaded or retried after a crash, changes nothing.
        let again = upload_file(&app, &s.staff, "report.bin", report).await;
        assert_eq!(again["count"], 1);
        unfinish(&app, &report_id).await;
        assert_eq!(
            process(&app, &s.staff, &report_id).await["status"],
            "processed"
        );
        assert_eq!(actions_of(&app, &s, A).await.len(), 1);
        assert_eq!(notes_of(&app, &s, A).await.len(), 1);

        // B updated without an agent telling us: an action is auto created and confirmed,
        // the template follows its OS version, and with every target confirmed the
        // deployment completes by itself.
        ingest(&app, &s, system_report(B, &[(0x5C08, 1, OS_2050_V1_0)])).await;
        let actions = actions_of(&app, &s, B).await;
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0]["log"], "auto created");
        assert_eq!(actions[0]["deployment"], id);
        assert_eq!(actions[0]["attempt_successful"], true);
        assert_eq!(actions[0]["device_confirmation"], true);
        assert_eq!(device(&app, &s, B).await["template"], "pod-1m-v1-0-0");
        let versions = app
            .ok(&format!("device/{}/versions/", slug(B)), &s.owner)
            .await;
        assert_eq!(versions[0]["type"], "os");
        assert_eq!(versions[0]["tag"], 2050);
        assert_eq!(versions[0]["version"], "v1.0");
        let done = request_now().await;
        assert_eq!(done["state"], "completed");
        assert_eq!(
            done["state_reason"],
            "every targeted device confirmed the update"
        );
        let completed_on = done["completed_on"].as_str().unwrap().to_string();
        assert!(!completed_on.contains('.'), "{completed_on}");
        assert_eq!(
            done["progress"],
            json!({"targeted": 2, "confirmed": 2, "failed": 0, "waiting": 0})
        );
        assert!(offered(&app, &s.dev, &slug(B)).await.is_empty());

        // A version the catalogue does not know still processes the report: the record is
        // kept, the sensor graph stays, and with nothing open no action is made.
        ingest(
            &app,
            &s,
            system_report(LATE, &[(0x5C09, 1, (1 << 26) | 4242)]),
        )
        .await;
        assert_eq!(device(&app, &s, LATE).await["sg"], "water-meter-v1-1-0");
        assert!(actions_of(&app, &s, LATE).await.is_empty());
        let notes = notes_of(&app, &s, LATE).await;
        assert_eq!(notes.len(), 1);
        assert!(notes[0].ends_with("app tag 4242 v1.0"), "{}", notes[0]);
        let versions = app
            .ok(&format!("device/{}/versions/", slug(LATE)), &s.owner)
            .await;
        assert_eq!(versions[0]["tag"], 4242);
        // Completion stays as it was set.
        assert_eq!(request_now().await["completed_on"], completed_on.as_str());
        let (status, _) = app.get(&format!("ota/request/{id}/"), &s.outsider).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);
