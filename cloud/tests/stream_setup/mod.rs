//! Shared setup of the stream, data, event and annotation tests: an org with a project, a
//! variable and two devices, extra users, and multipart uploads.

#![allow(dead_code, clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common;
use cloud::store::orgs;

pub const STREAM: &str = "s--0000-0077--0000-0000-0000-00d2--5001";
pub const VARIABLE: &str = "v--0000-0077--5001";
pub const DEVICE: &str = "d--0000-0000-0000-00d2";

/// An org (`acme`) owned by `owner@acme.io` with project gid 0x77, variable 5001 (output
/// unit doubling, one decimal place), an active device 0xd2 and an inactive device 0xd3.
/// Returns the owner's JWT.
pub async fn setup(app: &common::TestApp) -> String {
    let owner = app.create_user("owner@acme.io", false).await;
    let db = &app.state.db.meta;
    let now = cloud::time::now_micros();
    let org = orgs::create(db, "Acme", "acme", "", owner.id, now)
        .await
        .unwrap();
    let project = "7f3c9d52-0000-4000-8000-000000000077";
    sqlx::query(
        "INSERT INTO projects (id, gid, name, org_id, created_on, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(project)
    .bind(0x77_i64)
    .bind("Field")
    .bind(&org)
    .bind(now)
    .bind(owner.id)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO variables (id, slug, project_id, org_id, lid, name, output_unit, decimal_places, created_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind("7f3c9d52-0000-4000-8000-00000000a001")
    .bind(VARIABLE)
    .bind(project)
    .bind(&org)
    .bind(0x5001_i64)
    .bind("Temp")
    .bind(r#"{"slug":"out-double","unit_full":"Double","unit_short":"x2","m":2,"d":1,"o":0.0}"#)
    .bind(1_i64)
    .bind(now)
    .execute(db)
    .await
    .unwrap();
    for (id, active) in [(0xd2_i64, 1_i64), (0xd3, 0)] {
        sqlx::query(
            "INSERT INTO devices (id, slug, active, org_id, project_id, created_on) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(format!("d--0000-0000-0000-{id:04x}"))
        .bind(active)
        .bind(&org)
        .bind(project)
        .bind(now)
        .execute(db)
        .await
        .unwrap();
    }
    app.login("owner@acme.io").await
}

/// A user with `role` in acme; returns their JWT.
pub async fn member(app: &common::TestApp, email: &str, role: &str) -> String {
    let user = app.create_user(email, false).await;
    let org = orgs::by_slug(&app.state.db.meta, "acme")
        .await
        .unwrap()
        .unwrap();
    orgs::add_member(
        &app.state.db.meta,
        user.id,
        &org.id,
        role,
        cloud::time::now_micros(),
    )
    .await
    .unwrap();
    app.login(email).await
}

/// A user with an org of their own.
pub async fn outsider(app: &common::TestApp) -> String {
    let user = app.create_user("eve@other.io", false).await;
    orgs::create(
        &app.state.db.meta,
        "Other",
        "other",
        "",
        user.id,
        cloud::time::now_micros(),
    )
    .await
    .unwrap();
    app.login("eve@other.io").await
}

pub fn stamps(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["timestamp"].as_str().unwrap().to_string())
        .collect()
}

pub async fn create_streams(app: &common::TestApp, jwt: &str) {
    let (status, body) = app
        .post(
            "stream/",
            jwt,
            json!({"variable": VARIABLE, "device": "d--d2", "data_label": "T"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["slug"], STREAM);
    assert_eq!(body["project"], "p--0000-0077");
    assert_eq!(body["device"], DEVICE);
    assert_eq!(body["variable"], VARIABLE);
    assert_eq!(body["org"], "acme");
    assert_eq!(body["block"], Value::Null);
    assert_eq!(body["mdo_type"], "S");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["output_unit"]["m"], 2);
    let (status, _) = app
        .post(
            "stream/",
            jwt,
            json!({"variable": VARIABLE, "device": "d--d3"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Again: a duplicate. Unknown variable and unknown device.
    let (status, _) = app
        .post(
            "stream/",
            jwt,
            json!({"variable": VARIABLE, "device": "d--d2"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post("stream/", jwt, json!({"variable": "v--0000-0077--5999"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["variable"].is_array());
    let (status, _) = app
        .post(
            "stream/",
            jwt,
            json!({"variable": VARIABLE, "device": "d--99"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.post("stream/", jwt, json!({"device": "d--d2"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["variable"], json!(["This field is required."]));
}

/// A multipart body with text fields and an optional file, and its content type.
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "xYzBoundary7";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((filename, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn upload(
    app: &common::TestApp,
    jwt: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> (StatusCode, Value) {
    let (content_type, body) = multipart(fields, file);
    let response = app
        .client
        .post(app.url("event/upload/"))
        .header("Authorization", format!("jwt {jwt}"))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}
