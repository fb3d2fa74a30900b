//! Configuration attributes (spec 3.14) on both backends: names only staff define; values
//! set on a user, an org, a project and a device, resolved by priority with the winning
//! level shown; replace-on-write; who may read and write each level; a change logged as a
//! system note.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// An org with a project holding one claimed device, its owner, and a staff account.
struct Setup {
    staff: String,
    owner: String,
    owner_slug: String,
    org: String,
    project_slug: String,
    device: String,
}

async fn setup(app: &common::TestApp) -> Setup {
    let staff = app.staff("staff@arch.io").await;
    let owner_user = app.create_user("owner@a.io", false).await;
    let owner = app.login("owner@a.io").await;
    let (status, org) = app.post("org/", &owner, json!({"name": "Water Co"})).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org = org["slug"].as_str().unwrap().to_string();
    let (status, project) = app
        .post("project/", &owner, json!({"name": "Meters", "org": org}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let body = json!({"id": 0x2001, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
    let (status, created) = app.post("device/?staff=1", &staff, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let device = "d--0000-0000-0000-2001".to_string();
    let (status, claimed) = app
        .post(
            "device/claim/",
            &owner,
            json!({"device": device, "project": project["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
    Setup {
        staff,
        owner,
        owner_slug: owner_user.slug,
        org,
        project_slug: claimed["project"].as_str().unwrap().to_string(),
        device,
    }
}

async fn set(app: &common::TestApp, token: &str, target: &str, name: &str, data: Value) -> Value {
    let (status, body) = app
        .post(
            "config/attr/",
            token,
            json!({"target": target, "name": name, "data": data}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{target} {name}: {body}");
    body
}

backends!(
    names_are_defined_by_staff_and_found_by_text_and_tag,
    |app: common::TestApp| async move {
        let s = setup(&app).await;
        let (status, _) = app
            .post("config/name/", &s.owner, json!({"name": ":trip:limits"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "only staff define names");
        for (name, tags) in [
            (":trip:limits", json!(["trip", "shock"])),
            (":trip:report", json!(["trip"])),
            (":display:units", json!([])),
        ] {
            let (status, body) = app
                .post(
                    "config/name/",
                    &s.staff,
                    json!({"name": name, "description": "d", "tags": tags}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body["name"], name);
            assert_eq!(body["tags"], tags);
        }
        let (status, body) = app
            .post("config/name/", &s.staff, json!({"name": ":trip:limits"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a duplicate: {body}");
        for bad in ["trip", ":trip limits", ":", ""] {
            let (status, body) = app
                .post("config/name/", &s.staff, json!({"name": bad}))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
            assert!(body["name"].is_array(), "{body}");
        }
        // Everyone signed in reads them.
        let all = app.ok("config/name/", &s.owner).await;
        assert_eq!(all["count"], 3);
        let names: Vec<&str> = all["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [":display:units", ":trip:limits", ":trip:report"]);
        assert_eq!(
            app.ok("config/name/?name_q=TRIP", &s.owner).await["count"],
            2
        );
        assert_eq!(app.ok("config/name/?tag=trip", &s.owner).await["count"], 2);
        assert_eq!(app.ok("config/name/?tag=shock", &s.owner).await["count"], 1);
        assert_eq!(app.ok("config/name/?tag=sho", &s.owner).await["count"], 0);
        // A LIKE wildcard is only a character.
        assert_eq!(
            app.ok("config/name/?name_q=%25", &s.owner).await["count"],
            0
        );

        let id = all["results"][1]["id"].as_i64().unwrap();
        let (status, _) = app
            .patch(
                &format!("config/name/{id}/"),
                &s.owner,
                json!({"description": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = app
            .patch(
                &format!("config/name/{id}/"),
                &s.staff,
                json!({"description": "Shock and temperature limits", "tags": ["trip"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["description"], "Shock and temperature limits");
        assert_eq!(body["tags"], json!(["trip"]));
        let (status, _) = app
            .patch(
                &format!("config/name/{id}/"),
                &s.staff,
                json!({"name": ":other"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a name does not change");
    }
);

backends!(
    a_device_takes_the_nearest_level_that_sets_the_name,
    |app: common::TestApp| async move {
        let s = setup(&app).await;
        let (status, _) = app
            .post("config/name/", &s.staff, json!({"name": ":trip:limits"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let search = format!("config/attr/search/?target={}&name=:trip:limits", s.device);
        let (status, _) = app.get(&search, &s.owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "set nowhere yet");

        let levels = [
            (format!("@{}", s.owner_slug), "user", json!({"shock_g": 8})),
            (format!("^{}", s.org), "org", json!({"shock_g": 6})),
            (s.project_slug.clone(), "project", json!({"shock_g": 5})),
            (s.device.clone(), "device", json!({"shock_g": 4})),
        ];
        let mut ids = Vec::new();
        for (target, level, data) in &levels {
            let set = set(&app, &s.owner, target, ":trip:limits", data.clone()).await;
            assert_eq!(set["target"], target.as_str());
            ids.push(set["id"].as_i64().unwrap());
            let found = app.ok(&search, &s.owner).await;
            assert_eq!(
                (&found["level"], &found["data"]),
                (&json!(level), data),
                "{found}"
            );
        }
        // Taking the levels away from the bottom, each next level up wins.
        for (i, (target, _, _)) in levels.iter().enumerate().rev() {
            let found = app.ok(&search, &s.owner).await;
            assert_eq!(found["target"], target.as_str(), "{found}");
            let (status, _) = app
                .delete(&format!("config/attr/{}/", ids[i]), &s.owner)
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        let (status, _) = app.get(&search, &s.owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A search from the project starts there, and from the org skips the device.
        set(&app, &s.owner, &s.device, ":trip:limits", json!(1)).await;
        set(
            &app,
            &s.owner,
            &format!("^{}", s.org),
            ":trip:limits",
            json!(2),
        )
        .await;
        let from_project = app
            .ok(
                &format!(
                    "config/attr/search/?target={}&name=:trip:limits",
                    s.project_slug
                ),
                &s.owner,
            )
            .await;
        assert_eq!(
            (&from_project["level"], &from_project["data"]),
            (&json!("org"), &json!(2))
        );

        let (status, body) = app
            .get("config/attr/search/?name=:trip:limits", &s.owner)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "Missing target and/or name");
    }
);

backends!(
    writing_again_replaces_and_every_json_value_round_trips,
    |app: common::TestApp| async move {
        let s = setup(&app).await;
        let (status, _) = app
            .post("config/name/", &s.staff, json!({"name": ":display:units"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let first = set(&app, &s.owner, &s.device, ":display:units", json!("m3")).await;
        for data in [
            json!(null),
            json!([1, "two", {"three": 3.5}]),
            json!({"unit": "ℓ", "scale": 1e-3, "nested": {"ok": true}}),
            json!(42),
        ] {
            let again = set(&app, &s.owner, &s.device, ":display:units", data.clone()).await;
            assert_eq!(again["id"], first["id"], "the same attribute");
            assert_eq!(again["data"], data);
            let read = app
                .ok(&format!("config/attr/{}/", first["id"]), &s.owner)
                .await;
            assert_eq!(read["data"], data);
        }
        let listed = app
            .ok(&format!("config/attr/?target={}", s.device), &s.owner)
            .await;
        assert_eq!(listed["count"], 1);
        assert_eq!(
            app.ok(
                &format!("config/attr/?target={}&name_q=nope", s.device),
                &s.owner
            )
            .await["count"],
            0
        );

        // Bad input is refused, clearly, and changes nothing.
        let (status, body) = app
            .post(
                "config/attr/",
                &s.owner,
                json!({"target": s.device, "name": ":never:defined", "data": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!(["Most use a valid Configuration Attribute Name"])
        );
        let (status, body) = app
            .post(
                "config/attr/",
                &s.owner,
                json!({"name": ":display:units", "data": 1}),
            )
            .await;
        assert_eq!(
            (status, &body["target"]),
            (StatusCode::BAD_REQUEST, &json!(["This field is required."]))
        );
        let (status, _) = app
            .post(
                "config/attr/",
                &s.owner,
                json!({"target": "d--0000-0000-0000-9999", "name": ":display:units", "data": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = app.get("config/attr/", &s.owner).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _) = app
            .call(
                Method::PUT,
                &format!("config/attr/{}/", first["id"]),
                Some(&s.owner),
                Some(json!({"data": 5})),
            )
            .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "set by POST only");
        let read = app
            .ok(&format!("config/attr/{}/", first["id"]), &s.owner)
            .await;
        assert_eq!(read["data"], 42);

        // Deleting a name takes its attributes with it.
        let names = app.ok("config/name/?name_q=units", &s.owner).await;
        let id = names["results"][0]["id"].as_i64().unwrap();
        let (status, _) = app.delete(&format!("config/name/{id}/"), &s.staff).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app
            .get(&format!("config/attr/{}/", first["id"]), &s.owner)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

backends!(
    levels_are_guarded_and_a_logged_change_leaves_a_note,
    |app: common::TestApp| async move {
        let s = setup(&app).await;
        let (status, _) = app
            .post("config/name/", &s.staff, json!({"name": ":trip:limits"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let outsider_user = app.create_user("outsider@b.io", false).await;
        let outsider = app.login("outsider@b.io").await;

        // Another org's people see none of it, nor may they write.
        set(&app, &s.owner, &s.device, ":trip:limits", json!({"max": 1})).await;
        for path in [
            format!("config/attr/?target={}", s.device),
            format!("config/attr/?target=^{}", s.org),
            format!("config/attr/search/?target={}&name=:trip:limits", s.device),
            format!("config/attr/?target=@{}", s.owner_slug),
        ] {
            let (status, body) = app.get(&path, &outsider).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
            assert!(!body.to_string().contains("max"), "{body}");
        }
        for target in [
            s.device.clone(),
            format!("^{}", s.org),
            format!("@{}", s.owner_slug),
        ] {
            let (status, _) = app
                .post(
                    "config/attr/",
                    &outsider,
                    json!({"target": target, "name": ":trip:limits", "data": 0}),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{target}");
        }
        // A user's own level is theirs alone; staff reach every level.
        set(
            &app,
            &outsider,
            &format!("@{}", outsider_user.slug),
            ":trip:limits",
            json!(7),
        )
        .await;
        let (status, _) = app
            .get(
                &format!("config/attr/?target=@{}", outsider_user.slug),
                &s.owner,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let listed = app
            .ok(&format!("config/attr/?target={}", s.device), &s.staff)
            .await;
        assert_eq!(listed["count"], 1);
        // Unknown targets are not found; other slugs are not levels.
        for target in [
            "^no-such-org",
            "@no-such-user",
            "s--0000-0001--0000-0000-0000-2001--5001",
        ] {
            let (status, _) = app
                .get(&format!("config/attr/?target={target}"), &s.owner)
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{target}");
        }

        // `log_as_note` writes the change on the device as a system note.
        let (status, _) = app
            .post(
                "config/attr/",
                &s.owner,
                json!({"target": s.device, "name": ":trip:limits",
                       "data": {"max_g": 6, "min_c": -20}, "log_as_note": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let notes = app
            .ok(&format!("note/?target={}", s.device), &s.owner)
            .await;
        assert_eq!(notes["count"], 1, "{notes}");
        let note = &notes["results"][0];
        assert_eq!(note["type"], "si");
        let text = note["note"].as_str().unwrap();
        assert!(
            text.starts_with("Attribute :trip:limits was changed to:"),
            "{text}"
        );
        assert!(
            text.contains("--> max_g: 6") && text.contains("--> min_c: -20"),
            "{text}"
        );
    }
);
