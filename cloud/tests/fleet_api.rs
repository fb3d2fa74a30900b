//! Fleets (spec 3.11): created and changed by developers (`can_manage_ota`), read by the
//! org's members, invisible to everyone else, and found by device the way coretools'
//! `get_whitelist` asks.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::StatusCode;
use serde_json::json;

backends!(fleets_round_trip, |app: common::TestApp| async move {
    let staff = app.staff("staff@arch.io").await;
    let owner = app.user("owner@a.io").await;
    let (_, org) = app.post("org/", &owner, json!({"name": "Fleet Org"})).await;
    let org = org["slug"].as_str().unwrap().to_string();
    let dev_user = app.create_user("dev@a.io", false).await;
    let (status, _) = app
        .post(
            &format!("org/{org}/register/"),
            &owner,
            json!({"user": dev_user.slug, "role": "d1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let developer = app.login("dev@a.io").await;
    let outsider = app.user("outsider@b.io").await;
    app.post("org/", &outsider, json!({"name": "Other Org"}))
        .await;

    let (_, project) = app
        .post("project/", &owner, json!({"name": "P", "org": org}))
        .await;
    for id in [0x31, 0x32, 0x33] {
        let (status, _) = app
            .post(
                "device/?staff=1",
                &staff,
                json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    for id in ["d--0000-0000-0000-0031", "d--0000-0000-0000-0032"] {
        let (status, _) = app
            .post(
                "device/claim/",
                &owner,
                json!({"device": id, "project": project["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }

    // Only can_manage_ota creates: developers yes, owners and outsiders no.
    let body = json!({"name": "Gateways", "org": org, "is_network": true});
    assert_eq!(
        app.post("fleet/", &owner, body.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("fleet/", &outsider, body.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, fleet) = app.post("fleet/", &developer, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{fleet}");
    assert_eq!(fleet["slug"], "g--0000-0000-0001");
    assert_eq!(fleet["id"], 1);
    assert_eq!(
        (fleet["org"].as_str(), fleet["is_network"].as_bool()),
        (Some(org.as_str()), Some(true))
    );
    let (status, dup) = app.post("fleet/", &developer, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{dup}");
    let (status, second) = app
        .post("fleet/", &developer, json!({"name": "Pumps", "org": org}))
        .await;
    assert_eq!(
        (status, second["id"].clone()),
        (StatusCode::CREATED, json!(2))
    );
    let (status, wrong) = app
        .post("fleet/", &developer, json!({"name": 5, "org": org}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}");

    // Members.
    let reg = |device: &str| json!({"device": device, "always_on": true});
    assert_eq!(
        app.post(
            "fleet/g--0000-0000-0001/register/",
            &owner,
            reg("d--0000-0000-0000-0031")
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, member) = app
        .post(
            "fleet/g--0000-0000-0001/register/",
            &developer,
            reg("d--0000-0000-0000-0031"),
        )
        .await;
    assert_eq!(
        (status, member),
        (
            StatusCode::CREATED,
            json!({"device": "d--0000-0000-0000-0031", "always_on": true, "is_access_point": false})
        )
    );
    let (status, again) = app
        .post(
            "fleet/g--0000-0000-0001/register/",
            &developer,
            reg("d--0000-0000-0000-0031"),
        )
        .await;
    assert_eq!(
        (status, again),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Device d--0000-0000-0000-0031 already exists in fleet"})
        )
    );
    app.post(
        "fleet/g--0000-0000-0001/register/",
        &developer,
        reg("d--0032"),
    )
    .await;
    // An unclaimed device belongs to no org, so it cannot join; an unknown one is not found.
    let (status, _) = app
        .post(
            "fleet/g--0000-0000-0001/register/",
            &staff,
            reg("d--0000-0000-0000-0033"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.post(
            "fleet/g--0000-0000-0001/register/",
            &developer,
            reg("d--0000-0000-0000-0999")
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );

    let page = app.ok("fleet/g--0001/devices/?page_size=1", &owner).await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][0]["device"], "d--0000-0000-0000-0031");
    let next = page["next"].as_str().unwrap();
    assert!(next.contains("page=2"), "{next}");
    assert!(
        next.starts_with(&app.url("fleet/g--0001/devices/?")),
        "links carry the whole path: {next}"
    );

    // By device, as coretools' get_whitelist asks, and by network flag.
    let by_device = app.ok("fleet/?device=d--0000-0000-0000-0031", &owner).await;
    assert_eq!(by_device["count"], 1);
    assert_eq!(by_device["results"][0]["slug"], "g--0000-0000-0001");
    assert_eq!(
        app.ok("fleet/?is_network=0", &owner).await["results"][0]["name"],
        "Pumps"
    );
    assert_eq!(
        app.get("fleet/?device=d--0000-0000-0000-0999", &owner)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Outsiders see nothing of it.
    assert_eq!(app.ok("fleet/", &outsider).await["count"], 0);
    assert_eq!(
        app.get("fleet/g--0000-0000-0001/", &outsider).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("fleet/g--0000-0000-0001/devices/", &outsider)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("fleet/?device=d--0000-0000-0000-0031", &outsider)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("fleet/p--0000-0001/", &owner).await.0,
        StatusCode::NOT_FOUND
    );

    // Changes and departures.
    let (status, patched) = app
        .patch(
            "fleet/g--0000-0000-0002/",
            &developer,
            json!({"description": "irrigation"}),
        )
        .await;
    assert_eq!(
        (status, patched["description"].clone()),
        (StatusCode::OK, json!("irrigation"))
    );
    assert_eq!(
        app.patch(
            "fleet/g--0000-0000-0002/",
            &developer,
            json!({"name": "Gateways"})
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (status, _) = app
        .post(
            "fleet/g--0000-0000-0001/deregister/",
            &developer,
            json!({"device": "d--0000-0000-0000-0031"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = app
        .post(
            "fleet/g--0000-0000-0001/deregister/",
            &developer,
            json!({"device": "d--0000-0000-0000-0031"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Device not found"})
        )
    );
    assert_eq!(
        app.ok("fleet/g--0000-0000-0001/devices/", &owner).await["count"],
        1
    );
    assert_eq!(
        app.delete("fleet/g--0000-0000-0002/", &owner).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete("fleet/g--0000-0000-0002/", &developer).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("fleet/g--0000-0000-0002/", &developer).await.0,
        StatusCode::NOT_FOUND
    );
});
