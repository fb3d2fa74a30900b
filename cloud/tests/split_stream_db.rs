//! Stream data in a database of its own (`STREAM_DATABASE_URL`): the API reads and writes it
//! there, the metadata database holds none of it, and unclaiming cleans it.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

async fn stream_data_lives_apart(backend: Backend) {
    let app = TestApp::spawn_split(backend).await;
    let staff = app.staff("staff@arch.io").await;
    let (_, org) = app.post("org/", &staff, json!({"name": "Split"})).await;
    let (status, project) = app
        .post("project/", &staff, json!({"name": "P", "org": org["slug"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let body = json!({"id": 0x77, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
    assert_eq!(
        app.post("device/?staff=1", &staff, body).await.0,
        StatusCode::CREATED
    );
    let (status, claimed) = app
        .post(
            "device/claim/",
            &staff,
            json!({"device": "d--0000-0000-0000-0077", "project": project["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
    let stream = format!(
        "s--{}--0000-0000-0000-0077--5001",
        &claimed["project"].as_str().unwrap()[3..]
    );
    let rows: Vec<_> = (0..5)
        .map(|i| json!({"stream": stream, "timestamp": format!("2026-03-01T00:00:0{i}Z"), "int_value": i}))
        .collect();
    let (status, body) = app.post("data/", &staff, json!(rows)).await;
    assert_eq!((status, body), (StatusCode::CREATED, json!({"count": 5})));

    let page = app
        .ok(&format!("data/?filter={stream}&lastn=3"), &staff)
        .await;
    let values: Vec<i64> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["int_value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [2, 3, 4]);

    let db = &app.state.db;
    let in_data: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_data")
        .fetch_one(&db.data)
        .await
        .unwrap();
    assert_eq!(in_data, 5);
    let in_meta = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM stream_data")
        .fetch_one(&db.meta)
        .await;
    assert!(
        in_meta.is_err(),
        "the metadata database has no stream_data table"
    );
    let no_users = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
        .fetch_one(&db.data)
        .await;
    assert!(no_users.is_err(), "the stream database has no users table");

    let (status, body) = app
        .post(
            "device/d--0000-0000-0000-0077/unclaim/",
            &staff,
            json!({"clean_streams": true}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_data")
        .fetch_one(&db.data)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    stream_data_lives_apart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    stream_data_lives_apart(Backend::Postgres).await;
}
