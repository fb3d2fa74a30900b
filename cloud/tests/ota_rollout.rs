//! Staged rollouts (ours), on both backends: six devices in waves of 34/67/100%, each wave
//! opening once the previous one confirmed; a failing wave halts the deployment and the next
//! wave never opens (neither `ota/device/` nor the gateway's feed offers it); resuming
//! continues with the same wave, its old failures forgiven; a device that does not come back
//! within `confirm_within` halts it too; halting and resuming by hand.

#![allow(clippy::unwrap_used)]

mod common;
mod ota_deploy_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::gateway::GatewaySecret;

use ota_deploy_setup::*;

fn number(device: &str) -> u64 {
    u64::from_str_radix(&device.replace('-', "")[3..], 16).unwrap()
}

/// A successful attempt on `device`, confirmed as its version streams would (by staff).
async fn confirmed(app: &common::TestApp, s: &Site, id: &Value, device: &str) {
    let tried = action(
        app,
        s,
        json!({"deployment": id, "device": device, "attempt_successful": true,
               "last_attempt_on": cloud::time::format(cloud::time::now_micros())}),
    )
    .await;
    let (status, body) = app
        .patch(
            &format!("ota/action/{}/", tried["id"]),
            &s.staff,
            json!({"device_confirmation": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn failed(app: &common::TestApp, s: &Site, id: &Value, device: &str) {
    action(
        app,
        s,
        json!({"deployment": id, "device": device, "attempt_successful": false,
               "last_attempt_on": cloud::time::format(cloud::time::now_micros())}),
    )
    .await;
}

/// What the deployment looks like now, and which of `devices` the device view and the feed
/// offer it to.
struct Seen {
    request: Value,
    viewed: Vec<String>,
    fed: Vec<u64>,
}

async fn seen(
    app: &common::TestApp,
    s: &Site,
    gw: &GatewaySecret,
    nonce: &mut u128,
    id: &Value,
    devices: &[String],
) -> Seen {
    let request = app.ok(&format!("ota/request/{id}/"), &s.dev).await;
    let mut viewed = Vec::new();
    for d in devices {
        if offered(app, &s.member, d)
            .await
            .contains(&id.as_i64().unwrap())
        {
            viewed.push(d.clone());
        }
    }
    *nonce += 1;
    let (status, _, body) = feed(app, gw, *nonce, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fed = feed_devices(&body, id).unwrap_or_default();
    Seen {
        request,
        viewed,
        fed,
    }
}

fn numbers(devices: &[String]) -> Vec<u64> {
    let mut out: Vec<u64> = devices.iter().map(|d| number(d)).collect();
    out.sort();
    out
}

backends!(waves_halt_and_resume, |app: common::TestApp| async move {
    let s = site(&app).await;
    let ids: Vec<i64> = (0x61..=0x66).collect();
    devices(&app, &s.org_id, &ids).await;
    let all: Vec<String> = ids.iter().map(|i| slug(*i)).collect();
    let z = script(&app, &s.org_id, 1, true).await;
    let gw = gateway(&app, &s, 7).await;
    let mut nonce = 0u128;
    let plan = json!({"waves": [34, 67, 100], "advance_at": 100, "max_failure": 40,
                      "confirm_within": "1 h"});
    let created = request(&app, &s, json!({"script": z, "org": ORG, "rollout": plan})).await;
    assert_eq!(created["rollout"], plan);
    let id = created["id"].clone();
    assert_eq!(release(&app, &s, &id).await["current_wave"], 1);
    let (w1, w2, w3) = (
        wave(&app, &s, &id, 1).await,
        wave(&app, &s, &id, 2).await,
        wave(&app, &s, &id, 3).await,
    );
    assert_eq!((w1.len(), w2.len(), w3.len()), (2, 2, 2));

    // Only wave 1 is offered.
    let now = seen(&app, &s, &gw, &mut nonce, &id, &all).await;
    assert_eq!(now.viewed, w1);
    assert_eq!(now.fed, numbers(&w1));

    // Wave 1 confirmed: wave 2 opens, and the confirmed devices are no longer fed.
    for d in &w1 {
        confirmed(&app, &s, &id, d).await;
    }
    let now = seen(&app, &s, &gw, &mut nonce, &id, &all).await;
    assert_eq!(now.request["current_wave"], 2);
    assert_eq!(now.viewed, all_in_order(&[w1.clone(), w2.clone()].concat()));
    assert_eq!(now.fed, numbers(&w2));

    // One of wave 2's two devices fails: 50% > 40%, the deployment halts in wave 2, and
    // nothing is offered any more; a confirmation meanwhile does not open wave 3.
    failed(&app, &s, &id, &w2[0]).await;
    let now = seen(&app, &s, &gw, &mut nonce, &id, &all).await;
    assert_eq!(now.request["state"], "halted");
    assert_eq!(now.request["current_wave"], 2);
    let reason = now.request["state_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("wave 2 of 3: 1 of 2 devices failed (50%)"),
        "{reason}"
    );
    assert!(now.viewed.is_empty());
    assert!(now.fed.is_empty());
    confirmed(&app, &s, &id, &w2[1]).await;
    let now = seen(&app, &s, &gw, &mut nonce, &id, &all).await;
    assert_eq!(now.request["state"], "halted");
    assert_eq!(now.request["current_wave"], 2);
    assert_eq!(
        now.request["progress"],
        json!({"targeted": 6, "confirmed": 3, "failed": 1, "waiting": 2})
    );

    // Resuming continues with wave 2, which had not completed; its failure no longer halts.
    let (status, _) = app
        .post(&format!("ota/request/{id}/resume/"), &s.owner, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, resumed) = app
        .post(&format!("ota/request/{id}/resume/"), &s.dev, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["state"], "running");
    assert_eq!(resumed["state_reason"], "");
    assert_eq!(resumed["current_wave"], 2);
    let now = seen(&app, &s, &gw, &mut nonce, &id, &all).await;
    assert_eq!(now.request["state"], "running");
    assert_eq!(now.fed, numbers(&w2[..1]));

    // Its failed device retried and confirmed: wave 3 opens.
    confirmed(&app, &s, &id, &w2[0]).await;
    let now = seen(&app, &s, &gw, &mut nonce, &id, &all).await;
    assert_eq!(now.request["current_wave"], 3);
    assert_eq!(now.viewed, all_in_order(&all));
    assert_eq!(now.fed, numbers(&w3));

    // A success never confirmed within the hour: the device did not come back, 1 of 2.
    let two_hours_ago = cloud::time::now_micros() - 2 * 3_600_000_000;
    action(
        &app,
        &s,
        json!({"deployment": id, "device": w3[0], "attempt_successful": true,
               "last_attempt_on": cloud::time::format(two_hours_ago)}),
    )
    .await;
    let now = seen(&app, &s, &gw, &mut nonce, &id, &all).await;
    assert_eq!(now.request["state"], "halted");
    let reason = now.request["state_reason"].as_str().unwrap();
    assert!(reason.starts_with("wave 3 of 3: 1 of 2"), "{reason}");
    assert!(now.fed.is_empty());

    // By hand: resume, then halt with a reason, then resume again.
    let (status, _) = app
        .post(&format!("ota/request/{id}/resume/"), &s.dev, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, halted) = app
        .post(
            &format!("ota/request/{id}/halt/"),
            &s.dev,
            json!({"reason": "field report of bricked units"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{halted}");
    assert_eq!(halted["state"], "halted");
    assert!(halted["state_reason"]
        .as_str()
        .unwrap()
        .ends_with("field report of bricked units"));
    let (status, _) = app
        .post(&format!("ota/request/{id}/halt/"), &s.dev, json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, resumed) = app
        .post(&format!("ota/request/{id}/resume/"), &s.dev, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resumed["current_wave"], 3);

    // Every target confirmed: complete.
    for d in &w3 {
        confirmed(&app, &s, &id, d).await;
    }
    let now = seen(&app, &s, &gw, &mut nonce, &id, &all).await;
    assert_eq!(now.request["state"], "completed");
    assert!(now.viewed.is_empty());
    assert!(feed_devices(&feed(&app, &gw, 999, None).await.2, &id).is_none());
});

fn all_in_order(all: &[String]) -> Vec<String> {
    let mut v = all.to_vec();
    v.sort();
    v
}
