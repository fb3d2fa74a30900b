//! Streamer-report upload to readable data, on both backends: the upload's checks and
//! answers (spec 5.1–5.4), processing by the in-process worker, duplicates and overlapping
//! reports giving one row per reading, and refused reports changing nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::report::flexible::FlexHeader;
use sync_protocol::report::{
    FlexReading, FlexibleDictionaryReport, SignedListHeader, SignedListReport, Signer,
};
use sync_protocol::Reading;

const DEVICE: u32 = 0x77;
const RECEIVED: &str = "2026-01-01T00:00:00";

/// A hash-signed report of readings `ids` on stream 5001, taken 10 s apart, sent at uptime 3000.
fn report(ids: std::ops::RangeInclusive<u32>) -> Vec<u8> {
    let readings: Vec<Reading> = ids
        .clone()
        .map(|id| Reading {
            stream: 0x5001,
            reading_id: id,
            raw_time: id * 10,
            value: id * 3,
        })
        .collect();
    let header = SignedListHeader {
        device_id: DEVICE,
        report_id: ids.end() + 1,
        sent_timestamp: 3000,
        streamer: 0,
        selector: 0x100B,
    };
    SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode()
}

/// A hash-signed report of one reading from `device`.
fn one_reading(device: u32) -> Vec<u8> {
    let readings = [Reading {
        stream: 0x5001,
        reading_id: 1,
        raw_time: 1,
        value: 1,
    }];
    let header = SignedListHeader {
        device_id: device,
        report_id: 2,
        sent_timestamp: 10,
        streamer: 0,
        selector: 0x100B,
    };
    SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode()
}

async fn upload(
    app: &common::TestApp,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
    query: &str,
) -> (StatusCode, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = app
        .client
        .post(format!("{}{query}", app.url("streamer/report/")))
        .header("Authorization", format!("jwt {token}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until the worker has processed the report.
async fn processed(app: &common::TestApp, token: &str, report: &str) -> Value {
    for _ in 0..300 {
        let body = app.ok(&format!("streamer/report/{report}/"), token).await;
        if body["status"] != "scheduled" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("report {report} was not processed in 15 s");
}

struct Site {
    staff: String,
    stream: String,
}

async fn site(app: &common::TestApp) -> Site {
    let staff = app.staff("staff@arch.io").await;
    let (_, org) = app.post("org/", &staff, json!({"name": "Ingest"})).await;
    let (_, project) = app
        .post("project/", &staff, json!({"name": "P", "org": org["slug"]}))
        .await;
    for id in [DEVICE, DEVICE + 1] {
        let body = json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        assert_eq!(
            app.post("device/?staff=1", &staff, body).await.0,
            StatusCode::CREATED
        );
    }
    let (status, claimed) = app
        .post(
            "device/claim/",
            &staff,
            json!({"device": "d--0000-0000-0000-0077", "project": project["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let gid = &claimed["project"].as_str().unwrap()[3..];
    Site {
        staff,
        stream: format!("s--{gid}--0000-0000-0000-0077--5001"),
    }
}

backends!(
    reports_become_data_exactly_once,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let query = format!("?timestamp={RECEIVED}");
        let (status, body) = upload(&app, &s.staff, "report.bin", report(1..=200), &query).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["count"], 200);
        let first = processed(&app, &s.staff, body["report"].as_str().unwrap()).await;
        assert_eq!(
            (
                first["status"].as_str(),
                first["new_count"].as_i64(),
                first["duplicate_count"].as_i64()
            ),
            (Some("processed"), Some(200), Some(0))
        );
        assert_eq!(
            (
                first["actual_first_id"].as_i64(),
                first["actual_last_id"].as_i64()
            ),
            (Some(1), Some(200))
        );

        let rows = app
            .ok(
                &format!("data/?filter={}&page_size=1000", s.stream),
                &s.staff,
            )
            .await;
        assert_eq!(rows["count"], 200);
        // Received at midnight, sent at uptime 3000: reading 1 (t = 10 s) is at 23:10:10 the day before.
        let one = rows["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["streamer_local_id"] == 1)
            .unwrap();
        assert_eq!(
            (one["timestamp"].as_str(), one["int_value"].as_i64()),
            (Some("2025-12-31T23:10:10Z"), Some(3))
        );
        let acks = app
            .ok("streamer/?device=d--0000-0000-0000-0077", &s.staff)
            .await;
        assert_eq!(acks["results"][0]["last_id"], 200);
        // The device booted 3000 s before the report was received.
        assert_eq!(acks["results"][0]["last_reboot_ts"], "2025-12-31T23:10:00Z");

        // The same bytes again: the same answer, nothing new.
        let (status, again) = upload(&app, &s.staff, "report.bin", report(1..=200), &query).await;
        assert_eq!(
            (status, again["count"].clone(), again["duplicate"].clone()),
            (StatusCode::CREATED, json!(200), json!(true))
        );
        // An overlapping report: only ids above 200 are new.
        let (status, overlap) =
            upload(&app, &s.staff, "report.bin", report(150..=250), &query).await;
        assert_eq!(status, StatusCode::CREATED, "{overlap}");
        let second = processed(&app, &s.staff, overlap["report"].as_str().unwrap()).await;
        assert_eq!(
            (
                second["new_count"].as_i64(),
                second["duplicate_count"].as_i64()
            ),
            (Some(50), Some(51))
        );
        assert_eq!(
            (
                second["actual_first_id"].as_i64(),
                second["actual_last_id"].as_i64()
            ),
            (Some(201), Some(250))
        );
        let rows = app
            .ok(&format!("data/?filter={}&page_size=1", s.stream), &s.staff)
            .await;
        assert_eq!(rows["count"], 250);
        let acks = app
            .ok("streamer/?device=d--0000-0000-0000-0077", &s.staff)
            .await;
        assert_eq!(acks["results"][0]["last_id"], 250);
        // Each processed report left one marker row.
        let markers = app
            .ok(
                &format!("data/?filter={}", s.stream.replace("--5001", "--5a05")),
                &s.staff,
            )
            .await;
        assert_eq!(markers["count"], 2);

        // A flexible dictionary report (coretools' report.mp) with its own streamer.
        let flex = FlexibleDictionaryReport::build(
            FlexHeader {
                device_id: u64::from(DEVICE),
                streamer: 0x100,
                selector: 0xFFFF,
                report_id: 10,
                sent_timestamp: 100,
            },
            (1..=3)
                .map(|i| FlexReading {
                    stream: 0x5002,
                    raw_time: i,
                    reading_id: i,
                    timestamp: Some(format!("2026-01-0{i}T00:00:00")),
                    value: i64::from(i),
                })
                .collect(),
            vec![],
        );
        let (status, body) = upload(&app, &s.staff, "report.mp", flex.encode(), &query).await;
        assert_eq!(
            (status, body["count"].clone()),
            (StatusCode::CREATED, json!(3))
        );
        let done = processed(&app, &s.staff, body["report"].as_str().unwrap()).await;
        assert_eq!(done["new_count"], 3);
        let flex_rows = app
            .ok(
                &format!("data/?filter={}", s.stream.replace("--5001", "--5002")),
                &s.staff,
            )
            .await;
        assert_eq!(flex_rows["count"], 3);
        assert_eq!(flex_rows["results"][0]["timestamp"], "2026-01-01T00:00:00Z");
    }
);

backends!(
    refused_uploads_change_nothing,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let query = format!("?timestamp={RECEIVED}");
        let good = report(1..=10);
        let mut tampered = good.clone();
        tampered[30] ^= 1;
        let (status, body) = upload(&app, &s.staff, "report.bin", tampered, &query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body[0]
                .as_str()
                .unwrap()
                .starts_with("Invalid Hash: d--0000-0000-0000-0077 (idx=0, user=@staff)"),
            "{body}"
        );
        let (status, body) = upload(
            &app,
            &s.staff,
            "report.bin",
            good[..good.len() - 5].to_vec(),
            &query,
        )
        .await;
        assert!(
            status == StatusCode::BAD_REQUEST && body.is_array(),
            "{status} {body}"
        );
        let (status, body) = upload(&app, &s.staff, "report.bin", good.clone(), "").await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "missing timestamp argument"})
            )
        );
        let (status, body) = upload(
            &app,
            &s.staff,
            "report.bin",
            good.clone(),
            "?timestamp=yesterday",
        )
        .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!(["Upload function requires a ?timestamp=str argument in UTC format"])
            )
        );
        let (status, body) = upload(&app, &s.staff, "photo.jpg", good.clone(), &query).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!([
                    "Streamer Report file extension not supported. Expected: .bin, .json or .mp"
                ])
            )
        );
        let mut flagged = good.clone();
        flagged[16] = 1;
        let (status, body) = upload(&app, &s.staff, "report.bin", flagged, &query).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!(["Unrecognized signature flags (user=@staff)"])
            )
        );
        // No file part at all.
        let response = app
            .client
            .post(app.url(&format!("streamer/report/{query}")))
            .header("Authorization", format!("jwt {}", s.staff))
            .multipart(reqwest::multipart::Form::new().text("other", "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"error": "missing request.data['file']"})
        );

        // Unclaimed and unknown devices.
        let unclaimed = one_reading(DEVICE + 1);
        let (status, body) = upload(&app, &s.staff, "report.bin", unclaimed, &query).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!(["Device d--0000-0000-0000-0078 has not been claimed. Yet, it is uploading a report"])));
        let unknown = one_reading(0xBEEF);
        assert_eq!(
            upload(&app, &s.staff, "report.bin", unknown, &query)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // A user of another org may not upload for this device.
        let outsider = app.user("outsider@b.io").await;
        assert_eq!(
            upload(&app, &outsider, "report.bin", good, &query).await.0,
            StatusCode::FORBIDDEN
        );

        let rows = app
            .ok("data/?filter=d--0000-0000-0000-0077", &s.staff)
            .await;
        assert_eq!(rows["count"], 0);
        let jobs = app.ok("job/?staff=1", &s.staff).await;
        assert_eq!(jobs["count"], 0, "no refused upload queued a job");
    }
);
