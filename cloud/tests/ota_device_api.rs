//! What agents read and write, on both backends: `ota/device/` (its exact shape, which
//! deployments it offers a device and which it does not), `ota/action/` (201, who may post,
//! filtered lists, staff-only changes; a successful attempt completes nothing) and
//! `ota/version/`.

#![allow(clippy::unwrap_used)]

mod common;
mod ota_deploy_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};

use ota_deploy_setup::*;

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// Creates and releases a request as the developer (or `token`); returns its id.
async fn released(app: &common::TestApp, s: &Site, body: Value) -> i64 {
    let created = request(app, s, body).await;
    release(app, s, &created["id"]).await["id"]
        .as_i64()
        .unwrap()
}

backends!(the_device_view, |app: common::TestApp| async move {
    let s = site(&app).await;
    devices(&app, &s.org_id, &[0x11, 0x12, 0x13]).await;
    version(&app, 0x11, "os", 2050, 1, 0).await;
    version(&app, 0x11, "app", 1027, 1, 0).await;
    version(&app, 0x11, "app", 1027, 1, 1).await;
    let z = script(&app, &s.org_id, 1, true).await;
    let fleet = fleet(&app, &s, "north", &[0x11]).await;
    let all = |extra: Value| {
        let mut body = json!({"script": z, "org": ORG, "selection_criteria": []});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };

    let of_fleet = released(&app, &s, all(json!({"fleet": fleet}))).await;
    let of_org = released(&app, &s, all(json!({}))).await;
    // A draft is offered to no one.
    request(&app, &s, all(json!({}))).await;
    let later = request(
        &app,
        &s,
        all(json!({"released_on": "2099-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(later["state"], "running");
    let completed = released(&app, &s, all(json!({}))).await;
    let (status, _) = app
        .post(
            &format!("ota/request/{completed}/complete/"),
            &s.dev,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let halted = released(&app, &s, all(json!({}))).await;
    let (status, body) = app
        .post(
            &format!("ota/request/{halted}/halt/"),
            &s.dev,
            json!({"reason": "bad batch"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "halted");
    assert!(body["state_reason"]
        .as_str()
        .unwrap()
        .ends_with("bad batch"));

    // A vendor org's request without a fleet reaches every device.
    let db = &app.state.db.meta;
    let vendor = cloud::store::orgs::create(db, "Maker", "maker", "", 1, 0)
        .await
        .unwrap();
    sqlx::query("UPDATE orgs SET is_vendor = 1 WHERE id = $1")
        .bind(&vendor)
        .execute(db)
        .await
        .unwrap();
    let vz = script(&app, &vendor, 9, true).await;
    let (status, v) = app
        .post(
            "ota/request/",
            &s.staff,
            json!({"script": vz, "org": "maker", "released_on": "2026-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let of_vendor = v["id"].as_i64().unwrap();
    // Customers read vendor requests, not the vendor's devices.
    let (status, _) = app
        .get(&format!("ota/request/{of_vendor}/"), &s.member)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .get(&format!("ota/request/{of_vendor}/devices/"), &s.member)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Oldest release first (the vendor's is dated 2026-01-01).
    assert_eq!(
        offered(&app, &s.member, &slug(0x11)).await,
        [of_vendor, of_fleet, of_org]
    );
    assert_eq!(
        offered(&app, &s.member, &slug(0x12)).await,
        [of_vendor, of_org]
    );

    // Actions by attempt time, whatever order they came in.
    for at in ["2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z"] {
        action(
            &app,
            &s,
            json!({"deployment": of_org, "device": slug(0x11), "attempt_successful": false,
                   "last_attempt_on": at}),
        )
        .await;
    }
    let view = app
        .ok(&format!("ota/device/{}/", slug(0x11)), &s.member)
        .await;
    assert_eq!(
        keys(&view),
        [
            "actions",
            "deployments",
            "sg",
            "slug",
            "template",
            "versions"
        ]
    );
    assert_eq!(view["slug"], slug(0x11));
    assert_eq!(view["sg"], "water-meter-v1-1-0");
    assert_eq!(view["template"], "pod-1gg1-v3-0-0");
    let stamps: Vec<&str> = view["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["last_attempt_on"].as_str().unwrap())
        .collect();
    assert_eq!(stamps, ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"]);
    assert_eq!(
        keys(&view["actions"][0]),
        [
            "attempt_successful",
            "deployment",
            "device_confirmation",
            "id",
            "last_attempt_on"
        ]
    );
    let deployment = &view["deployments"][1];
    assert_eq!(deployment["id"], of_fleet);
    assert_eq!(deployment["fleet"], fleet);
    assert_eq!(deployment["selection_criteria"], json!([]));
    assert_eq!(deployment["completed_on"], Value::Null);
    // The latest version of each type.
    let versions = view["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["type"], "app");
    assert_eq!(versions[0]["version"], "v1.1");
    assert_eq!(versions[0]["tag"], 1027);
    assert_eq!(
        keys(&versions[0]),
        [
            "created_on",
            "device",
            "streamer_local_id",
            "tag",
            "type",
            "updated_ts",
            "version"
        ]
    );

    // Only the full slug form; unknown 404; inactive or foreign 403.
    let (status, _) = app.get("ota/device/d--0011/", &s.member).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get("ota/device/d--0000-0000-0000-0999/", &s.member)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&format!("ota/device/{}/", slug(0x11)), &s.outsider)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    sqlx::query("UPDATE devices SET active = 0 WHERE id = $1")
        .bind(0x13_i64)
        .execute(db)
        .await
        .unwrap();
    let (status, _) = app
        .get(&format!("ota/device/{}/", slug(0x13)), &s.member)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Version records.
    let listed = app
        .ok(&format!("ota/version/?device={}", slug(0x11)), &s.member)
        .await;
    assert_eq!(listed["count"], 3);
    let latest = app
        .ok(
            &format!("ota/version/?device={}&type=app&latest=1", slug(0x11)),
            &s.member,
        )
        .await;
    assert_eq!(latest["count"], 1);
    assert_eq!(latest["results"][0]["version"], "v1.1");
    let foreign = app
        .ok(&format!("ota/version/?device={}", slug(0x11)), &s.outsider)
        .await;
    assert_eq!(foreign["count"], 0);
});

backends!(actions, |app: common::TestApp| async move {
    let s = site(&app).await;
    devices(&app, &s.org_id, &[0x11]).await;
    devices(&app, &s.other_org_id, &[0x21]).await;
    let z = script(&app, &s.org_id, 1, true).await;
    let id = released(
        &app,
        &s,
        json!({"script": z, "org": ORG, "selection_criteria": []}),
    )
    .await;
    let body = |device: i64| {
        json!({"deployment": id, "device": slug(device), "attempt_successful": true,
               "last_attempt_on": "2026-02-01T10:00:00Z", "log": "ran 12 records"})
    };

    let created = action(&app, &s, body(0x11)).await;
    assert_eq!(
        keys(&created),
        [
            "attempt_successful",
            "created_on",
            "deployment",
            "device",
            "device_confirmation",
            "id",
            "last_attempt_on",
            "log"
        ]
    );
    assert_eq!(created["deployment"], id);
    assert_eq!(created["device"], slug(0x11));
    assert_eq!(created["attempt_successful"], true);
    assert_eq!(created["device_confirmation"], false);
    assert_eq!(created["last_attempt_on"], "2026-02-01T10:00:00Z");
    assert_eq!(created["log"], "ran 12 records");
    // A successful attempt completes nothing by itself.
    let request = app.ok(&format!("ota/request/{id}/"), &s.dev).await;
    assert_eq!(request["state"], "running");
    assert_eq!(request["completed_on"], Value::Null);
    assert_eq!(
        request["progress"],
        json!({"targeted": 1, "confirmed": 0, "failed": 0, "waiting": 1})
    );

    // Any member may report; outsiders and foreign devices are refused.
    let (status, _) = app.post("ota/action/", &s.member, body(0x11)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app.post("ota/action/", &s.outsider, body(0x11)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.post("ota/action/", &s.dev, body(0x21)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut unknown = body(0x11);
    unknown["deployment"] = json!(9999);
    let (status, answer) = app.post("ota/action/", &s.dev, unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["deployment"].is_array());
    let mut bad_time = body(0x11);
    bad_time["last_attempt_on"] = json!("yesterday");
    let (status, _) = app.post("ota/action/", &s.dev, bad_time).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Lists need a filter, and hold only what the caller may see.
    let count = |path: String, token: String| {
        let app = &app;
        async move { app.ok(&path, &token).await["count"].as_i64().unwrap() }
    };
    assert_eq!(count("ota/action/".into(), s.dev.clone()).await, 0);
    assert_eq!(
        count(format!("ota/action/?device={}", slug(0x11)), s.dev.clone()).await,
        2
    );
    assert_eq!(
        count(format!("ota/action/?request={id}"), s.member.clone()).await,
        2
    );
    assert_eq!(
        count(format!("ota/action/?request={id}"), s.outsider.clone()).await,
        0
    );
    assert_eq!(
        count("ota/action/?request=abc".into(), s.dev.clone()).await,
        0
    );
    assert_eq!(
        count("ota/action/?staff=1".into(), s.staff.clone()).await,
        2
    );

    // Changes are for staff only.
    let one = created["id"].clone();
    let (status, answer) = app
        .patch(&format!("ota/action/{one}/"), &s.dev, json!({"log": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer, json!({"error": "Restricted Access. Contact Arch"}));
    let (status, _) = app.delete(&format!("ota/action/{one}/"), &s.dev).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, changed) = app
        .patch(
            &format!("ota/action/{one}/"),
            &s.staff,
            json!({"log": "checked"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["log"], "checked");
    assert_eq!(
        app.ok(&format!("ota/action/{one}/"), &s.member).await["log"],
        "checked"
    );
    let (status, _) = app.get(&format!("ota/action/{one}/"), &s.outsider).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete(&format!("ota/action/{one}/"), &s.staff).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        count(format!("ota/action/?request={id}"), s.dev.clone()).await,
        1
    );
});
