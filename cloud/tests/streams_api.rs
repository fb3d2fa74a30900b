//! Streams (spec 3.7), on both backends.

#![allow(clippy::unwrap_used)]

mod common;
mod stream_setup;

use reqwest::StatusCode;
use serde_json::json;

use stream_setup::*;

backends!(streams_list_and_edit, |app: common::TestApp| async move {
    let owner = setup(&app).await;
    create_streams(&app, &owner).await;

    // Inactive devices' streams are left out unless all=1.
    let list = app.ok("stream/", &owner).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["slug"], STREAM);
    assert_eq!(app.ok("stream/?all=1", &owner).await["count"], 2);
    assert_eq!(app.ok("stream/?device=d--00d3", &owner).await["count"], 1);
    assert_eq!(app.ok("stream/?device=d--d2", &owner).await["count"], 1);
    assert_eq!(
        app.ok("stream/?device=b--0001-0000-0000-00d2", &owner)
            .await["count"],
        0
    );
    assert_eq!(app.ok("stream/?project=p--77", &owner).await["count"], 1);
    assert_eq!(
        app.ok(
            "stream/?project=7f3c9d52-0000-4000-8000-000000000077&all=1",
            &owner
        )
        .await["count"],
        2
    );
    assert_eq!(app.ok("stream/?project=p--78", &owner).await["count"], 0);
    assert_eq!(
        app.ok(&format!("stream/?variable={VARIABLE}&all=1"), &owner)
            .await["count"],
        2
    );
    assert_eq!(app.ok("stream/?org=other&all=1", &owner).await["count"], 0);
    assert_eq!(app.ok("stream/?enabled=0&all=1", &owner).await["count"], 0);

    // Lenient slug on the detail route; unknown or malformed slugs are 404.
    let one = app.ok("stream/s--77--d2--5001/", &owner).await;
    assert_eq!(one["slug"], STREAM);
    let (status, _) = app
        .get("stream/s--0000-0077--0000-0000-0000-00d9--5001/", &owner)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("stream/nonsense/", &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Operators see stream ids but not the stream; outsiders see neither.
    let operator = member(&app, "op@acme.io", "r1").await;
    assert_eq!(app.ok("stream/", &operator).await["count"], 1);
    let (status, _) = app.get(&format!("stream/{STREAM}/"), &operator).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let eve = outsider(&app).await;
    assert_eq!(app.ok("stream/?all=1", &eve).await["count"], 0);
    let (status, _) = app.get(&format!("stream/{STREAM}/"), &eve).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Edits.
    let (status, body) = app
        .patch(
            &format!("stream/{STREAM}/"),
            &owner,
            json!({"data_label": "Outside", "enabled": false, "multiplication_factor": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data_label"], "Outside");
    assert_eq!(body["enabled"], false);
    assert_eq!(body["multiplication_factor"], 3);
    let (status, body) = app
        .patch(
            &format!("stream/{STREAM}/"),
            &owner,
            json!({"enabled": "maybe"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["enabled"].is_array());
    let (status, _) = app
        .patch(
            &format!("stream/{STREAM}/"),
            &owner,
            json!({"division_factor": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .patch(
            &format!("stream/{STREAM}/"),
            &operator,
            json!({"data_label": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.ok("stream/?enabled=0&all=1", &owner).await["count"], 1);

    // Deleting is staff only.
    let (status, body) = app.delete(&format!("stream/{STREAM}/"), &owner).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "Restricted Access. Contact Arch"}));
});
