//! Shared setup of the OTA deployment tests: an org (`acme`) with a project, people in each
//! role, devices with recorded versions, device scripts, fleets, and a registered gateway
//! that signs its requests.
//!
//! Scripts are inserted straight into `device_scripts` (and their bytes into the object
//! store) by [`script`], so these tests do not depend on the script upload API; only that
//! function would change to use it.

#![allow(dead_code, clippy::unwrap_used)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sync_protocol::gateway::{sign, GatewaySecret, Registration};

use crate::common;
use cloud::store::orgs;

pub const ORG: &str = "acme";
pub const PROJECT: &str = "7f3c9d52-0000-4000-8000-000000000a11";

/// The people of a site and their org.
pub struct Site {
    pub staff: String,
    /// A developer (d1): the role with `can_manage_ota`.
    pub dev: String,
    /// The owner (a0): manages the org, not OTA.
    pub owner: String,
    pub member: String,
    /// The owner of another org (`other`).
    pub outsider: String,
    pub org_id: String,
    pub other_org_id: String,
}

/// Org `acme` (project gid 0xa11) with an owner, a developer and a member, and org `other`.
pub async fn site(app: &common::TestApp) -> Site {
    let db = &app.state.db.meta;
    let now = cloud::time::now_micros();
    let staff = app.staff("staff@arch.io").await;
    let owner = app.create_user("owner@acme.io", false).await;
    let org_id = orgs::create(db, "Acme", ORG, "", owner.id, now)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO projects (id, gid, name, org_id, created_on, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(PROJECT)
    .bind(0xa11_i64)
    .bind("Field")
    .bind(&org_id)
    .bind(now)
    .bind(owner.id)
    .execute(db)
    .await
    .unwrap();
    let mut tokens = Vec::new();
    for (email, role) in [("dev@acme.io", "d1"), ("member@acme.io", "m1")] {
        let user = app.create_user(email, false).await;
        orgs::add_member(db, user.id, &org_id, role, now)
            .await
            .unwrap();
        tokens.push(app.login(email).await);
    }
    let eve = app.create_user("eve@other.io", false).await;
    let other_org_id = orgs::create(db, "Other", "other", "", eve.id, now)
        .await
        .unwrap();
    let member = tokens.pop().unwrap();
    let dev = tokens.pop().unwrap();
    Site {
        staff,
        dev,
        owner: app.login("owner@acme.io").await,
        member,
        outsider: app.login("eve@other.io").await,
        org_id,
        other_org_id,
    }
}

pub fn slug(id: i64) -> String {
    format!("d--0000-0000-0000-{id:04x}")
}

/// Active devices claimed into `org_id` (the acme project when it is acme's).
pub async fn devices(app: &common::TestApp, org_id: &str, ids: &[i64]) {
    let db = &app.state.db.meta;
    let acme: String = sqlx::query_scalar("SELECT org_id FROM projects WHERE id = $1")
        .bind(PROJECT)
        .fetch_one(db)
        .await
        .unwrap();
    let project = (acme == org_id).then_some(PROJECT);
    for id in ids {
        sqlx::query(
            "INSERT INTO devices (id, slug, active, org_id, project_id, sg, template, created_on) \
             VALUES ($1, $2, 1, $3, $4, 'water-meter-v1-1-0', 'pod-1gg1-v3-0-0', $5)",
        )
        .bind(*id)
        .bind(slug(*id))
        .bind(org_id)
        .bind(project)
        .bind(cloud::time::now_micros())
        .execute(db)
        .await
        .unwrap();
    }
}

/// Records a version of a device as its version streams would (`os` or `app`).
pub async fn version(
    app: &common::TestApp,
    device: i64,
    kind: &str,
    tag: i64,
    major: i64,
    minor: i64,
) {
    sqlx::query(
        "INSERT INTO device_versions (device_id, type, tag, major, minor, streamer_local_id, \
         updated_ts, created_on) VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(device)
    .bind(kind)
    .bind(tag)
    .bind(major)
    .bind(minor)
    .bind(cloud::time::now_micros())
    .execute(&app.state.db.meta)
    .await
    .unwrap();
}

/// The bytes of the test script `id`.
pub fn script_bytes(id: i64) -> Vec<u8> {
    format!("update script {id}").into_bytes()
}

/// A device script of `org_id` with id `id` (file in the object store); returns its slug.
pub async fn script(app: &common::TestApp, org_id: &str, id: i64, released: bool) -> String {
    let slug = format!("z--0000-{id:04x}");
    let bytes = script_bytes(id);
    let key = format!("test/scripts/{slug}.trub");
    app.state
        .blobs
        .put(&key, bytes::Bytes::from(bytes.clone()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO device_scripts (id, slug, org_id, name, major, minor, patch, released, \
         file_key, file_name, file_size, file_sha256, created_on) \
         VALUES ($1, $2, $3, $4, 1, 2, 0, $5, $6, 'update.trub', $7, $8, $9)",
    )
    .bind(id)
    .bind(&slug)
    .bind(org_id)
    .bind(format!("script {id}"))
    .bind(released as i64)
    .bind(&key)
    .bind(i64::try_from(bytes.len()).unwrap())
    .bind(hex::encode(Sha256::digest(&bytes)))
    .bind(cloud::time::now_micros())
    .execute(&app.state.db.meta)
    .await
    .unwrap();
    slug
}

/// A fleet of acme holding `ids`, made over the API by the developer; returns its slug.
pub async fn fleet(app: &common::TestApp, s: &Site, name: &str, ids: &[i64]) -> String {
    let (status, fleet) = app
        .post("fleet/", &s.dev, json!({"name": name, "org": ORG}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fleet}");
    let fleet = fleet["slug"].as_str().unwrap().to_string();
    for id in ids {
        let (status, body) = app
            .post(
                &format!("fleet/{fleet}/register/"),
                &s.dev,
                json!({"device": slug(*id)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    fleet
}

/// Creates a request as the developer; returns the answer, which must be 201.
pub async fn request(app: &common::TestApp, s: &Site, body: Value) -> Value {
    let (status, created) = app.post("ota/request/", &s.dev, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// Releases a request now as the developer; returns it.
pub async fn release(app: &common::TestApp, s: &Site, id: &Value) -> Value {
    let (status, body) = app
        .post(&format!("ota/request/{id}/release/"), &s.dev, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Posts an action as the developer; returns it.
pub async fn action(app: &common::TestApp, s: &Site, body: Value) -> Value {
    let (status, created) = app.post("ota/action/", &s.dev, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// The slugs of the request's targets in wave `wave`.
pub async fn wave(app: &common::TestApp, s: &Site, id: &Value, wave: i64) -> Vec<String> {
    let devices = app.ok(&format!("ota/request/{id}/devices/"), &s.dev).await;
    devices["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["wave"] == wave)
        .map(|d| d["slug"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of the deployments `ota/device/` offers a device.
pub async fn offered(app: &common::TestApp, token: &str, device: &str) -> Vec<i64> {
    let view = app.ok(&format!("ota/device/{device}/"), token).await;
    view["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

/// A gateway registered to acme by its owner.
pub async fn gateway(app: &common::TestApp, s: &Site, seed: u8) -> GatewaySecret {
    let (status, code) = app
        .post("gateway/code/", &s.owner, json!({"org": ORG}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let secret = GatewaySecret::from_bytes(&[seed; 32]);
    let reg = Registration::new(&secret, code["code"].as_str().unwrap(), None);
    let (status, body) = app
        .call(
            Method::POST,
            "gateway/register/",
            None,
            Some(serde_json::to_value(&reg).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    secret
}

/// A signed gateway request with a fresh nonce (`nonce`), and extra headers.
pub fn signed(
    app: &common::TestApp,
    secret: &GatewaySecret,
    method: Method,
    path: &str,
    body: &[u8],
    nonce: u128,
) -> reqwest::RequestBuilder {
    let full = format!("/api/v1/{path}");
    let now = u64::try_from(cloud::time::now_micros() / 1_000_000).unwrap();
    let headers = sign(
        secret,
        method.as_str(),
        &full,
        body,
        now,
        nonce.to_be_bytes(),
    );
    let mut request = app
        .client
        .request(method, app.url(path))
        .body(body.to_vec());
    for (name, value) in headers.to_pairs() {
        request = request.header(name, value);
    }
    request
}

/// The feed as the gateway signs for it: status, ETag and body.
pub async fn feed(
    app: &common::TestApp,
    secret: &GatewaySecret,
    nonce: u128,
    if_none_match: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = signed(app, secret, Method::GET, "gateway/ota/", b"", nonce);
    if let Some(tag) = if_none_match {
        request = request.header("If-None-Match", tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, etag, body)
}

/// The device ids the feed offers for deployment `id`, empty when it is not listed.
pub fn feed_devices(feed: &Value, id: &Value) -> Option<Vec<u64>> {
    feed["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == *id)
        .map(|d| {
            d["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect()
        })
}
