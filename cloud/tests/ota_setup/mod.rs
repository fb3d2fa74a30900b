//! Shared steps of the OTA script tests: an org with a person in each role, update scripts
//! built with `sync_protocol::script`, uploads, release keys and signatures.

#![allow(dead_code, clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::ota::release::{ReleaseSecret, ScriptTarget};
use sync_protocol::script::{Record, UpdateScript};

use crate::common;

/// Org A with its owner, an admin, a member and a developer (the only role with
/// `can_manage_ota`), org B with its owner, and a staff user.
pub struct World {
    pub staff: String,
    pub owner: String,
    pub admin: String,
    pub member: String,
    pub developer: String,
    pub outsider: String,
    pub org: String,
    pub other_org: String,
}

pub async fn world(app: &common::TestApp) -> World {
    let staff = app.staff("staff@arch.io").await;
    let owner = app.user("owner@a.io").await;
    let (status, org) = app.post("org/", &owner, json!({"name": "Vendor A"})).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org = org["slug"].as_str().unwrap().to_string();
    let mut tokens = Vec::new();
    for (role, code) in [("admin", "a1"), ("member", "m1"), ("developer", "d1")] {
        let email = format!("{role}@a.io");
        let user = app.create_user(&email, false).await;
        let (status, body) = app
            .post(
                &format!("org/{org}/register/"),
                &owner,
                json!({"user": user.slug, "role": code}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        tokens.push(app.login(&email).await);
    }
    let outsider = app.user("outsider@b.io").await;
    let (status, other) = app.post("org/", &outsider, json!({"name": "Org B"})).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let [admin, member, developer] = <[String; 3]>::try_from(tokens).unwrap();
    World {
        staff,
        owner,
        admin,
        member,
        developer,
        outsider,
        org,
        other_org: other["slug"].as_str().unwrap().to_string(),
    }
}

/// A valid update script; different `n` give different bytes.
pub fn script_bytes(n: usize) -> Vec<u8> {
    let mut records = vec![Record::ClearData { address: 8 }];
    records.extend(std::iter::repeat_n(Record::ResetDevice, n));
    UpdateScript::new(records).encode()
}

pub fn secret(seed: u8) -> ReleaseSecret {
    ReleaseSecret::from_bytes(&[seed; 32])
}

/// A release signature as `iotile-fw script sign` writes it.
pub fn signature(
    secret: &ReleaseSecret,
    org: &str,
    name: &str,
    version: &str,
    bytes: &[u8],
) -> Value {
    let target = ScriptTarget::new(org, name, version).unwrap();
    serde_json::to_value(secret.sign(&target, bytes)).unwrap()
}

/// Creates a script; returns its slug.
pub async fn create_script(
    app: &common::TestApp,
    token: &str,
    org: &str,
    name: &str,
    version: &str,
) -> String {
    let (status, body) = app
        .post(
            "ota/script/",
            token,
            json!({"name": name, "org": org, "version": version}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["slug"].as_str().unwrap().to_string()
}

/// `POST ota/script/{slug}/upload/` with a multipart `file`.
pub async fn upload(
    app: &common::TestApp,
    token: &str,
    slug: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("update.trub");
    let response = app
        .client
        .post(app.url(&format!("ota/script/{slug}/upload/")))
        .header("Authorization", format!("jwt {token}"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Adds a release key to the org; returns its id.
pub async fn add_key(app: &common::TestApp, token: &str, org: &str, secret: &ReleaseSecret) -> i64 {
    let (status, body) = app
        .post(
            "ota/key/",
            token,
            json!({"org": org, "key": secret.public().key_id(), "label": "release"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

/// `PATCH {"released": true}`.
pub async fn release(app: &common::TestApp, token: &str, slug: &str) -> (StatusCode, Value) {
    app.patch(
        &format!("ota/script/{slug}/"),
        token,
        json!({"released": true}),
    )
    .await
}

/// A 400 whose body names `reason`, with a sentence for people.
pub fn assert_refused(answer: &(StatusCode, Value), reason: &str, what: &str) {
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{what}: {}", answer.1);
    assert_eq!(answer.1["reason"], reason, "{what}: {}", answer.1);
    assert!(
        answer.1["detail"].as_str().is_some_and(|d| d.len() > 10),
        "{what}: {}",
        answer.1
    );
}

/// A GET with no `Authorization` header, from a client that never had one.
pub async fn plain_get(url: &str) -> (StatusCode, Vec<u8>) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    (status, response.bytes().await.unwrap().to_vec())
}
