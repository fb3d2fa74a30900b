//! Fleets and their members (spec 3.11), on both backends.

#![allow(clippy::unwrap_used)]

mod common;
mod device_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};

use cloud::store::orgs;
use cloud::time::now_micros;
use device_setup::*;

const DEVICE: &str = "d--0000-0000-0000-000a";
const SECOND: &str = "d--0000-0000-0000-000b";
const FOREIGN: &str = "d--0000-0000-0000-000c";

/// A developer (d1, the only role with can_manage_ota) added to an org; returns a token.
async fn developer(app: &common::TestApp, org: &str) -> String {
    let pool = &app.state.db.meta;
    let email = format!("dev-{org}@{org}.io");
    let user = app.create_user(&email, false).await;
    let org = orgs::by_slug(pool, org).await.unwrap().unwrap();
    orgs::add_member(pool, user.id, &org.id, "d1", now_micros())
        .await
        .unwrap();
    app.login(&email).await
}

/// Acme holds devices 10 and 11, other holds device 12; each org has a developer.
struct Fleets {
    w: World,
    dev: String,
    other_dev: String,
}

async fn setup(app: &common::TestApp) -> Fleets {
    let w = claimed(app).await;
    for (id, org) in [(11, &w.acme), (12, &w.other)] {
        let (status, body) = app
            .post(
                "device/?staff=1",
                &w.staff,
                json!({"template": DT, "sg": SG, "id": id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let project = if id == 11 {
            "p--0000-0001"
        } else {
            "p--0000-0002"
        };
        let (status, body) = app
            .post(
                "device/claim/",
                &org.owner,
                json!({"device": format!("d--0000-0000-0000-{id:04x}"), "project": project}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let dev = developer(app, "acme").await;
    let other_dev = developer(app, "other").await;
    Fleets { w, dev, other_dev }
}

async fn create(app: &common::TestApp, token: &str, body: Value) -> Value {
    let (status, fleet) = app.post("fleet/", token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{fleet}");
    fleet
}

fn slugs(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["slug"].as_str().unwrap().to_string())
        .collect()
}

backends!(
    fleets_are_created_by_developers_only,
    |app: common::TestApp| async move {
        let Fleets { w, dev, other_dev } = setup(&app).await;
        let body = json!({"name": "Pumps", "org": "acme", "description": "all pumps"});
        // Owners, members and operators lack can_manage_ota; outsiders are not in the org.
        for token in [&w.acme.owner, &w.acme.member, &w.acme.operator, &other_dev] {
            let (status, answer) = app.post("fleet/", token, body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        }
        assert_eq!(app.ok("fleet/", &dev).await["count"], 0);

        let fleet = create(&app, &dev, body.clone()).await;
        assert_eq!(fleet["slug"], "g--0000-0000-0001");
        assert_eq!(fleet["id"], 1);
        assert_eq!(fleet["name"], "Pumps");
        assert_eq!(fleet["org"], "acme");
        assert_eq!(fleet["description"], "all pumps");
        assert_eq!(fleet["is_network"], false);
        assert!(fleet["created_by"]
            .as_str()
            .unwrap()
            .starts_with("dev-acme"));
        assert!(fleet["created_on"].as_str().unwrap().ends_with('Z'));

        // The same name in the same org is refused; in another org it is fine.
        let (status, answer) = app.post("fleet/", &dev, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let second = create(
            &app,
            &other_dev,
            json!({"name": "Pumps", "org": "other", "is_network": true}),
        )
        .await;
        // The id is the number inside the slug, as coretools' fleet_id_to_slug expects.
        assert_eq!(second["id"], 2);
        assert_eq!(second["slug"], "g--0000-0000-0002");
        assert_eq!(second["is_network"], true);

        // Bad input: blank name, unknown org, wrong types, malformed JSON.
        for bad in [
            json!({"name": " ", "org": "acme"}),
            json!({"name": "X", "org": "nope"}),
            json!({"name": 5, "org": "acme"}),
            json!({"name": "X", "org": "acme", "is_network": "maybe"}),
            json!({"org": "acme"}),
        ] {
            let (status, answer) = app.post("fleet/", &dev, bad.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
        }
        let response = app
            .client
            .post(app.url("fleet/"))
            .header("Authorization", format!("jwt {dev}"))
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);

        // Lists hold only the caller's orgs; staff see all with ?staff=1.
        assert_eq!(
            slugs(&app.ok("fleet/", &w.acme.owner).await),
            ["g--0000-0000-0001"]
        );
        assert_eq!(
            slugs(&app.ok("fleet/", &other_dev).await),
            ["g--0000-0000-0002"]
        );
        assert_eq!(app.ok("fleet/?staff=1", &w.staff).await["count"], 2);
        assert_eq!(app.ok("fleet/?org=other", &dev).await["count"], 0);
    }
);

backends!(
    fleet_detail_change_and_delete,
    |app: common::TestApp| async move {
        let Fleets { w, dev, other_dev } = setup(&app).await;
        let fleet = create(&app, &dev, json!({"name": "Pumps", "org": "acme"})).await;
        create(&app, &dev, json!({"name": "Taken", "org": "acme"})).await;

        // Any member reads it, by any form of its slug; others get 404.
        for path in [
            "fleet/g--0000-0000-0001/",
            "fleet/g--0001/",
            "fleet/G--0000-0001/",
        ] {
            assert_eq!(app.ok(path, &w.acme.member).await, fleet, "{path}");
        }
        for (path, token) in [
            ("fleet/g--0000-0000-0001/", &other_dev),
            ("fleet/g--0000-0000-0001/devices/", &other_dev),
            ("fleet/g--0000-0000-0009/", &dev),
            ("fleet/g--0000-0000-0009/devices/", &dev),
            ("fleet/d--0000-0000-0000-0001/", &dev),
            ("fleet/p--0000-0001/devices/", &dev),
            ("fleet/nonsense/", &dev),
        ] {
            let (status, body) = app.get(path, token).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        }

        // Changes need can_manage_ota.
        let path = "fleet/g--0000-0000-0001/";
        let (status, _) = app
            .patch(path, &w.acme.owner, json!({"name": "Owned"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app.patch(path, &other_dev, json!({"name": "Mine"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = app.patch(path, &dev, json!({"name": "Taken"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = app.patch(path, &dev, json!({"is_network": 1})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = app
            .patch(path, &dev, json!({"name": "Valves", "is_network": true}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (
                body["name"].clone(),
                body["is_network"].clone(),
                body["id"].clone()
            ),
            (json!("Valves"), json!(true), json!(1))
        );
        let (status, body) = app
            .call(
                reqwest::Method::PUT,
                path,
                Some(&dev),
                Some(json!({"description": "d"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["description"], "d");
        assert_eq!(body["name"], "Valves");

        // Deleting: refused to the owner, done by the developer, then gone.
        let (status, _) = app.delete(path, &w.acme.owner).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app.delete(path, &dev).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(path, &dev).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The next fleet does not reuse a live id.
        let next = create(&app, &dev, json!({"name": "New", "org": "acme"})).await;
        assert_eq!(next["id"], 3);
        assert_eq!(next["slug"], "g--0000-0000-0003");
    }
);

backends!(
    devices_join_and_leave_fleets,
    |app: common::TestApp| async move {
        let Fleets { w, dev, other_dev } = setup(&app).await;
        create(&app, &dev, json!({"name": "Pumps", "org": "acme"})).await;
        create(
            &app,
            &dev,
            json!({"name": "Mesh", "org": "acme", "is_network": true}),
        )
        .await;
        let pumps = "fleet/g--0000-0000-0001/";
        let mesh = "fleet/g--0000-0000-0002/";

        // Only developers register, only devices of the fleet's org, once each.
        let join = json!({"device": DEVICE, "always_on": true});
        let (status, _) = app
            .post(&format!("{pumps}register/"), &w.acme.owner, join.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .post(&format!("{pumps}register/"), &other_dev, join.clone())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = app
            .post(&format!("{pumps}register/"), &dev, join.clone())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            body,
            json!({"device": DEVICE, "always_on": true, "is_access_point": false})
        );
        let (status, body) = app
            .post(&format!("{pumps}register/"), &dev, join.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"error": format!("Device {DEVICE} already exists in fleet")})
        );
        // Device 12 belongs to the other org: the developer here cannot see it.
        let (status, _) = app
            .post(
                &format!("{pumps}register/"),
                &dev,
                json!({"device": FOREIGN}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Staff see it, but it still is not acme's.
        let (status, body) = app
            .post(
                &format!("{pumps}register/?staff=1"),
                &w.staff,
                json!({"device": FOREIGN}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"].is_string());
        for bad in [
            json!({"device": "d--0000-0000-0000-0fff"}),
            json!({"device": "nonsense"}),
            json!({"device": 10}),
            json!({}),
            json!({"device": SECOND, "always_on": "yes"}),
        ] {
            let (status, body) = app
                .post(&format!("{pumps}register/"), &dev, bad.clone())
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
        let (status, _) = app
            .post(
                &format!("{pumps}register/"),
                &dev,
                json!({"device": "d--000b", "is_access_point": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = app
            .post(&format!("{mesh}register/"), &dev, json!({"device": SECOND}))
            .await;
        assert_eq!(status, StatusCode::CREATED);

        // Members, by device, paginated.
        let page = app.ok(&format!("{pumps}devices/"), &w.acme.member).await;
        assert_eq!(page["count"], 2);
        assert_eq!(
            page["results"],
            json!([
                {"device": DEVICE, "always_on": true, "is_access_point": false},
                {"device": SECOND, "always_on": false, "is_access_point": true},
            ])
        );
        let page = app
            .ok(
                &format!("{pumps}devices/?page_size=1&page=2"),
                &w.acme.member,
            )
            .await;
        assert_eq!(page["count"], 2);
        assert_eq!(page["results"][0]["device"], SECOND);

        // Fleets of a device (coretools get_whitelist), with the other filters.
        let of = |d: &str| format!("fleet/?device={d}");
        assert_eq!(
            slugs(&app.ok(&of(DEVICE), &w.acme.member).await),
            ["g--0000-0000-0001"]
        );
        assert_eq!(
            slugs(&app.ok(&of(SECOND), &w.acme.member).await),
            // By org, then name (spec 2.3): Mesh before Pumps.
            ["g--0000-0000-0002", "g--0000-0000-0001"]
        );
        assert_eq!(
            slugs(
                &app.ok(&format!("{}&is_network=true", of(SECOND)), &dev)
                    .await
            ),
            ["g--0000-0000-0002"]
        );
        assert_eq!(
            slugs(&app.ok("fleet/?is_network=0", &dev).await),
            ["g--0000-0000-0001"]
        );
        let (status, _) = app.get("fleet/?is_network=maybe", &dev).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(app.ok(&of(FOREIGN), &other_dev).await["count"], 0);
        for (device, token) in [
            ("d--0000-0000-0000-0fff", &dev),
            ("nonsense", &dev),
            (DEVICE, &other_dev),
        ] {
            let (status, body) = app.get(&of(device), token).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{device}: {body}");
        }
        // The other org's developer sees none of it.
        assert_eq!(app.ok("fleet/", &other_dev).await["count"], 0);

        // Leaving: 202, then the device is not found.
        let leave = json!({"device": DEVICE});
        let (status, _) = app
            .post(&format!("{pumps}deregister/"), &w.acme.owner, leave.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = app
            .post(&format!("{pumps}deregister/"), &dev, leave.clone())
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let (status, body) = app
            .post(&format!("{pumps}deregister/"), &dev, leave.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"error": "Device not found"}));
        let (status, body) = app
            .post(
                &format!("{mesh}deregister/"),
                &dev,
                json!({"device": "nonsense"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"error": "Device not found"}));
        assert_eq!(app.ok(&of(DEVICE), &dev).await["count"], 0);
        assert_eq!(app.ok(&format!("{pumps}devices/"), &dev).await["count"], 1);

        // Deleting a fleet removes its memberships.
        let (status, _) = app.delete(mesh, &dev).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let n = count(
            &app,
            "SELECT COUNT(*) FROM fleet_members WHERE CAST(fleet_id AS TEXT) = $1",
            "2",
        )
        .await;
        assert_eq!(n, 0);
    }
);
