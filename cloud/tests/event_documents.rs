//! Event documents in object storage, on both backends: posted, uploaded and ingested
//! documents land as objects and read back byte for byte, a failing object store answers 503
//! and stores no row, documents written before `raw_key` still read, deleting a stream removes
//! its objects, and an ingest attempt repeated after a crash neither duplicates rows nor
//! leaves extra objects.

#![allow(clippy::unwrap_used)]

mod common;
mod report_setup;
mod stream_setup;

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::report::flexible::FlexHeader;
use sync_protocol::report::{FlexEvent, FlexReading, FlexibleDictionaryReport};

use report_setup::*;
use stream_setup::*;

/// Every object file under `dir` (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn events_dir(app: &common::TestApp, stream: &str) -> PathBuf {
    app.dir.path().join("objects/events").join(stream)
}

/// The body of `GET event/{id}/data/` as bytes.
async fn document(app: &common::TestApp, token: &str, id: i64) -> (StatusCode, Vec<u8>) {
    let response = app
        .client
        .get(app.url(&format!("event/{id}/data/")))
        .header("Authorization", format!("jwt {token}"))
        .send()
        .await
        .unwrap();
    (response.status(), response.bytes().await.unwrap().to_vec())
}

async fn event_count(app: &common::TestApp, token: &str, stream: &str) -> i64 {
    app.ok(&format!("event/?filter={stream}"), token).await["count"]
        .as_i64()
        .unwrap()
}

backends!(
    posted_documents_live_in_object_storage,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        create_streams(&app, &owner).await;
        let (status, event) = app
            .post(
                "event/",
                &owner,
                json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:01Z",
                   "extra_data": {"peak": 3}, "data": {"x": [1, 2], "s": "é"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{event}");
        let id = event["id"].as_i64().unwrap();
        let stored = files(&events_dir(&app, STREAM));
        assert_eq!(stored.len(), 1, "{stored:?}");
        let (status, body) = document(&app, &owner, id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, std::fs::read(&stored[0]).unwrap());
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"x": [1, 2], "s": "é"})
        );
        // The row holds only the key.
        let (key, inline): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT raw_key, raw_data FROM stream_events WHERE id = $1")
                .bind(id)
                .fetch_one(&app.state.db.data)
                .await
                .unwrap();
        assert!(stored[0].ends_with(key.unwrap()));
        assert_eq!(inline, None);

        // A new document replaces the object.
        let (status, _) = app
            .patch(&format!("event/{id}/"), &owner, json!({"data": {"y": 1}}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let replaced = files(&events_dir(&app, STREAM));
        assert_eq!(replaced.len(), 1);
        assert_ne!(replaced, stored);
        assert_eq!(document(&app, &owner, id).await.1, br#"{"y":1}"#);

        // An uploaded file, gzipped: stored as its JSON text.
        let fields = [("stream", STREAM), ("timestamp", "2024-01-01T00:00:02Z")];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, br#"{"b": 2}"#).unwrap();
        let (status, body) = upload(
            &app,
            &owner,
            &fields,
            Some(("t.json.gz", &gz.finish().unwrap())),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let uploaded = body["id"].as_i64().unwrap();
        assert_eq!(files(&events_dir(&app, STREAM)).len(), 2);
        assert_eq!(document(&app, &owner, uploaded).await.1, br#"{"b":2}"#);

        // A row written before documents moved to object storage still reads.
        sqlx::query(
            "INSERT INTO stream_events (uuid, stream_slug, device_slug, timestamp, raw_data) \
             VALUES ('legacy-1', $1, $2, 1, '{\"old\":true}')",
        )
        .bind(STREAM)
        .bind(DEVICE)
        .execute(&app.state.db.data)
        .await
        .unwrap();
        let legacy_id: i64 =
            sqlx::query_scalar("SELECT id FROM stream_events WHERE uuid = 'legacy-1'")
                .fetch_one(&app.state.db.data)
                .await
                .unwrap();
        let legacy = app.ok(&format!("event/{legacy_id}/"), &owner).await;
        assert_eq!(legacy["has_raw_data"], true);
        assert_eq!(
            document(&app, &owner, legacy_id).await.1,
            br#"{"old":true}"#
        );

        // Deleting the stream deletes its objects.
        let staff = app.staff("root@arch.io").await;
        let (status, _) = app.delete(&format!("stream/{STREAM}/"), &staff).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(files(&events_dir(&app, STREAM)), Vec::<PathBuf>::new());
    }
);

backends!(
    a_failing_object_store_stores_no_row,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        create_streams(&app, &owner).await;
        // A plain file where the documents' directory belongs: every write under it fails,
        // whatever the user's privileges.
        let objects = app.dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let blocker = objects.join("events");
        std::fs::write(&blocker, b"not a directory").unwrap();

        let posted =
            json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:01Z", "data": {"x": 1}});
        let (status, body) = app.post("event/", &owner, posted.clone()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let fields = [("stream", STREAM), ("timestamp", "2024-01-01T00:00:01Z")];
        let (status, _) = upload(&app, &owner, &fields, Some(("t.json", b"{}"))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(event_count(&app, &owner, STREAM).await, 0);

        // Without a document nothing is written to the store.
        let (status, plain) = app
            .post(
                "event/",
                &owner,
                json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:02Z"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = plain["id"].as_i64().unwrap();
        let (status, _) = app
            .patch(&format!("event/{id}/"), &owner, json!({"data": {"y": 1}}))
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(document(&app, &owner, id).await.0, StatusCode::NOT_FOUND);
        assert_eq!(event_count(&app, &owner, STREAM).await, 1);

        std::fs::remove_file(&blocker).unwrap();
        let (status, _) = app.post("event/", &owner, posted).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(event_count(&app, &owner, STREAM).await, 2);
        assert_eq!(files(&events_dir(&app, STREAM)).len(), 1);
    }
);

/// A flexible dictionary report from device 0xd2: two events on stream 5001 (the first with a
/// document), one reading on 5002.
fn flexible_report() -> Vec<u8> {
    let event = |id: u32, raw: rmpv::Value| FlexEvent {
        stream: 0x5001,
        raw_time: id,
        reading_id: id,
        timestamp: Some(format!("2026-01-01T00:00:0{id}")),
        summary: rmpv::Value::Map(vec![("n".into(), id.into())]),
        raw,
    };
    let doc = rmpv::Value::Map(vec![(
        "trip".into(),
        rmpv::Value::Array(vec![1.into(), 2.into()]),
    )]);
    FlexibleDictionaryReport::build(
        FlexHeader {
            device_id: 0xd2,
            streamer: 0x100,
            selector: 0xFFFF,
            report_id: 10,
            sent_timestamp: 100,
        },
        vec![FlexReading {
            stream: 0x5002,
            raw_time: 3,
            reading_id: 3,
            timestamp: None,
            value: 7,
        }],
        vec![event(1, doc), event(2, rmpv::Value::Nil)],
    )
    .encode()
}

backends!(
    ingested_documents_are_stored_once,
    spawn_idle,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        let staff = app.staff("root@arch.io").await;
        let report = upload_report(&app, &staff, flexible_report()).await;
        assert_eq!(process(&app, &owner, &report).await["new_count"], 3);

        let stored = files(&events_dir(&app, STREAM));
        let expected = events_dir(&app, STREAM).join(&report).join("0.json");
        assert_eq!(stored, vec![expected.clone()]);
        let check = |list: Value| async move {
            assert_eq!(list["count"], 2, "{list}");
            let first = &list["results"][0];
            assert_eq!(first["streamer_local_id"], 1);
            assert_eq!(first["has_raw_data"], true);
            assert_eq!(list["results"][1]["has_raw_data"], false);
            first["id"].as_i64().unwrap()
        };
        let id = check(app.ok(&format!("event/?filter={STREAM}"), &owner).await).await;
        let (status, body) = document(&app, &owner, id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, std::fs::read(&expected).unwrap());
        assert_eq!(body, br#"{"trip":[1,2]}"#);

        // A crash after the stream-data transaction: the attempt again finds the log.
        unfinish(&app, &report).await;
        assert_eq!(process(&app, &owner, &report).await["new_count"], 3);
        check(app.ok(&format!("event/?filter={STREAM}"), &owner).await).await;
        assert_eq!(files(&events_dir(&app, STREAM)), vec![expected.clone()]);

        // A crash after the documents and before the rows: the attempt again writes the same
        // objects, and one row per event.
        let data = &app.state.db.data;
        for sql in [
            "DELETE FROM stream_events WHERE device_slug = $1",
            "DELETE FROM stream_data WHERE device_slug = $1",
        ] {
            sqlx::query(sql).bind(DEVICE).execute(data).await.unwrap();
        }
        sqlx::query("DELETE FROM ingest_log WHERE report_id = $1")
            .bind(&report)
            .execute(data)
            .await
            .unwrap();
        for table in ["streamer_progress", "streamer_held"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(data)
                .await
                .unwrap();
        }
        unfinish(&app, &report).await;
        assert_eq!(process(&app, &owner, &report).await["new_count"], 3);
        let id = check(app.ok(&format!("event/?filter={STREAM}"), &owner).await).await;
        assert_eq!(files(&events_dir(&app, STREAM)), vec![expected]);
        assert_eq!(document(&app, &owner, id).await.1, br#"{"trip":[1,2]}"#);

        // Unclaiming with clean_streams removes the documents with the events.
        let (status, body) = app
            .post(
                &format!("device/{DEVICE}/unclaim/"),
                &staff,
                json!({"clean_streams": true}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(files(&events_dir(&app, STREAM)), Vec::<PathBuf>::new());
    }
);

backends!(
    ingest_waits_for_the_object_store,
    spawn_idle,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        let staff = app.staff("root@arch.io").await;
        let report = upload_report(&app, &staff, flexible_report()).await;
        // Documents cannot be written (see `a_failing_object_store_stores_no_row`).
        let blocker = app.dir.path().join("objects/events");
        std::fs::write(&blocker, b"not a directory").unwrap();

        let shutdown = tokio_util::sync::CancellationToken::new();
        let worker = tokio::spawn(cloud::worker::run(
            app.state.clone(),
            common::worker_options(),
            shutdown.clone(),
        ));
        let pattern = format!("%{report}%");
        let mut error = None;
        for _ in 0..300 {
            error = sqlx::query_scalar::<_, Option<String>>(
                "SELECT last_error FROM jobs WHERE payload LIKE $1",
            )
            .bind(&pattern)
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
            if error.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        worker.await.unwrap();
        let error = error.expect("the attempt did not fail");
        assert!(error.contains("event documents"), "{error}");
        // The attempt stored nothing and the job waits for another try.
        let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE payload LIKE $1")
            .bind(&pattern)
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
        assert_eq!(state, "queued");
        assert_eq!(
            app.ok(&format!("streamer/report/{report}/"), &owner).await["status"],
            "scheduled"
        );
        assert_eq!(event_count(&app, &owner, STREAM).await, 0);

        std::fs::remove_file(&blocker).unwrap();
        unfinish(&app, &report).await;
        assert_eq!(process(&app, &owner, &report).await["new_count"], 3);
        assert_eq!(event_count(&app, &owner, STREAM).await, 2);
        assert_eq!(files(&events_dir(&app, STREAM)).len(), 1);
    }
);
