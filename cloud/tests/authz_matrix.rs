//! The authorization matrix: every documented operation tried as anonymous, with a bad
//! token, as a member of another org and with each lower role; the answer's status is checked
//! and no foreign data may come back.

#![allow(clippy::unwrap_used)]

mod common;

use cloud::http::openapi::operations;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A concrete path for a documented template; values are only looked at after authentication.
fn concrete(path: &str) -> String {
    path.replace("{slug}", "d--0000-0000-0000-0001")
        .replace("{id}", "1")
        .trim_start_matches("/api/v1/")
        .to_string()
}

backends!(
    anonymous_and_bad_tokens_are_refused_everywhere,
    |app: common::TestApp| async move {
        for op in operations() {
            let method = Method::from_bytes(op.method.as_bytes()).unwrap();
            let path = concrete(op.path);
            let anonymous = app.call(method.clone(), &path, None, None).await;
            if op.public {
                assert!(
                    !matches!(
                        anonymous.0,
                        StatusCode::NOT_FOUND
                            | StatusCode::METHOD_NOT_ALLOWED
                            | StatusCode::UNAUTHORIZED
                    ),
                    "{} {path} is documented as public but answered {}",
                    op.method,
                    anonymous.0
                );
                continue;
            }
            assert_eq!(
                anonymous.0,
                StatusCode::UNAUTHORIZED,
                "{} {path} without credentials: {}",
                op.method,
                anonymous.1
            );
            for bad in [
                "jwt not.a.token",
                "token 0000000000000000000000000000000000000000",
                "a-jwt x.y.z",
            ] {
                let response = app
                    .client
                    .request(method.clone(), app.url(&path))
                    .header("Authorization", bad)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::UNAUTHORIZED,
                    "{} {path} with {bad}",
                    op.method
                );
            }
        }
    }
);

/// The people of the matrix: five roles in org A, and a member of org B.
const ROLES: [&str; 6] = [
    "owner",
    "admin",
    "member",
    "operator",
    "developer",
    "outsider",
];

struct World {
    tokens: Vec<(&'static str, String)>,
    org: String,
    project: String,
    device: String,
    spare_device: String,
    stream: String,
}

impl World {
    fn token(&self, role: &str) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }
}

async fn world(app: &common::TestApp) -> World {
    let staff = app.staff("staff@arch.io").await;
    let owner = app.user("owner@a.io").await;
    let (status, org) = app.post("org/", &owner, json!({"name": "Org A"})).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org = org["slug"].as_str().unwrap().to_string();
    let mut tokens = vec![("owner", owner.clone())];
    for (role, code) in [
        ("admin", "a1"),
        ("member", "m1"),
        ("operator", "r1"),
        ("developer", "d1"),
    ] {
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
        tokens.push((role, app.login(&email).await));
    }
    let outsider = app.user("outsider@b.io").await;
    let (status, _) = app.post("org/", &outsider, json!({"name": "Org B"})).await;
    assert_eq!(status, StatusCode::CREATED);
    tokens.push(("outsider", outsider));

    let (status, project) = app
        .post("project/", &owner, json!({"name": "Site", "org": org}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let project = project["id"].as_str().unwrap().to_string();
    for id in [0x1001, 0x1002] {
        let body = json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        let (status, created) = app.post("device/?staff=1", &staff, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let device = "d--0000-0000-0000-1001".to_string();
    let (status, claimed) = app
        .post(
            "device/claim/",
            &owner,
            json!({"device": device, "project": project}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
    let project_slug = claimed["project"].as_str().unwrap().to_string();
    let stream = format!("s--{}--0000-0000-0000-1001--5001", &project_slug[3..]);
    let rows = json!([
        {"stream": stream, "timestamp": "2026-01-01T00:00:00Z", "int_value": 5},
        {"stream": stream, "timestamp": "2026-01-01T00:01:00Z", "int_value": 6},
    ]);
    let (status, body) = app.post("data/", &owner, rows).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &format!("device/{device}/new_property/"),
            &owner,
            json!({"name": "site", "str_value": "north"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "note/",
            &owner,
            json!({"target": device, "timestamp": "2026-01-01T00:00:00Z", "note": "installed"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post("config/name/", &staff, json!({"name": ":site:limits"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "config/attr/",
            &owner,
            json!({"target": format!("^{org}"), "name": ":site:limits", "data": {"limit": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    World {
        tokens,
        org,
        project,
        device,
        spare_device: "d--0000-0000-0000-1002".into(),
        stream,
    }
}

/// Expected statuses in ROLES order.
type Row = (&'static str, [u16; 6]);

const READS: &[Row] = &[
    // path                                   owner admin member operator dev outsider
    ("org/{org}/", [200, 200, 200, 200, 200, 404]),
    ("org/{org}/members/", [200, 200, 403, 403, 200, 404]),
    ("project/{project}/", [200, 200, 200, 200, 200, 404]),
    ("device/{device}/", [200, 200, 200, 200, 200, 403]),
    (
        "device/{device}/key/?type=a-jwt",
        [200, 200, 200, 200, 200, 403],
    ),
    ("stream/{stream}/", [200, 200, 200, 403, 200, 403]),
    ("data/?filter={stream}", [200, 200, 200, 403, 200, 403]),
    ("data/?filter={device}", [200, 200, 200, 403, 200, 403]),
    ("stream/{stream}/data/", [200, 200, 200, 403, 200, 403]),
    ("property/?target={device}", [200, 200, 200, 403, 200, 403]),
    (
        "device/{device}/properties/",
        [200, 200, 200, 403, 200, 403],
    ),
    ("note/?target={device}", [200, 200, 200, 403, 200, 403]),
    (
        "config/attr/?target={device}",
        [200, 200, 200, 403, 200, 403],
    ),
    ("config/attr/?target=^{org}", [200, 200, 200, 403, 200, 403]),
    (
        "config/attr/search/?target={device}&name=:site:limits",
        [200, 200, 200, 403, 200, 403],
    ),
];

backends!(
    each_role_gets_what_its_permissions_allow,
    |app: common::TestApp| async move {
        let w = world(&app).await;
        for (template, expected) in READS {
            let path = fill(template, &w);
            for (role, want) in ROLES.iter().zip(expected) {
                let (status, body) = app.get(&path, w.token(role)).await;
                assert_eq!(status.as_u16(), *want, "GET {path} as {role}: {body}");
                if *want >= 400 {
                    assert_no_foreign_data(&body, &w, &format!("GET {path} as {role}"));
                }
            }
        }

        // Lists answer everyone, holding only what the caller may see.
        for path in [
            "org/",
            "project/",
            "device/",
            "variable/",
            "stream/",
            "streamer/?device={device}",
            "alias/",
            "tap/",
        ] {
            let path = fill(path, &w);
            let (status, body) = app.get(&path, w.token("outsider")).await;
            if status == StatusCode::OK {
                assert_no_foreign_data(&body, &w, &format!("GET {path} as outsider"));
            } else {
                // The streamer filter names a device outside the caller's orgs: not found.
                assert_eq!(
                    status,
                    StatusCode::NOT_FOUND,
                    "GET {path} as outsider: {body}"
                );
            }
            let (status, body) = app.get(&path, w.token("owner")).await;
            assert_eq!(status, StatusCode::OK, "GET {path} as owner: {body}");
        }

        // Writes, tried first by every role that must be refused, then by one that may.
        let writes: Vec<(Method, String, serde_json::Value, &[&str], u16)> = vec![
            (
                Method::POST,
                "project/".into(),
                json!({"name": "New", "org": w.org}),
                &["owner", "admin", "developer"],
                201,
            ),
            (
                Method::PATCH,
                fill("device/{device}/", &w),
                json!({"label": "pump"}),
                &["owner", "admin", "member", "developer"],
                200,
            ),
            (
                Method::PATCH,
                fill("org/{org}/", &w),
                json!({"about": "x"}),
                &["owner", "admin", "developer"],
                200,
            ),
            (
                Method::POST,
                "data/".into(),
                json!({"stream": w.stream, "timestamp": "2026-01-02T00:00:00Z", "int_value": 1}),
                &["owner", "admin", "member", "operator", "developer"],
                201,
            ),
            (
                Method::POST,
                "config/attr/".into(),
                json!({"target": w.device, "name": ":site:limits", "data": 3}),
                &["owner", "admin", "member", "developer"],
                201,
            ),
            (
                Method::POST,
                "config/attr/".into(),
                json!({"target": format!("^{}", w.org), "name": ":site:limits", "data": 4}),
                &["owner", "admin", "developer"],
                201,
            ),
            (
                Method::POST,
                "alias/".into(),
                json!({"name": "Truck", "org": w.org}),
                &["owner", "admin", "developer"],
                201,
            ),
            (
                Method::POST,
                "device/claim/".into(),
                json!({"device": w.spare_device, "project": w.project}),
                &["owner", "admin", "developer"],
                202,
            ),
        ];
        for (method, path, body, allowed, ok) in &writes {
            for role in ROLES.iter().filter(|r| !allowed.contains(r)) {
                let (status, answer) = app
                    .call(
                        method.clone(),
                        path,
                        Some(w.token(role)),
                        Some(body.clone()),
                    )
                    .await;
                assert!(
                    matches!(status.as_u16(), 403 | 404),
                    "{method} {path} as {role} must be refused, got {status}: {answer}"
                );
            }
            let (status, answer) = app
                .call(
                    method.clone(),
                    path,
                    Some(w.token(allowed[0])),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(
                status.as_u16(),
                *ok,
                "{method} {path} as {}: {answer}",
                allowed[0]
            );
        }
        // Refused writes changed nothing.
        for role in ["member", "operator", "outsider"] {
            let (status, _) = app
                .post(
                    &fill("device/{device}/unclaim/", &w),
                    w.token(role),
                    json!({}),
                )
                .await;
            assert!(
                matches!(status.as_u16(), 403 | 404),
                "unclaim as {role}: {status}"
            );
        }
        let device = app
            .ok(&fill("device/{device}/", &w), w.token("owner"))
            .await;
        assert_eq!(device["label"], "pump");
        assert_eq!(device["project"], w.project.as_str());
        // Staff-only deletes are refused to the org's own owner.
        let (status, _) = app
            .delete(&fill("project/{project}/", &w), w.token("owner"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = app
            .delete(&fill("device/{device}/", &w), w.token("owner"))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);

fn fill(template: &str, w: &World) -> String {
    template
        .replace("{org}", &w.org)
        .replace("{project}", &w.project)
        .replace("{device}", &w.device)
        .replace("{stream}", &w.stream)
}

/// A refused or filtered answer names nothing of org A.
fn assert_no_foreign_data(body: &serde_json::Value, w: &World, what: &str) {
    let text = body.to_string();
    for secret in [&w.project, &w.stream, &w.device, &w.org] {
        assert!(
            !text.contains(secret.as_str()),
            "{what} leaked {secret}: {text}"
        );
    }
    assert!(
        !text.contains("int_value") && !text.contains("north"),
        "{what} leaked data: {text}"
    );
}
