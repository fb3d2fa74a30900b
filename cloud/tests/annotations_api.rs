//! Properties, notes and locations (spec 3.13, 3.15, 3.16), on both backends.

#![allow(clippy::unwrap_used)]

mod common;
mod stream_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};

use stream_setup::*;

backends!(properties_flow, |app: common::TestApp| async move {
    let owner = setup(&app).await;

    let (status, body) = app.get("property/", &owner).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert!(body["detail"].as_str().unwrap().contains("required"));
    let (status, body) = app
        .post(
            "property/",
            &owner,
            json!({"target": "d--d2", "name": "color", "str_value": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"target": DEVICE, "name": "color", "is_system": false, "value": "red"})
    );
    let (status, _) = app
        .post(
            "property/",
            &owner,
            json!({"target": DEVICE, "name": "color", "str_value": "blue"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for bad in [
        json!({"target": DEVICE, "name": "two", "str_value": "a", "int_value": 1}),
        json!({"target": DEVICE, "name": "none"}),
        json!({"target": STREAM, "name": "x", "int_value": 1}),
        json!({"target": DEVICE, "name": "x", "int_value": "one"}),
    ] {
        let (status, body) = app.post("property/", &owner, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} gave {body}");
    }
    let (status, _) = app
        .post(
            "property/",
            &owner,
            json!({"target": "d--99", "name": "x", "int_value": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .post(
            "property/",
            &owner,
            json!({"target": "p--77", "name": "floors", "int_value": 3, "is_system": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["value"], 3);
    assert_eq!(body["target"], "p--0000-0077");

    let list = app.ok("property/?target=d--00d2", &owner).await;
    assert_eq!(list["count"], 1);
    let prop = &list["results"][0];
    assert_eq!(prop["type"], "str");
    let id = prop["id"].as_i64().unwrap();
    let (status, body) = app
        .patch(
            &format!("property/{id}/"),
            &owner,
            json!({"bool_value": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["value"].clone(), body["type"].clone()),
        (json!(true), json!("bool"))
    );

    // The device and project actions: plain arrays; new_property creates or replaces.
    let (status, _) = app
        .post(
            &format!("device/{DEVICE}/new_property/"),
            &owner,
            json!({"name": "color", "str_value": "green"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post(
            "device/b--0001-0000-0000-00d2/new_property/",
            &owner,
            json!({"name": "size", "int_value": 9}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let props = app
        .ok(&format!("device/{DEVICE}/properties/"), &owner)
        .await;
    assert_eq!(
        props,
        json!([
            {"id": id, "name": "color", "value": "green", "type": "str", "is_system": false},
            {"id": props[1]["id"], "name": "size", "value": 9, "type": "int", "is_system": false}
        ])
    );
    let project = app
        .ok(
            "project/7f3c9d52-0000-4000-8000-000000000077/properties/",
            &owner,
        )
        .await;
    assert_eq!(project[0]["name"], "floors");
    assert_eq!(project[0]["is_system"], true);
    let (status, _) = app
        .get(
            "project/7f3c9d52-0000-4000-8000-000000000099/properties/",
            &owner,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Operators and outsiders.
    let r1 = member(&app, "op@acme.io", "r1").await;
    let (status, _) = app.get("property/?target=d--d2", &r1).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let eve = outsider(&app).await;
    for path in [
        "property/?target=d--d2".to_string(),
        format!("property/{id}/"),
        format!("device/{DEVICE}/properties/"),
    ] {
        let (status, _) = app.get(&path, &eve).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = app.delete(&format!("property/{id}/"), &eve).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.delete(&format!("property/{id}/"), &owner).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("property/{id}/"), &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});

backends!(notes_and_locations, |app: common::TestApp| async move {
    let owner = setup(&app).await;

    let (status, body) = app.get("note/", &owner).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"target": ["This field is required."]})
        )
    );
    let (status, note) = app
        .post(
            "note/",
            &owner,
            json!({"target": "d--d2", "timestamp": "2024-01-01T00:00:01Z", "note": "Installed"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["target"], DEVICE);
    assert_eq!(note["type"], "ui");
    assert_eq!(note["user_info"]["username"], "@owner");
    assert_eq!(note["attachment"], Value::Null);
    let (status, body) = app
        .post(
            "note/",
            &owner,
            json!([
                {"target": DEVICE, "timestamp": "2024-01-01T00:00:02Z", "note": "Moved", "type": "si"},
                {"target": DEVICE, "timestamp": "2024-01-01T00:00:03Z", "note": "Checked"}
            ]),
        )
        .await;
    assert_eq!((status, body), (StatusCode::CREATED, json!({"count": 2})));
    let (status, _) = app
        .post(
            "note/",
            &owner,
            json!({"target": DEVICE, "note": "x", "type": "zz"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let notes = app.ok("note/?target=d--d2", &owner).await;
    assert_eq!(notes["count"], 3);
    let last = app.ok("note/?target=d--d2&lastn=1", &owner).await;
    assert_eq!(last["results"][0]["note"], "Checked");
    assert_eq!(
        app.ok("note/?target=d--d2&start=2024-01-01T00:00:02Z", &owner)
            .await["count"],
        2
    );
    let id = note["id"].as_i64().unwrap();
    assert_eq!(
        app.ok(&format!("note/{id}/"), &owner).await["note"],
        "Installed"
    );
    let eve = outsider(&app).await;
    for path in ["note/?target=d--d2".to_string(), format!("note/{id}/")] {
        let (status, _) = app.get(&path, &eve).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = app
        .post("note/", &eve, json!({"target": DEVICE, "note": "mine now"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Locations: the newest becomes the device's position.
    let (status, body) = app.get("location/", &owner).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"target": ["This field is required."]}));
    let (status, body) = app
        .post(
            "location/",
            &owner,
            json!([
                {"target": DEVICE, "timestamp": "2024-01-01T00:00:02Z", "lat": "12.5", "lon": -3.25},
                {"target": DEVICE, "timestamp": "2024-01-01T00:00:01Z", "lat": 10.0, "lon": "-3.0"}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["count"], 2);
    assert_eq!(body["last"]["lat"], "12.5");
    let (lat, lon): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT lat, lon FROM devices WHERE id = $1")
            .bind(0xd2_i64)
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
    assert_eq!(
        (lat.as_deref(), lon.as_deref()),
        (Some("12.5"), Some("-3.25"))
    );
    for bad in [
        json!([{"target": DEVICE, "timestamp": "2024-01-01T00:00:03Z", "lat": 1, "lon": 1},
               {"target": "d--d3", "timestamp": "2024-01-01T00:00:03Z", "lat": 1, "lon": 1}]),
        json!({"target": DEVICE, "timestamp": "2024-01-01T00:00:03Z", "lat": 91, "lon": 1}),
        json!({"target": DEVICE, "timestamp": "2024-01-01T00:00:03Z", "lat": "north", "lon": 1}),
        json!({"target": DEVICE, "lat": 1, "lon": 1}),
    ] {
        let (status, body) = app.post("location/", &owner, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} gave {body}");
    }
    let list = app.ok("location/?target=d--00d2", &owner).await;
    assert_eq!(list["count"], 2);
    assert_eq!(list["results"][0]["timestamp"], "2024-01-01T00:00:01Z");
    assert_eq!(list["results"][0]["user"], "owner");
    let (status, _) = app.get("location/?target=d--d2", &eve).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r1 = member(&app, "op@acme.io", "r1").await;
    let (status, _) = app.get("location/?target=d--d2", &r1).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get("location/?target=d--99", &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});
