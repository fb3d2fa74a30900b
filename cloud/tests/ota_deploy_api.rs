//! Deployment requests over the API, on both backends: criteria read in any spelling and
//! served as coretools reads them, the device preview (app rules against app records),
//! release freezing the targets, drafts against released requests, the list's filters, and
//! who may do what.

#![allow(clippy::unwrap_used)]

mod common;
mod ota_deploy_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};

use ota_deploy_setup::*;

fn slugs(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["slug"].as_str().unwrap().to_string())
        .collect()
}

fn ids(list: &Value) -> Vec<i64> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

/// A deployment date: whole seconds, `Z`.
fn whole_seconds(v: &Value) -> bool {
    let s = v.as_str().unwrap();
    s.len() == 20 && s.ends_with('Z') && !s.contains('.')
}

backends!(
    criteria_preview_and_release,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        devices(&app, &s.org_id, &[0x11, 0x12, 0x13]).await;
        devices(&app, &s.other_org_id, &[0x21]).await;
        version(&app, 0x11, "app", 1027, 1, 1).await;
        version(&app, 0x11, "os", 2050, 1, 0).await;
        version(&app, 0x12, "app", 1027, 1, 0).await;
        version(&app, 0x21, "app", 1027, 1, 1).await;
        let released = script(&app, &s.org_id, 1, true).await;

        // Every spelling in, the coretools form out.
        let created = request(
            &app,
            &s,
            json!({"script": released, "org": ORG,
                   "selection_criteria": ["app_tag:==:1027", "app_version:gte:1.1"]}),
        )
        .await;
        let id = created["id"].clone();
        let expected = json!(["app_tag:eq:1027", "app_version:gteq:1.1.0"]);
        assert_eq!(created["selection_criteria"], expected);
        assert_eq!(created["script"], released);
        assert_eq!(created["org"], ORG);
        assert_eq!(created["fleet"], Value::Null);
        assert_eq!(created["released_on"], Value::Null);
        assert_eq!(created["completed_on"], Value::Null);
        assert_eq!(created["state"], "draft");
        assert_eq!(created["rollout"], Value::Null);
        assert_eq!(created["current_wave"], 0);
        assert_eq!(
            created["progress"],
            json!({"targeted": 0, "confirmed": 0, "failed": 0, "waiting": 0})
        );
        let fetched = app.ok(&format!("ota/request/{id}/"), &s.member).await;
        assert_eq!(fetched["selection_criteria"], expected);

        // The preview compares app rules with app records: only 0x11 has app v1.1, 0x13 has
        // no record at all, and the other org's device is not a candidate.
        let preview = app.ok(&format!("ota/request/{id}/devices/"), &s.dev).await;
        assert_eq!(preview["count"], 1);
        let entry = &preview["results"][0];
        assert_eq!(entry["id"], 0x11);
        assert_eq!(entry["slug"], slug(0x11));
        assert_eq!(entry["sg"], "water-meter-v1-1-0");
        assert_eq!(entry["template"], "pod-1gg1-v3-0-0");
        assert_eq!(entry["wave"], Value::Null);
        let kinds: Vec<&str> = entry["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["app", "os"]);
        assert_eq!(entry["versions"][0]["version"], "v1.1");
        assert_eq!(entry["versions"][0]["device"], slug(0x11));

        // A deployment no device meets would update nothing: its release is refused, with
        // the reason, and it stays a draft. (0x13's versions are unknown.)
        let lonely = fleet(&app, &s, "unknown versions", &[0x13]).await;
        let nobody = request(
            &app,
            &s,
            json!({"script": released, "org": ORG, "fleet": lonely,
                   "selection_criteria": ["app_tag:eq:1027"]}),
        )
        .await;
        let (status, refused) = app
            .post(
                &format!("ota/request/{}/release/", nobody["id"]),
                &s.dev,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused["detail"]
            .as_str()
            .unwrap()
            .starts_with("No device meets"));
        let still = app
            .ok(&format!("ota/request/{}/", nobody["id"]), &s.dev)
            .await;
        assert_eq!(still["state"], "draft", "{still}");
        assert_eq!(still["released_on"], Value::Null);

        // Drafts change; without criteria every active device of the org is a candidate.
        let (status, changed) = app
            .patch(
                &format!("ota/request/{id}/"),
                &s.dev,
                json!({"selection_criteria": []}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        let preview = app.ok(&format!("ota/request/{id}/devices/"), &s.dev).await;
        assert_eq!(slugs(&preview), [slug(0x11), slug(0x12), slug(0x13)]);
        let (status, changed) = app
            .patch(
                &format!("ota/request/{id}/"),
                &s.dev,
                json!({"selection_criteria": ["app_version:>=:1.1"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(
            changed["selection_criteria"],
            json!(["app_version:gteq:1.1.0"])
        );

        // Only released, open requests are listed, and only with a filter.
        let listed = |path: &'static str, token: String| {
            let app = &app;
            async move { ids(&app.ok(path, &token).await) }
        };
        assert!(listed("ota/request/", s.dev.clone()).await.is_empty());
        assert!(listed("ota/request/?org=acme", s.dev.clone())
            .await
            .is_empty());
        assert_eq!(
            listed("ota/request/?org=acme&all=1", s.dev.clone()).await,
            [id.as_i64().unwrap(), nobody["id"].as_i64().unwrap()]
        );

        // Release: targets are frozen from the devices that match now.
        let running = release(&app, &s, &id).await;
        assert_eq!(running["state"], "running");
        assert_eq!(running["current_wave"], 1);
        assert!(whole_seconds(&running["released_on"]), "{running}");
        assert_eq!(running["progress"]["targeted"], 1);
        assert_eq!(running["progress"]["waiting"], 1);
        version(&app, 0x12, "app", 1027, 1, 1).await;
        let targets = app.ok(&format!("ota/request/{id}/devices/"), &s.dev).await;
        assert_eq!(slugs(&targets), [slug(0x11)]);
        assert_eq!(targets["results"][0]["wave"], 1);
        for (body, field) in [
            (json!({"selection_criteria": []}), "selection_criteria"),
            (json!({"fleet": null}), "fleet"),
            (json!({"released_on": null}), "released_on"),
        ] {
            let (status, answer) = app.patch(&format!("ota/request/{id}/"), &s.dev, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert!(answer[field].is_array(), "{answer}");
        }
        let (status, _) = app
            .post(&format!("ota/request/{id}/release/"), &s.dev, json!({}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let me = id.as_i64().unwrap();
        assert_eq!(
            listed("ota/request/?org=acme", s.member.clone()).await,
            [me]
        );
        assert_eq!(
            listed("ota/request/?scope=global", s.member.clone()).await,
            [me]
        );
        assert_eq!(
            listed("ota/request/?scope=acme", s.member.clone()).await,
            [me]
        );
        assert!(
            listed("ota/request/?fleet=g--0000-0000-0009", s.dev.clone())
                .await
                .is_empty()
        );
        assert!(listed("ota/request/?org=acme", s.outsider.clone())
            .await
            .is_empty());
        let (status, _) = app.get(&format!("ota/request/{id}/"), &s.outsider).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Completing by hand: no longer listed, its date without a fraction.
        let (status, done) = app
            .post(&format!("ota/request/{id}/complete/"), &s.dev, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["state"], "completed");
        assert!(whole_seconds(&done["completed_on"]), "{done}");
        assert!(done["state_reason"]
            .as_str()
            .unwrap()
            .starts_with("completed by hand"));
        assert!(listed("ota/request/?org=acme", s.dev.clone())
            .await
            .is_empty());
    }
);

backends!(
    bad_input_and_permissions,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        devices(&app, &s.org_id, &[0x11]).await;
        let released = script(&app, &s.org_id, 1, true).await;
        let unreleased = script(&app, &s.org_id, 2, false).await;
        let foreign = script(&app, &s.other_org_id, 3, true).await;
        let body = |script: &str| json!({"script": script, "org": ORG, "selection_criteria": []});

        // Only a member with can_manage_ota (the developer role, or staff) writes.
        for token in [&s.owner, &s.member, &s.outsider] {
            let (status, answer) = app.post("ota/request/", token, body(&released)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        }
        let (status, _) = app.post("ota/request/", &s.staff, body(&released)).await;
        assert_eq!(status, StatusCode::CREATED);

        // Bad input names the field, and the bad criterion.
        let mut bad = body(&released);
        bad["selection_criteria"] = json!(["app_tag:eq:1027", "app_version:~:1.0"]);
        let (status, answer) = app.post("ota/request/", &s.dev, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["selection_criteria"][0]
            .as_str()
            .unwrap()
            .contains("app_version:~:1.0"));
        let (status, answer) = app.post("ota/request/", &s.dev, body(&foreign)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["script"].is_array(), "{answer}");
        let (status, answer) = app.post("ota/request/", &s.dev, body("z--0000-0099")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["script"].is_array(), "{answer}");
        let mut bad = body(&released);
        bad["rollout"] = json!({"waves": [50, 10]});
        let (status, answer) = app.post("ota/request/", &s.dev, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["rollout"].is_array(), "{answer}");
        let mut bad = body(&released);
        bad["fleet"] = json!("g--0000-0000-0042");
        let (status, answer) = app.post("ota/request/", &s.dev, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["fleet"].is_array(), "{answer}");

        // An unreleased script cannot be released to devices, on create or later.
        let mut early = body(&unreleased);
        early["released_on"] = json!("2026-01-01T00:00:00Z");
        let (status, answer) = app.post("ota/request/", &s.dev, early).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["released_on"][0]
            .as_str()
            .unwrap()
            .contains("not released"));
        let draft = request(&app, &s, body(&unreleased)).await;
        let id = &draft["id"];
        let (status, answer) = app
            .post(&format!("ota/request/{id}/release/"), &s.dev, json!({}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["detail"].as_str().unwrap().contains("not released"));
        let (status, _) = app
            .patch(
                &format!("ota/request/{id}/"),
                &s.dev,
                json!({"released_on": "2026-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // Released on create, in one step; a staged plan comes back normalised.
        let mut now = body(&released);
        now["released_on"] = json!("2026-01-01T00:00:00.123456Z");
        now["rollout"] = json!({"waves": [50, 100], "confirm_within": "120 min"});
        let (status, running) = app.post("ota/request/", &s.dev, now).await;
        assert_eq!(status, StatusCode::CREATED, "{running}");
        assert_eq!(running["state"], "running");
        assert_eq!(running["released_on"], "2026-01-01T00:00:00Z");
        assert_eq!(
            running["rollout"],
            json!({"waves": [50, 100], "advance_at": 100, "max_failure": 0, "confirm_within": "2 h"})
        );
        let running = &running["id"];

        // Other writes: members and owners are refused, outsiders do not see it.
        for (token, want) in [
            (&s.owner, StatusCode::FORBIDDEN),
            (&s.member, StatusCode::FORBIDDEN),
            (&s.outsider, StatusCode::NOT_FOUND),
        ] {
            for path in ["complete", "halt", "resume"] {
                let (status, _) = app
                    .post(&format!("ota/request/{running}/{path}/"), token, json!({}))
                    .await;
                assert_eq!(status, want, "{path}");
            }
            let (status, _) = app.delete(&format!("ota/request/{id}/"), token).await;
            assert_eq!(status, want);
            let (status, _) = app
                .patch(
                    &format!("ota/request/{id}/"),
                    token,
                    json!({"selection_criteria": []}),
                )
                .await;
            assert_eq!(status, want);
        }
        let (status, _) = app
            .get(&format!("ota/request/{id}/devices/"), &s.outsider)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app.delete(&format!("ota/request/{id}/"), &s.dev).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("ota/request/{id}/"), &s.dev).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for path in ["abc", "-1", "99999999999999999999"] {
            let (status, _) = app.get(&format!("ota/request/{path}/"), &s.dev).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }
);
