//! Devices, claims, device keys, the catalogue and streamers (spec 3.5, 1.4, 3.10, 3.18–3.20),
//! on both backends.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use cloud::store::{orgs, streamers};
use cloud::time::now_micros;

const SG: &str = "water-meter-v1-1-0";
const DT: &str = "internaltestingtemplate-v0-1-0";

/// An org with an owner (a0), a member (m1) and an operator (r1), and one project
/// (gid 1) in it.
struct Org {
    owner: String,
    owner_slug: String,
    member: String,
    operator: String,
    project: String,
}

async fn org(app: &common::TestApp, slug: &str) -> Org {
    let pool = &app.state.db.meta;
    let owner_user = app
        .create_user(&format!("owner-{slug}@{slug}.io"), false)
        .await;
    let owner = app.login(&format!("owner-{slug}@{slug}.io")).await;
    let now = now_micros();
    let org_id = orgs::create(pool, slug, slug, "", owner_user.id, now)
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for role in ["m1", "r1"] {
        let email = format!("{role}-{slug}@{slug}.io");
        let user = app.create_user(&email, false).await;
        orgs::add_member(pool, user.id, &org_id, role, now)
            .await
            .unwrap();
        tokens.push(app.login(&email).await);
    }
    let gid: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects")
        .fetch_one(pool)
        .await
        .unwrap();
    let project = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO projects (id, gid, name, org_id, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&project)
    .bind(gid + 1)
    .bind(format!("{slug} project"))
    .bind(&org_id)
    .bind(now)
    .bind(owner_user.id)
    .execute(pool)
    .await
    .unwrap();
    let operator = tokens.pop().unwrap();
    let member = tokens.pop().unwrap();
    Org {
        owner,
        owner_slug: owner_user.slug,
        member,
        operator,
        project,
    }
}

async fn count(app: &common::TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&app.state.db.meta)
        .await
        .unwrap()
}

/// A GET with `Authorization: a-jwt <key>`.
async fn get_as_device(app: &common::TestApp, path: &str, key: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url(path))
        .header("Authorization", format!("a-jwt {key}"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

backends!(
    register_claim_patch_key_unclaim,
    |app: common::TestApp| async move {
        let staff = app.staff("staff@arch.io").await;
        let acme = org(&app, "acme").await;
        let other = org(&app, "other").await;

        // Registering is staff only, and only with ?staff=1.
        let new = json!({"template": DT, "sg": SG, "id": 10});
        let (status, body) = app.post("device/", &acme.owner, new.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, json!({"error": "Restricted Access. Contact Arch"}));
        assert_eq!(
            app.post("device/", &staff, new.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, body) = app.post("device/?staff=1", &staff, new.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["slug"], "d--0000-0000-0000-000a");
        assert_eq!(body["label"], "IOTile Device (000a)");
        assert_eq!(body["project"], Value::Null);
        let (status, body) = app.post("device/?staff=1", &staff, new).await;
        assert_eq!(
            (status, body["id"].is_array()),
            (StatusCode::BAD_REQUEST, true)
        );
        let (status, body) = app
            .post("device/?staff=1", &staff, json!({"template": "nope"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"template": ["Object with slug=nope does not exist."]})
        );
        let (status, body) = app.post("device/?staff=1", &staff, json!({"sg": SG})).await;
        assert_eq!(
            (status, body["template"].is_array()),
            (StatusCode::BAD_REQUEST, true)
        );

        // Unclaimed: no org, so only staff see it.
        assert_eq!(
            app.get("device/d--000a/", &acme.owner).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(app.ok("device/", &acme.owner).await["count"], 0);
        assert_eq!(app.ok("device/?staff=1", &staff).await["count"], 1);

        let (status, body) = app
            .post(
                "device/claimable/",
                &acme.owner,
                json!({"slugs": ["d--000a", "d--ffff", "x"]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(
            body,
            json!({"count": 1, "results": [{"slug": "d--0000-0000-0000-000a", "claimable": true}]})
        );

        // Claim: permission, errors, then success with variables and streams.
        let claim = |device: &str, project: &str| json!({"device": device, "project": project});
        let (status, body) = app
            .post("device/claim/", &acme.member, claim("d--000a", "p--0001"))
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::FORBIDDEN,
                json!({"detail": "No claim permissions"})
            )
        );
        let (status, body) = app
            .post("device/claim/", &acme.owner, claim("d--000a", "zz--1"))
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!({"detail": "Project is not a Valid Slug or UUID"})
            )
        );
        let unknown = uuid::Uuid::new_v4().to_string();
        assert_eq!(
            app.post("device/claim/", &acme.owner, claim("d--000a", &unknown))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.post("device/claim/", &acme.owner, claim("d--0bad", "p--0001"))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (status, body) = app
            .post("device/claim/", &acme.owner, json!({"device": 10}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = app
            .post("device/claim/", &acme.owner, claim("d--000a", "p--0001"))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(
            body,
            json!({"claimed": true, "device": "d--0000-0000-0000-000a",
                   "project": "p--0000-0001", "project_id": acme.project})
        );
        let (status, body) = app
            .post(
                "device/claim/",
                &acme.owner,
                claim("d--000a", &acme.project),
            )
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!({"detail": "Device is not claimable"})
            )
        );
        let vars = "SELECT COUNT(*) FROM variables WHERE project_id = $1";
        assert_eq!(count(&app, vars, &acme.project).await, 2);
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) FROM variables WHERE slug = $1",
                "v--0000-0001--5001"
            )
            .await,
            1
        );
        let stream = "s--0000-0001--0000-0000-0000-000a--5001";
        let row: (String, String, i64) =
            sqlx::query_as("SELECT data_type, mdo_type, var_lid FROM streams WHERE slug = $1")
                .bind(stream)
                .fetch_one(&app.state.db.meta)
                .await
                .unwrap();
        assert_eq!(row, ("D0".to_string(), "S".to_string(), 0x5001));

        // Detail by every slug form; wrong forms are 404, other orgs 403.
        for slug in [
            "d--000a",
            "d--0000-000a",
            "D--0000-0000-0000-000A",
            "b--0001-0000-0000-000a",
        ] {
            let body = app.ok(&format!("device/{slug}/"), &acme.member).await;
            assert_eq!(body["slug"], "d--0000-0000-0000-000a", "{slug}");
        }
        let body = app.ok("device/d--000a/", &acme.operator).await;
        assert_eq!(body["id"], 10);
        assert_eq!(body["gid"], "0000-0000-0000-000a");
        assert_eq!(body["org"], "acme");
        assert_eq!(body["project"], acme.project.as_str());
        assert_eq!(body["claimed_by"], acme.owner_slug.as_str());
        assert_eq!(body["sg"], SG);
        assert_eq!(body["template"], DT);
        assert_eq!(
            (body["state"].clone(), body["busy"].clone()),
            (json!("N1"), json!(false))
        );
        assert!(body["claimed_on"].is_string() && body["lat"].is_null());
        for slug in [
            "000a",
            "d--ffff",
            "p--0000-0001",
            "d--zz",
            "s--0000-0001--0000-0000-0000-000a--5001",
        ] {
            assert_eq!(
                app.get(&format!("device/{slug}/"), &acme.owner).await.0,
                StatusCode::NOT_FOUND,
                "{slug}"
            );
        }
        let (status, body) = app.get("device/d--000a/", &other.owner).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body["detail"],
            "You do not have permission to perform this action."
        );
        assert_eq!(app.ok("device/", &other.owner).await["count"], 0);

        // List filters.
        for (query, n) in [
            ("", 1),
            ("?project=p--0001", 1),
            (&format!("?project={}", acme.project) as &str, 1),
            ("?project=p--0002", 0),
            ("?project=garbage", 0),
            ("?org__slug=acme", 1),
            ("?org__slug=other", 0),
            ("?claimed=true", 1),
            ("?claimed=false", 0),
            (&format!("?sg={SG}") as &str, 1),
            ("?dt=pod-1m-v1-0-0", 0),
            ("?external_id=x", 0),
        ] {
            let body = app.ok(&format!("device/{query}"), &acme.member).await;
            assert_eq!(body["count"], n, "{query}");
        }

        // PATCH rules.
        let (status, body) = app
            .patch("device/d--000a/", &acme.operator, json!({"label": "x"}))
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::FORBIDDEN,
                json!({"detail": "User is not allowed to modify device"})
            )
        );
        assert_eq!(
            app.patch("device/d--000a/", &other.owner, json!({"label": "x"}))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let (status, body) = app
            .patch("device/d--000a/", &acme.member, json!({"sg": "nope"}))
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!({"sg": ["Object with slug=nope does not exist."]})
            )
        );
        let (status, body) = app
            .patch(
                "device/d--000a/",
                &acme.member,
                json!({"label": "Pump", "template": "pod-1m-v1-0-0",
                                                           "lat": "37.123456", "lon": -122.5}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["label"], "Pump");
        assert_eq!(body["template"], DT, "template is ignored for users");
        assert_eq!(
            (body["lat"].clone(), body["lon"].clone()),
            (json!("37.123456"), json!("-122.5"))
        );
        let body = app
            .patch(
                "device/d--000a/?staff=1",
                &staff,
                json!({"template": "pod-1m-v1-0-0"}),
            )
            .await
            .1;
        assert_eq!(body["template"], "pod-1m-v1-0-0");
        for bad in [
            json!({"active": "yes"}),
            json!({"state": "Z9"}),
            json!({"lat": "north"}),
            json!({"project": "p--0999"}),
            json!({"project": other.project}),
        ] {
            let (status, body) = app
                .patch("device/d--000a/", &acme.member, bad.clone())
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
        let response = app
            .client
            .patch(app.url("device/d--000a/"))
            .header("Authorization", format!("jwt {}", acme.member))
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = app
            .patch("device/d--000a/", &acme.member, json!({"state": "N0"}))
            .await
            .1;
        assert_eq!(
            (body["active"].clone(), body["state"].clone()),
            (json!(false), json!("N0"))
        );
        assert_eq!(app.ok("device/", &acme.member).await["count"], 0);
        assert_eq!(app.ok("device/?all=1", &acme.member).await["count"], 1);
        assert_eq!(
            app.ok("device/d--000a/", &acme.member).await["active"],
            false
        );
        let body = app
            .patch("device/d--000a/", &acme.member, json!({"state": "N1"}))
            .await
            .1;
        assert_eq!(body["active"], true);

        // Device keys.
        let (status, body) = app.get("device/d--000a/key/", &acme.member).await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, json!({"msg": "No type specified"}))
        );
        let (status, body) = app.get("device/d--000a/key/?type=ssh", &acme.member).await;
        assert_eq!(
            (status, body),
            (StatusCode::FORBIDDEN, json!({"msg": "No key available"}))
        );
        assert_eq!(
            app.get("device/d--000a/key/?type=a-jwt", &other.owner)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let key = app.ok("device/d--000a/key/?type=a-jwt", &acme.member).await["key"]
            .as_str()
            .unwrap()
            .to_string();
        let again = app.ok("device/d--000a/key/?type=a-jwt", &acme.owner).await;
        assert_eq!(again["key"], key.as_str(), "one secret per device");
        let (status, body) = get_as_device(&app, "device/d--000a/", &key).await;
        assert_eq!(
            (status, body["slug"].clone()),
            (StatusCode::OK, json!("d--0000-0000-0000-000a"))
        );

        // Streamers, as ingest records them.
        let pool = &app.state.db.meta;
        streamers::upsert(pool, 10, 0x100, Some(0x57ff), 5)
            .await
            .unwrap();
        streamers::upsert(pool, 10, 0x101, Some(0x5fff), 3)
            .await
            .unwrap();
        let s = streamers::upsert(pool, 10, 0x100, None, 2).await.unwrap();
        assert_eq!(
            (s.last_id, s.selector),
            (5, Some(0x57ff)),
            "last_id never goes back"
        );
        let body = app.ok("streamer/?device=d--000a", &acme.member).await;
        assert_eq!(body["count"], 2);
        assert_eq!(body["results"][0]["slug"], "t--0000-0000-0000-000a--0100");
        assert_eq!(body["results"][0]["device"], "d--0000-0000-0000-000a");
        assert_eq!(body["results"][1]["is_system"], true);
        assert_eq!(
            app.ok("streamer/?selector=0x5fff", &acme.member).await["count"],
            1
        );
        assert_eq!(
            app.ok("streamer/?device=d--000a", &other.owner).await["count"],
            0
        );
        let (status, body) = app.get("streamer/?device=qq--1", &acme.member).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Illegal device format."));
        assert_eq!(
            app.get("streamer/?device=d--0bad", &acme.member).await.0,
            StatusCode::NOT_FOUND
        );
        let body = app
            .ok("streamer/t--0000-0000-0000-000a--0100/", &acme.member)
            .await;
        assert_eq!(body["last_id"], 5);
        assert_eq!(
            app.get("streamer/t--000a--100/", &other.owner).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("streamer/t--000a--7/", &acme.owner).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("streamer/nonsense/", &acme.owner).await.0,
            StatusCode::NOT_FOUND
        );
        let (status, body) = get_as_device(&app, "streamer/?device=d--000a", &key).await;
        assert_eq!((status, body["count"].clone()), (StatusCode::OK, json!(2)));
        let list = app.ok("device/d--000a/streamers/", &acme.member).await;
        assert_eq!(list.as_array().map(Vec::len), Some(2));

        // Stored rows show in `extra`.
        sqlx::query("INSERT INTO stream_data (stream_slug, device_slug, timestamp, int_value) VALUES ($1, $2, 0, 1)")
            .bind(stream)
            .bind("d--0000-0000-0000-000a")
            .execute(&app.state.db.data)
            .await
            .unwrap();
        let extra = app.ok("device/d--000a/extra/", &acme.member).await;
        assert_eq!(
            extra["stream_counts"][stream],
            json!({"has_streamid": true, "data_cnt": 1})
        );
        assert_eq!(app.ok("device/d--000a/sg/", &acme.member).await["slug"], SG);
        let tmpl = app.ok("device/d--000a/template/", &acme.member).await;
        assert_eq!(tmpl["slug"], "pod-1m-v1-0-0");
        assert!(tmpl.get("active").is_none());

        // Unclaim with clean_streams.
        let body = json!({"clean_streams": true, "label": "Old ({id})"});
        assert_eq!(
            app.post("device/d--000a/unclaim/", &acme.member, body.clone())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.post("device/d--000a/unclaim/", &other.owner, body.clone())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let (status, answer) = app.post("device/d--000a/unclaim/", &acme.owner, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer["unclaimed"], "d--0000-0000-0000-000a");
        assert_eq!(
            get_as_device(&app, "device/d--000a/", &key).await.0,
            StatusCode::UNAUTHORIZED
        );
        let device = app.ok("device/d--000a/?staff=1", &staff).await;
        assert_eq!(device["label"], "Old (000a)");
        assert_eq!(
            (device["project"].clone(), device["org"].clone()),
            (Value::Null, Value::Null)
        );
        assert_eq!(
            (device["lat"].clone(), device["claimed_by"].clone()),
            (Value::Null, Value::Null)
        );
        let by_device = |table: &str| format!("SELECT COUNT(*) FROM {table} WHERE device_id = $1");
        let n: i64 = sqlx::query_scalar(&by_device("streams"))
            .bind(10_i64)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        let n: i64 = sqlx::query_scalar(&by_device("streamers"))
            .bind(10_i64)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_data WHERE device_slug = $1")
            .bind("d--0000-0000-0000-000a")
            .fetch_one(&app.state.db.data)
            .await
            .unwrap();
        assert_eq!(n, 0);
        assert_eq!(
            count(&app, vars, &acme.project).await,
            2,
            "variables stay with the project"
        );
        assert_eq!(
            app.get("device/d--000a/", &acme.owner).await.0,
            StatusCode::FORBIDDEN
        );

        // Staff delete.
        assert_eq!(
            app.delete("device/d--000a/", &staff).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.delete("device/d--000a/?staff=1", &staff).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get("device/d--000a/?staff=1", &staff).await.0,
            StatusCode::NOT_FOUND
        );
    }
);

backends!(
    large_ids_create_with_project_and_plain_unclaim,
    |app: common::TestApp| async move {
        let staff = app.staff("staff@arch.io").await;
        let acme = org(&app, "acme").await;
        let (status, body) = app
            .post("device/?staff=1", &staff,
                  json!({"template": DT, "sg": SG, "id": 0x12345, "project": acme.project, "label": "Big"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["slug"], "d--0000-0000-0001-2345");
        assert_eq!(body["project"], acme.project.as_str());
        assert_eq!(body["org"], "acme");
        let streams = "SELECT COUNT(*) FROM streams WHERE project_id = $1";
        assert_eq!(count(&app, streams, &acme.project).await, 2);
        // Without an id the next one is taken.
        let body = app
            .post("device/?staff=1", &staff, json!({"template": DT}))
            .await
            .1;
        assert_eq!(body["id"], 0x12346);
        let (status, _) = app
            .post("device/?staff=1", &staff, json!({"template": DT, "id": -1}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = app
            .post(
                "device/?staff=1",
                &staff,
                json!({"template": DT, "id": 1_u64 << 48}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // coretools builds streamer slugs with more than 4 hex digits in the last group.
        streamers::upsert(&app.state.db.meta, 0x12345, 1, Some(0x5fff), 42)
            .await
            .unwrap();
        let body = app
            .ok("streamer/t--0000-0000-0000-12345--0001/", &acme.owner)
            .await;
        assert_eq!(body["slug"], "t--0000-0000-0001-2345--0001");
        assert_eq!(body["last_id"], 42);
        let body = app
            .ok(
                "streamer/?device=d--0000-0000-0001-2345&slug=t--12345--1",
                &acme.owner,
            )
            .await;
        assert_eq!(body["count"], 1);

        // A busy device cannot be unclaimed.
        let (status, _) = app
            .patch("device/d--12345/", &acme.owner, json!({"state": "B1"}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.ok("device/d--12345/", &acme.owner).await["busy"], true);
        let (status, _) = app
            .post("device/d--12345/unclaim/", &acme.owner, json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        app.patch("device/d--12345/", &acme.owner, json!({"state": "N1"}))
            .await;

        // Without clean_streams, streams and streamers stay; the label gets the default.
        let (status, _) = app
            .call(
                Method::POST,
                "device/d--12345/unclaim/",
                Some(&acme.owner),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(count(&app, streams, &acme.project).await, 2);
        let n: i64 = sqlx::query_scalar("SELECT last_id FROM streamers WHERE device_id = $1")
            .bind(0x12345_i64)
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
        assert_eq!(n, 42);
        let device = app.ok("device/d--12345/?staff=1", &staff).await;
        assert_eq!(device["label"], "Device (12345)");
        assert_eq!(device["claimed_on"], Value::Null);
        // Unclaimed devices drop out of the streamer scope.
        assert_eq!(app.ok("streamer/", &acme.owner).await["count"], 0);
        assert_eq!(
            app.get("streamer/t--0000-0000-0001-2345--0001/", &acme.owner)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
);

backends!(catalogue_reads, |app: common::TestApp| async move {
    let user = app.user("joe@arch.io").await;
    let staff = app.staff("staff@arch.io").await;
    let sgs = app.ok("sg/", &user).await;
    assert_eq!(sgs["count"], 4);
    assert!(sgs["results"][0].get("active").is_none());
    let sg = app.ok(&format!("sg/{SG}/"), &user).await;
    assert_eq!(sg["app_tag"], 1027);
    assert_eq!(sg["variable_templates"][0]["lid_hex"], "5001");
    let dt = app.ok(&format!("dt/{DT}/"), &user).await;
    assert_eq!(dt["os_tag"], 0);
    assert!(dt.get("active").is_none());
    let vt = app.ok("vartype/water-meter-volume/", &user).await;
    assert_eq!(vt["stream_data_type"], "D0");
    assert_eq!(app.ok("vartype/", &user).await["count"], 4);
    for path in ["sg/nope/", "dt/nope/", "vartype/nope/"] {
        assert_eq!(
            app.get(path, &user).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, _) = app.call(Method::GET, "sg/", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Inactive records: sensor graphs stay readable by slug, templates only for staff.
    for table in ["sensor_graphs", "device_templates"] {
        sqlx::query(&format!(
            "UPDATE {table} SET active = 0 WHERE slug = $1 OR slug = $2"
        ))
        .bind(SG)
        .bind(DT)
        .execute(&app.state.db.meta)
        .await
        .unwrap();
    }
    assert_eq!(app.ok("sg/", &user).await["count"], 3);
    assert_eq!(app.ok(&format!("sg/{SG}/"), &user).await["slug"], SG);
    assert_eq!(
        app.get(&format!("dt/{DT}/"), &user).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("dt/{DT}/"), &staff).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.ok(&format!("dt/{DT}/?staff=1"), &staff).await["slug"],
        DT
    );
    assert_eq!(app.ok("dt/", &user).await["count"], 2);
    assert_eq!(app.ok("dt/?staff=1", &staff).await["count"], 3);
});
