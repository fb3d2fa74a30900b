//! OTA in the real cloud, as an admin does it over the API: a developer of the site's org
//! (the role with `can_manage_ota`), the org's release key, a script uploaded, signed with
//! that key and released, a fleet of the site's devices, and a deployment released to it.
//! Also the update script the PODs run: a new sensor graph (keeping the system streamer
//! that reports versions) and app tag 2050 v2.0.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::ota::{ReleaseSecret, ScriptTarget};
use sync_protocol::script::{
    NodeDescriptor, NodeInput, Processor, Record, ReportFormat, ReportType, StreamerDescriptor,
    StreamerTrigger, Tile, Trigger, UpdateScript,
};
use sync_protocol::stream::StreamSelector;
use sync_protocol::version::TagVersion;
use sync_protocol::DataStream;

use super::Site;
use crate::common;

pub const SCRIPT_NAME: &str = "water app";
pub const SCRIPT_VERSION: &str = "2.0.0";
/// The app the script installs: what 0x5C09 reports after the reset.
pub const NEW_APP: (u32, u8, u8) = (2050, 2, 0);

pub fn release_key() -> ReleaseSecret {
    ReleaseSecret::from_bytes(&[0x3C; 32])
}

/// The update: a new sensor graph (output 2 copies input 1; streamer 0 on all outputs, 1 on
/// all system outputs with streamer 0, as the factory graph has them), persisted, then the
/// app tag. `image` adds a controller firmware image of that many bytes first.
pub fn update_script(image: usize) -> Vec<u8> {
    let streamer = |selector, trigger| {
        let d = StreamerDescriptor::new(
            Tile::Controller,
            selector,
            trigger,
            ReportFormat::HashedList,
            ReportType::Telegram,
        )
        .expect("streamer");
        Record::add_streamer(d)
    };
    let input = DataStream::from_code(0x1001).expect("input 1");
    let output = DataStream::from_code(0x5002).expect("output 2");
    let node = NodeDescriptor::new(
        output,
        NodeInput {
            selector: StreamSelector::single(input),
            trigger: Trigger::Always,
        },
        None,
        Processor::CopyLatestA,
    )
    .expect("node");
    let mut records = Vec::new();
    if image > 0 {
        let bytes: Vec<u8> = (0..image).map(|i| (i * 7 % 251) as u8).collect();
        records.push(Record::reflash_controller(0, bytes).expect("image"));
    }
    records.extend([
        Record::reset_graph(),
        Record::add_node(node),
        streamer(StreamSelector::ALL_OUTPUTS, StreamerTrigger::Manual),
        streamer(
            StreamSelector::ALL_SYSTEM_OUTPUTS,
            StreamerTrigger::WithStreamer(0),
        ),
        Record::persist_graph(),
        Record::set_device_tag(
            None,
            Some(TagVersion::new(NEW_APP.0, NEW_APP.1, NEW_APP.2).expect("tag")),
        )
        .expect("tag record"),
    ]);
    UpdateScript::new(records).encode()
}

/// What the admin made.
pub struct Deployment {
    pub developer: String,
    pub script: String,
    pub fleet: String,
    pub id: i64,
}

/// A developer of the site's org, logged in.
pub async fn developer(app: &common::TestApp, s: &Site) -> String {
    let email = "developer@site.io";
    let user = app.create_user(email, false).await;
    let (status, body) = app
        .post(
            &format!("org/{}/register/", s.org),
            &s.admin,
            json!({"user": user.slug, "role": "d1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.login(email).await
}

/// Uploads, signs and releases `bytes`, makes a fleet of `devices` and releases a
/// deployment of the script to it (`rollout` as given, or none).
pub async fn deploy(
    app: &common::TestApp,
    s: &Site,
    bytes: &[u8],
    devices: &[u32],
    rollout: Option<Value>,
) -> Deployment {
    let dev = developer(app, s).await;
    let key = release_key();
    let (status, body) = app
        .post(
            "ota/key/",
            &dev,
            json!({"org": s.org, "key": key.public().key_id(), "label": "release"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, script) = app
        .post(
            "ota/script/",
            &dev,
            json!({"name": SCRIPT_NAME, "org": s.org, "version": SCRIPT_VERSION}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{script}");
    let slug = script["slug"].as_str().expect("slug").to_string();
    let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("water-app.trub");
    let response = app
        .client
        .post(app.url(&format!("ota/script/{slug}/upload/")))
        .header("Authorization", format!("jwt {dev}"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED);
    let target = ScriptTarget::new(&s.org, SCRIPT_NAME, SCRIPT_VERSION).expect("target");
    let signature = serde_json::to_value(key.sign(&target, bytes)).expect("json");
    let (status, body) = app
        .post(&format!("ota/script/{slug}/signature/"), &dev, signature)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .patch(
            &format!("ota/script/{slug}/"),
            &dev,
            json!({"released": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, fleet) = app
        .post("fleet/", &dev, json!({"name": "meters", "org": s.org}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fleet}");
    let fleet = fleet["slug"].as_str().expect("slug").to_string();
    for id in devices {
        let device = format!("d--0000-0000-0000-{id:04x}");
        let (status, body) = app
            .post(
                &format!("fleet/{fleet}/register/"),
                &dev,
                json!({"device": device}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut request = json!({
        "script": slug,
        "org": s.org,
        "fleet": fleet,
        // Written the way the original server wrote it; coretools gets `lteq`.
        "selection_criteria": ["app_tag:eq:2049", "app_version:lte:1.9"],
    });
    if let Some(rollout) = rollout {
        request["rollout"] = rollout;
    }
    let (status, created) = app.post("ota/request/", &dev, request).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("id");
    let (status, body) = app
        .post(&format!("ota/request/{id}/release/"), &dev, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Deployment {
        developer: dev,
        script: slug,
        fleet,
        id,
    }
}

impl Deployment {
    pub async fn request(&self, app: &common::TestApp) -> Value {
        app.ok(&format!("ota/request/{}/", self.id), &self.developer)
            .await
    }

    pub async fn actions(&self, app: &common::TestApp) -> Vec<Value> {
        let page = app
            .ok(&format!("ota/action/?request={}", self.id), &self.developer)
            .await;
        page["results"]
            .as_array()
            .or(page.as_array())
            .cloned()
            .unwrap_or_default()
    }
}

/// Waits until every device of `devices` has an app version record (the cloud learns them
/// from the POD's system reports), at most `within`.
pub async fn versions_known(
    app: &common::TestApp,
    token: &str,
    devices: &[u32],
    within: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut all = true;
        for id in devices {
            let device = format!("d--0000-0000-0000-{id:04x}");
            let versions = app.ok(&format!("device/{device}/versions/"), token).await;
            all &= versions
                .as_array()
                .is_some_and(|v| v.iter().any(|r| r["type"] == "app"));
        }
        if all || tokio::time::Instant::now() >= deadline {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
