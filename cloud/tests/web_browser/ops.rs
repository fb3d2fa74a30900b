//! The operations pages' world, made as it is made in use: a gateway registered with a code
//! its org's owner made; an OTA release made with the firmware tools' library calls
//! (`iotile-fw keys gen --release`, `script build`, `script sign`) and sent through the API
//! by a developer, with a fleet and a draft deployment; and a dead job.

use std::path::Path;

use cloud::store::jobs::{self, AfterFailure};
use firmware_tools::{release, script_build};
use serde_json::{json, Value};
use sync_protocol::gateway::{GatewaySecret, Registration};
use sync_protocol::ota::release::ScriptTarget;

use crate::api::Api;

const GATEWAY: &str = "Pump house";
const KEY_LABEL: &str = "Build server";
const SCRIPT: &str = "Meter app";
const VERSION: &str = "v1.2.0";
const FLEET: &str = "North field";
/// The update: the app tag and version the POD reports after it.
const DESCRIPTION: &str = "[[record]]\ntype = \"set_device_tag\"\napp = \"2050 1.2\"\n";

/// A gateway registered in `org`, as `iotile-gateway register --code` registers one.
pub async fn gateway(api: &Api, owner: &str, org: &str) -> Value {
    let made = api
        .send(owner, "POST", "gateway/code/", json!({"org": org}))
        .await;
    let code = made["code"].as_str().expect("a registration code");
    let secret = GatewaySecret::from_bytes(&random());
    let registration = Registration::new(&secret, code, Some(GATEWAY.into()));
    let body = serde_json::to_value(&registration).expect("a registration body");
    api.send("", "POST", "gateway/register/", body).await;
    json!({"name": GATEWAY, "key": secret.public().key_id()})
}

/// A release key, a script signed with it and released, a fleet holding `device`, and a
/// draft deployment of the script to the fleet; their files go to `dir`.
pub async fn ota(api: &Api, dev: &str, org: &str, device: &str, dir: &Path) -> Value {
    let key_file = dir.join("release.key");
    let public = release::generate(&key_file).expect("a release key");
    let key = json!({"org": org, "key": public.key_id(), "label": KEY_LABEL});
    let key = api.send(dev, "POST", "ota/key/", key).await;

    let description = dir.join("update.toml");
    std::fs::write(&description, DESCRIPTION).expect("writing the description");
    let file = dir.join("update.trub");
    let built = script_build::build_script(&description).expect("the script builds");
    std::fs::write(&file, built.encode()).expect("writing the script");
    let new = json!({"org": org, "name": SCRIPT, "version": VERSION});
    let script = api.send(dev, "POST", "ota/script/", new).await;
    let slug = script["slug"].as_str().expect("a script slug");
    let bytes = std::fs::read(&file).expect("reading the script");
    let upload = format!("ota/script/{slug}/upload/");
    api.upload(dev, &upload, "update.trub", bytes).await;
    let secret = release::read_secret(&key_file).expect("the release key");
    let target = ScriptTarget::new(org, SCRIPT, VERSION).expect("a script target");
    let signature = release::sign(&secret, &file, &target).expect("the script signs");
    let body = serde_json::to_value(&signature).expect("a signature body");
    api.send(dev, "POST", &format!("ota/script/{slug}/signature/"), body)
        .await;
    let released = json!({"released": true});
    api.send(dev, "PATCH", &format!("ota/script/{slug}/"), released)
        .await;

    let fleet = api
        .send(dev, "POST", "fleet/", json!({"org": org, "name": FLEET}))
        .await;
    let fleet = fleet["slug"].as_str().expect("a fleet slug");
    let member = json!({"device": device});
    api.send(dev, "POST", &format!("fleet/{fleet}/register/"), member)
        .await;
    let request = json!({"org": org, "script": slug, "fleet": fleet});
    let deployment = api.send(dev, "POST", "ota/request/", request).await;
    json!({
        "key": {"id": public.key_id(), "label": KEY_LABEL, "number": key["id"]},
        "script": {"slug": slug, "name": SCRIPT, "version": VERSION},
        "fleet": {"slug": fleet, "name": FLEET},
        "deployment": deployment["id"],
    })
}

/// Why the dead job gave up.
const REASON: &str = "the object store did not answer";

/// A report job that failed every attempt until the queue gave up on it, recorded as the
/// workers record failures, before the server starts (its workers would take the job).
/// Its report is gone, so a retry finishes at once.
pub async fn dead_job(database_url: &str) -> Value {
    let db = cloud::db::Db::open(database_url, None)
        .await
        .expect("the site's database");
    let payload = json!({"report": "00000000-0000-4000-8000-00000000dead"}).to_string();
    let key = "t--0000-0000-0000-000a--0000";
    // Queued ten minutes ago: its eight attempts and their backoffs take about five.
    let mut now = cloud::time::now_micros() - 600_000_000;
    let id = jobs::enqueue(&db.meta, jobs::PROCESS_REPORT, key, &payload, now)
        .await
        .expect("a job");
    loop {
        let job = jobs::claim(&db.meta, db.backend, "seed", now, 1_000_000)
            .await
            .expect("claiming the job")
            .expect("the job is due");
        match jobs::fail(&db.meta, &job, "seed", REASON, now).await {
            Ok(AfterFailure::Retry { run_after }) => now = run_after,
            Ok(AfterFailure::Dead) => break,
            other => panic!("recording a failure: {other:?}"),
        }
    }
    db.close().await;
    json!({"id": id, "reason": REASON})
}

fn random() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("randomness");
    bytes
}
