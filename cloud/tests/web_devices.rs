//! The device pages over real HTTP: claiming through the form, the device page and its
//! forms, unclaiming through the confirm page, and what a member of another org gets.

#![allow(clippy::unwrap_used)]

mod common;
mod device_setup;

use common::web::Browser;
use common::Backend;
use reqwest::StatusCode;

const DEVICE: &str = "d--0000-0000-0000-000a";

#[tokio::test]
async fn an_owner_claims_annotates_and_unclaims_a_device_through_the_pages() {
    let app = common::TestApp::spawn(Backend::Sqlite).await;
    let world = device_setup::registered(&app).await;
    let mut owner = Browser::sign_in(&app, "owner-acme@acme.io").await;

    // A device id that is not known is refused beside its field; nothing is claimed.
    owner.page("/devices/claim").await;
    let page = owner
        .post(
            "/devices/claim",
            &[("device", "0bad"), ("project", &world.acme.project)],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.field_error("device").is_some(), "{}", page.body);

    // The short form of the id claims it.
    let page = owner
        .post(
            "/devices/claim",
            &[("device", "000a"), ("project", &world.acme.project)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let target = page.location.unwrap();
    assert_eq!(target, format!("/device/{DEVICE}"));
    let device = owner.page(&target).await;
    assert!(device.body.contains("was claimed into acme project"));
    assert!(device.body.contains(">acme project</a>"));

    // The list finds it by label text and by id, and not by something else.
    let list = owner.get("/devices?q=000a").await;
    assert!(list.body.contains(DEVICE), "{}", list.body);
    let list = owner.get("/devices?q=no-such-thing").await;
    assert!(!list.body.contains(DEVICE));
    assert!(list.body.contains("No device matches these filters"));

    // Forms: a bad latitude is shown beside its field; a note and a property are stored.
    owner.page(&format!("/device/{DEVICE}")).await;
    let page = owner
        .post(
            &format!("/device/{DEVICE}/location"),
            &[("lat", "95"), ("lon", "3")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.field_error("lat").is_some(), "{}", page.body);
    let page = owner
        .post(
            &format!("/device/{DEVICE}/note"),
            &[("note", "Replaced the battery")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = owner
        .post(
            &format!("/device/{DEVICE}/property"),
            &[("name", "site"), ("value", "Basement B")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = owner.get(&format!("/device/{DEVICE}")).await;
    assert!(page.body.contains("Replaced the battery"));
    assert!(page.body.contains("Basement B"));
    let notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
        .fetch_one(&app.state.db.meta)
        .await
        .unwrap();
    assert_eq!(notes, 1);

    // Unclaiming asks first, then frees the device.
    let ask = owner.page(&format!("/device/{DEVICE}/unclaim")).await;
    assert!(ask.body.contains("Unclaim d--0000-0000-0000-000a?"));
    let done = owner.post(&format!("/device/{DEVICE}/unclaim"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let project: Option<String> =
        sqlx::query_scalar("SELECT project_id FROM devices WHERE id = 10")
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
    assert_eq!(project, None);
}

#[tokio::test]
async fn another_orgs_member_reaches_nothing_by_link_or_by_form() {
    let app = common::TestApp::spawn(Backend::Sqlite).await;
    device_setup::claimed(&app).await;
    let mut stranger = Browser::sign_in(&app, "owner-other@other.io").await;

    let page = stranger.get(&format!("/device/{DEVICE}")).await;
    assert!(matches!(
        page.status,
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
    ));
    assert!(!page.body.contains("acme project"), "{}", page.body);
    let list = stranger.get("/devices").await;
    assert!(!list.body.contains(DEVICE));

    for (path, fields) in [
        ("note", vec![("note", "sneaky")]),
        ("label", vec![("label", "mine now")]),
        ("unclaim", vec![]),
    ] {
        let page = stranger
            .post(&format!("/device/{DEVICE}/{path}"), &fields)
            .await;
        assert!(
            matches!(page.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{path}: {}",
            page.status
        );
    }
    let label: String = sqlx::query_scalar("SELECT label FROM devices WHERE id = 10")
        .fetch_one(&app.state.db.meta)
        .await
        .unwrap();
    assert_ne!(label, "mine now");
    let notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
        .fetch_one(&app.state.db.meta)
        .await
        .unwrap();
    assert_eq!(notes, 0);

    // Claiming someone else's project is refused too.
    stranger.page("/devices/claim").await;
    let page = stranger
        .post(
            "/devices/claim",
            &[("device", "000a"), ("project", "p--0000-0001")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn forms_without_their_token_and_stale_sessions_are_turned_away() {
    let app = common::TestApp::spawn(Backend::Sqlite).await;
    device_setup::claimed(&app).await;
    let mut owner = Browser::sign_in(&app, "owner-acme@acme.io").await;

    let page = owner
        .post_without_token(&format!("/device/{DEVICE}/label"), &[("label", "forged")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = owner
        .post_without_token(
            &format!("/device/{DEVICE}/label"),
            &[("label", "forged"), ("csrf", "0000")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // Signing out revokes the session: the same browser is sent back to sign in.
    owner.page("/").await;
    let out = owner.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let page = owner.get(&format!("/device/{DEVICE}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=%2Fdevice%2Fd--0000-0000-0000-000a")
    );
}

#[tokio::test]
async fn the_device_pages_work_on_postgresql() {
    let app = common::TestApp::spawn(Backend::Postgres).await;
    let world = device_setup::registered(&app).await;
    let mut owner = Browser::sign_in(&app, "owner-acme@acme.io").await;
    owner.page("/devices/claim").await;
    let page = owner
        .post(
            "/devices/claim",
            &[("device", DEVICE), ("project", &world.acme.project)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let list = owner.get("/devices?q=000A&sort=-label").await;
    assert!(list.body.contains(DEVICE), "{}", list.body);
    owner.page(&format!("/device/{DEVICE}")).await;
}

#[tokio::test]
async fn the_device_pages_chart_data_is_downsampled_and_agrees_with_the_readings() {
    let app = common::TestApp::spawn(Backend::Sqlite).await;
    let world = device_setup::claimed(&app).await;
    // 600 readings, one a minute from 2024-01-01T00:00Z: a sawtooth 0..=59.
    let rows: Vec<serde_json::Value> = (0..600)
        .map(|i| {
            serde_json::json!({
                "stream": device_setup::STREAM,
                "timestamp": format!("2024-01-01T{:02}:{:02}:00Z", i / 60, i % 60),
                "value": (i % 60) as f64,
                "type": "ITR",
            })
        })
        .collect();
    let (status, body) = app
        .post("data/", &world.acme.owner, serde_json::json!(rows))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let mut owner = Browser::sign_in(&app, "owner-acme@acme.io").await;
    let start = 1_704_067_200; // 2024-01-01T00:00:00Z
    let path = format!(
        "/device/{DEVICE}/chart?stream={}&start={start}&end={}&buckets=10",
        device_setup::STREAM,
        start + 36_000
    );
    let page = owner.page(&path).await;
    let chart: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    let t = chart["t"].as_array().unwrap();
    assert!(!t.is_empty() && t.len() <= 10, "{chart}");
    let counts: i64 = chart["count"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_i64().unwrap())
        .sum();
    assert_eq!(counts, 600);
    let mins = chart["min"].as_array().unwrap();
    let maxs = chart["max"].as_array().unwrap();
    for (i, at) in t.iter().enumerate() {
        let at = at.as_i64().unwrap();
        let width = chart["bucket_secs"].as_i64().unwrap();
        // The raw readings of the bucket, as the data API returns them.
        let from = chrono::DateTime::from_timestamp(at.max(start), 0)
            .unwrap()
            .to_rfc3339();
        let to = chrono::DateTime::from_timestamp(at + width, 0)
            .unwrap()
            .to_rfc3339();
        let raw = app
            .ok(
                &format!(
                    "data/?filter={}&start={}&end={}&page_size=1000",
                    device_setup::STREAM,
                    urlencode(&from),
                    urlencode(&to)
                ),
                &world.acme.owner,
            )
            .await;
        let values: Vec<f64> = raw["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"].as_f64().unwrap())
            .collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        assert_eq!(
            (mins[i].as_f64().unwrap(), maxs[i].as_f64().unwrap()),
            (lo, hi),
            "bucket {i}"
        );
    }

    // Another org's member gets no data from it.
    let mut stranger = Browser::sign_in(&app, "owner-other@other.io").await;
    let page = stranger.get(&path).await;
    assert!(matches!(
        page.status,
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
    ));
    assert!(!page.body.contains("\"min\""));
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
