//! Orgs, memberships, projects and variables (spec 3.3, 3.4, 3.6, 2.7), on both backends.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Creates an org over HTTP and returns its slug.
async fn org(app: &common::TestApp, jwt: &str, name: &str) -> String {
    let (status, body) = app.post("org/", jwt, json!({"name": name})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["slug"].as_str().unwrap().to_string()
}

/// Creates a project over HTTP and returns its object.
async fn project(app: &common::TestApp, jwt: &str, org: &str, name: &str) -> Value {
    let (status, body) = app
        .post("project/", jwt, json!({"name": name, "org": org}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn raw_post(app: &common::TestApp, path: &str, jwt: &str, body: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(path))
        .header("Authorization", format!("jwt {jwt}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

backends!(org_lifecycle, |app: common::TestApp| async move {
    let owner = app.user("owner@arch.io").await;
    let (status, body) = app
        .post(
            "org/",
            &owner,
            json!({"name": "Arch Systems, Inc.", "about": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["slug"], "arch-systems-inc");
    assert_eq!(body["created_by"], "owner");
    assert_eq!(body["domain_names"], json!([]));
    assert!(body["avatar"]["tiny"].is_string() && body["avatar"]["thumbnail"].is_string());
    for key in ["id", "name", "ot", "about", "created_on"] {
        assert!(body.get(key).is_some(), "org object lacks {key}");
    }

    let (status, body) = app
        .post("org/", &owner, json!({"name": "arch systems inc"}))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!(["Organization with this Name produces duplicate slug."])
        )
    );
    let (status, body) = app.post("org/", &owner, json!({"about": "no name"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["name"], json!(["This field is required."]));

    org(&app, &owner, "Zeta").await;
    let list = app.ok("org/", &owner).await;
    assert_eq!(list["count"], 2);
    assert_eq!(list["results"][0]["slug"], "arch-systems-inc");
    let found = app.ok("org/?search=zet", &owner).await;
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["name"], "Zeta");

    let (status, body) = app
        .patch("org/zeta/", &owner, json!({"about": "last letter"}))
        .await;
    assert_eq!(
        (status, body["about"].clone()),
        (StatusCode::OK, json!("last letter"))
    );

    let extra = app.ok("org/arch-systems-inc/extra/", &owner).await;
    assert_eq!(extra["counts"]["members"], 1);
    assert_eq!(extra["counts"]["projects"], 0);
    assert_eq!(extra["current_member"]["role"], "a0");
    let me = app.ok("org/arch-systems-inc/membership/", &owner).await;
    assert_eq!(me["role_name"], "Owner");
    assert_eq!(me["permissions"]["can_delete_org"], true);

    // Deleting is for staff with ?staff=1.
    let (status, body) = app.delete("org/zeta/", &owner).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({"error": "Restricted Access. Contact Arch"})
        )
    );
    let staff = app.staff("admin@arch.io").await;
    let (status, _) = app.delete("org/zeta/", &staff).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.delete("org/zeta/?staff=1", &staff).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.ok("org/", &owner).await["count"], 1);
    assert_eq!(app.ok("org/?staff=1", &staff).await["count"], 1);
    assert_eq!(app.ok("org/", &staff).await["count"], 0);

    let (status, body) = raw_post(&app, "org/", &owner, "{\"name\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error"));
});

backends!(members_and_roles, |app: common::TestApp| async move {
    let owner = app.user("owner@arch.io").await;
    let member = app.user("mia@arch.io").await;
    let operator = app.user("otto@arch.io").await;
    let slug = org(&app, &owner, "Arch").await;
    let p = project(&app, &owner, &slug, "Field").await;
    let pid = p["id"].as_str().unwrap();

    let (status, body) = app
        .post(
            &format!("org/{slug}/register/"),
            &owner,
            json!({"user": "mia", "role": "m1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"], "mia");
    assert_eq!(body["role"], "m1");
    assert_eq!(body["user_details"]["email"], "mia@arch.io");
    let (status, body) = app
        .post(
            &format!("org/{slug}/register/"),
            &owner,
            json!({"user": "mia", "role": "r1"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Member already exists"})
        )
    );
    let (status, body) = app
        .post(
            &format!("org/{slug}/register/"),
            &owner,
            json!({"user": "otto", "role": "zz"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("role").is_some(), "{body}");
    let (status, body) = app
        .post(
            &format!("org/{slug}/register/"),
            &owner,
            json!({"user": "nobody", "role": "m1"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("user").is_some(), "{body}");
    let (status, _) = app
        .post(
            &format!("org/{slug}/register/"),
            &owner,
            json!({"user": "otto", "role": "r1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // A member reads but cannot manage.
    assert_eq!(app.ok("project/", &member).await["count"], 1);
    assert_eq!(
        app.ok(&format!("project/{pid}/"), &member).await["name"],
        "Field"
    );
    let (status, _) = app
        .post("project/", &member, json!({"name": "Mine", "org": slug}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .patch(
            &format!("project/{pid}/"),
            &member,
            json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .patch(&format!("org/{slug}/"), &member, json!({"about": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&format!("org/{slug}/members/"), &member).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &format!("org/{slug}/register/"),
            &member,
            json!({"user": "otto", "role": "m1"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let members = app.ok(&format!("org/{slug}/members/"), &owner).await;
    assert_eq!(members["count"], 3);
    let roles: Vec<&str> = members["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["m1", "r1", "a0"],
        "ordered by username: mia, otto, owner"
    );

    // Variables: members may create them, operators only read them.
    let (status, body) = app
        .post(
            "variable/",
            &member,
            json!({"name": "Temp", "lid": 0x5001, "project": pid}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app
        .post(
            "variable/",
            &operator,
            json!({"name": "Other", "lid": 0x5002, "project": pid}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let seen = app.ok("variable/", &operator).await;
    assert_eq!(seen["count"], 1);
    let (status, _) = app
        .patch(
            &format!("variable/{}/", body["slug"].as_str().unwrap()),
            &operator,
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
});

backends!(
    projects_are_scoped_and_paged,
    |app: common::TestApp| async move {
        let owner = app.user("owner@arch.io").await;
        let stranger = app.user("eve@else.io").await;
        let slug = org(&app, &owner, "Arch").await;
        org(&app, &stranger, "Else").await;

        let first = project(&app, &owner, &slug, "Beta").await;
        assert_eq!(first["gid"], "0000-0001");
        assert_eq!(first["slug"], "p--0000-0001");
        assert_eq!(first["org"], "arch");
        assert_eq!(first["created_by"], "owner");
        assert_eq!(first["project_template"], "default-template-v1-0-0");
        let (status, second) = app
            .post(
                "project/new/",
                &owner,
                json!({"name": "Alpha", "org": slug, "about": "first by name"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let second_id = second["id"].as_str().unwrap().to_string();
        assert_eq!(second.as_object().unwrap().len(), 1);
        let alpha = app.ok(&format!("project/{second_id}/"), &owner).await;
        assert_eq!(alpha["gid"], "0000-0002");
        assert_eq!(alpha["about"], "first by name");

        // By name, one per page, with links both ways.
        let page1 = app.ok("project/?page_size=1", &owner).await;
        assert_eq!(page1["count"], 2);
        assert_eq!(page1["results"][0]["name"], "Alpha");
        assert!(page1["previous"].is_null());
        let next = page1["next"].as_str().unwrap();
        assert!(
            next.contains("page=2") && next.contains("page_size=1"),
            "{next}"
        );
        let page2 = app.ok("project/?page_size=1&page=2", &owner).await;
        assert_eq!(page2["results"][0]["name"], "Beta");
        assert!(page2["next"].is_null());
        assert!(page2["previous"].as_str().unwrap().contains("page_size=1"));
        let (status, _) = app.get("project/?page=3", &owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        assert_eq!(app.ok("project/?name=Beta", &owner).await["count"], 1);
        assert_eq!(app.ok("project/?org=arch", &owner).await["count"], 2);
        assert_eq!(app.ok("project/?org__slug=else", &owner).await["count"], 0);
        let in_org = app.ok(&format!("org/{slug}/projects/"), &owner).await;
        assert_eq!(in_org["results"][0]["name"], "Alpha");
        assert_eq!(in_org["count"], 2);

        // The stranger sees nothing of Arch.
        let fid = first["id"].as_str().unwrap();
        assert_eq!(app.ok("project/", &stranger).await["count"], 0);
        assert_eq!(app.ok("variable/", &stranger).await["count"], 0);
        for path in [
            format!("project/{fid}/"),
            format!("project/{fid}/extra/"),
            format!("org/{slug}/"),
            format!("org/{slug}/projects/"),
            "org/no-such-org/".to_string(),
        ] {
            let (status, body) = app.get(&path, &stranger).await;
            assert_eq!(
                (status, body),
                (StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
                "{path}"
            );
        }
        let (status, _) = app
            .post(
                "project/",
                &stranger,
                json!({"name": "Sneaky", "org": slug}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = app
            .post(
                "project/",
                &owner,
                json!({"name": "Lost", "org": "nowhere"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.get("org").is_some(), "{body}");
        let (status, body) = app.get("project/not-a-uuid/", &owner).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!(["Project ID must be a UUID"])
            )
        );

        let (status, body) = app
            .patch(&format!("project/{fid}/"), &owner, json!({"name": "Gamma"}))
            .await;
        assert_eq!(
            (status, body["name"].clone()),
            (StatusCode::OK, json!("Gamma"))
        );
        let extra = app.ok(&format!("project/{fid}/extra/"), &owner).await;
        assert_eq!(
            extra["counts"],
            json!({"active_devices": 0, "inactive_devices": 0, "variables": 0, "streams": 0})
        );

        // Deleting is staff only, answered with 400 otherwise.
        let (status, body) = app.delete(&format!("project/{fid}/"), &owner).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "Restricted Access. Contact Arch"})
            )
        );
        let staff = app.staff("admin@arch.io").await;
        let (status, _) = app.delete(&format!("project/{fid}/"), &staff).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("project/{fid}/"), &owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The next project still gets a fresh number.
        let third = project(&app, &owner, &slug, "Delta").await;
        assert_eq!(third["gid"], "0000-0003");
    }
);

backends!(variables_round_trip, |app: common::TestApp| async move {
    let owner = app.user("owner@arch.io").await;
    let slug = org(&app, &owner, "Arch").await;
    let p = project(&app, &owner, &slug, "Field").await;
    let pid = p["id"].as_str().unwrap();
    let other = project(&app, &owner, &slug, "Other").await;

    let (status, var) = app
        .post(
            "variable/",
            &owner,
            json!({
                "name": "Water", "lid": 0x5001, "project": pid,
                "var_type": "water-meter-volume",
                "input_unit": "in--water-meter-volume--gallons",
                "output_unit": "out--water-meter-volume--liters",
                "multiplication_factor": 2, "web_only": true
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{var}");
    assert_eq!(var["slug"], "v--0000-0001--5001");
    assert_eq!(var["lid"], 0x5001);
    assert_eq!(var["project"], pid);
    assert_eq!(var["org"], "arch");
    assert_eq!(var["var_type"], "water-meter-volume");
    assert_eq!(var["input_unit"]["unit_short"], "g");
    assert_eq!(var["output_unit"]["m"], 3785);
    assert_eq!(var["raw_value_format"], "<L");
    assert_eq!(var["multiplication_factor"], 2);
    assert_eq!(var["division_factor"], 1);
    assert_eq!(var["offset"], 0.0);
    assert_eq!(var["decimal_places"], 2);
    assert_eq!(var["web_only"], true);
    assert_eq!(var["app_only"], false);
    for key in [
        "id",
        "name",
        "derived_variable",
        "about",
        "created_on",
        "units",
        "mdo_label",
    ] {
        assert!(var.get(key).is_some(), "variable object lacks {key}");
    }

    let (status, body) = app
        .post(
            "variable/",
            &owner,
            json!({"name": "Again", "lid": 0x5001, "project": pid}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("non_field_errors").is_some(), "{body}");
    let (status, body) = app
        .post(
            "variable/",
            &owner,
            json!({"name": "Bad", "lid": "x", "project": pid}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"lid": ["A valid integer is required."]})
        )
    );
    let (status, body) = app
        .post(
            "variable/",
            &owner,
            json!({"name": "Big", "lid": 70000, "project": pid}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("lid").is_some());
    let (status, body) = app
        .post(
            "variable/",
            &owner,
            json!({"name": "Orphan", "lid": 1, "project": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("project").is_some());
    let (status, body) = app
        .post(
            "variable/",
            &owner,
            json!({"name": "T", "lid": 2, "project": pid, "var_type": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("var_type").is_some());
    let (status, body) = raw_post(&app, "variable/", &owner, "[1,").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].is_string());

    let (status, _) = app
        .post(
            "variable/",
            &owner,
            json!({"name": "Elsewhere", "lid": 0x5001, "project": other["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Lenient slugs on detail; filters by uuid or p-- slug.
    for form in ["v--0000-0001--5001", "V--1--5001", "v--0001--5001"] {
        assert_eq!(
            app.ok(&format!("variable/{form}/"), &owner).await["name"],
            "Water",
            "{form}"
        );
    }
    let (status, _) = app.get("variable/v--0000-0009--5001/", &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("variable/d--0000-0000-0000-0001/", &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.ok("variable/", &owner).await["count"], 2);
    assert_eq!(
        app.ok(&format!("variable/?project={pid}"), &owner).await["count"],
        1
    );
    assert_eq!(
        app.ok("variable/?project=p--0000-0002", &owner).await["count"],
        1
    );
    assert_eq!(
        app.ok("variable/?project=p--0000-0042", &owner).await["count"],
        0
    );
    assert_eq!(app.ok("variable/?org=arch", &owner).await["count"], 2);
    let (status, _) = app.get("variable/?project=zz--1", &owner).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = app
        .patch(
            "variable/v--0000-0001--5001/",
            &owner,
            json!({"name": "Flow", "decimal_places": 3, "output_unit": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Flow");
    assert_eq!(body["decimal_places"], 3);
    assert!(body["output_unit"].is_null());
    assert_eq!(body["input_unit"]["unit_short"], "g");
    let (status, body) = app
        .patch(
            "variable/v--0000-0001--5001/",
            &owner,
            json!({"web_only": "maybe"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("web_only").is_some(), "{body}");

    let (status, body) = app.delete("variable/v--0000-0001--5001/", &owner).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Restricted Access. Contact Arch"})
        )
    );
    let staff = app.staff("admin@arch.io").await;
    let (status, _) = app.delete("variable/v--0000-0001--5001/", &staff).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.ok("variable/", &owner).await["count"], 1);
    let extra = app
        .ok(
            &format!("project/{}/extra/", other["id"].as_str().unwrap()),
            &owner,
        )
        .await;
    assert_eq!(extra["counts"]["variables"], 1);
    let (status, _) = app
        .call(
            Method::PUT,
            "org/arch/",
            Some(&owner),
            Some(json!({"name": "  "})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
});

backends!(
    concurrent_projects_get_distinct_gids,
    |app: common::TestApp| async move {
        let owner = app.user("owner@arch.io").await;
        let slug = org(&app, &owner, "Arch").await;
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (app, owner, slug) = (app.clone(), owner.clone(), slug.clone());
            tasks.push(tokio::spawn(async move {
                app.post(
                    "project/",
                    &owner,
                    json!({"name": format!("P{i}"), "org": slug}),
                )
                .await
            }));
        }
        let mut gids = Vec::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "{body}");
            gids.push(body["gid"].as_str().unwrap().to_string());
        }
        gids.sort();
        let expected: Vec<String> = (1..=8).map(|n| format!("0000-{n:04x}")).collect();
        assert_eq!(gids, expected);
    }
);
