//! Devices, claims and device keys (spec 3.5, 1.4), on both backends.

#![allow(clippy::unwrap_used)]

mod common;
mod device_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};

use device_setup::*;

backends!(
    registering_and_deleting_is_staff_only,
    |app: common::TestApp| async move {
        let World { staff, acme, other } = registered(&app).await;
        let _ = (&staff, &other);
        // Registering is staff only, and only with ?staff=1.
        let new = json!({"template": DT, "sg": SG, "id": 10});
        let (status, body) = app.post("device/", &acme.owner, new.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, json!({"error": "Restricted Access. Contact Arch"}));
        assert_eq!(
            app.post("device/", &staff, new.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        let body = app.ok("device/d--000a/?staff=1", &staff).await;
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
    claim_creates_variables_and_streams,
    |app: common::TestApp| async move {
        let World { staff, acme, other } = registered(&app).await;
        let _ = (&staff, &other);
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
        assert_eq!(count(&app, VARS, &acme.project).await, 2);
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) FROM variables WHERE slug = $1",
                "v--0000-0001--5001"
            )
            .await,
            1
        );
        let row: (String, String, i64) =
            sqlx::query_as("SELECT data_type, mdo_type, var_lid FROM streams WHERE slug = $1")
                .bind(STREAM)
                .fetch_one(&app.state.db.meta)
                .await
                .unwrap();
        assert_eq!(row, ("D0".to_string(), "S".to_string(), 0x5001));
    }
);
backends!(
    detail_and_list_by_every_slug_form,
    |app: common::TestApp| async move {
        let World { staff, acme, other } = claimed(&app).await;
        let _ = (&staff, &other);
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
    }
);
backends!(patch_rules, |app: common::TestApp| async move {
    let World { staff, acme, other } = claimed(&app).await;
    let _ = (&staff, &other);
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
});
backends!(
    key_streamers_extra_and_unclaim,
    |app: common::TestApp| async move {
        let World { staff, acme, other } = claimed(&app).await;
        let _ = (&staff, &other);
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

        let pool = &app.state.db.meta;
        // Stored rows show in `extra`.
        sqlx::query("INSERT INTO stream_data (stream_slug, device_slug, timestamp, int_value) VALUES ($1, $2, 0, 1)")
            .bind(STREAM)
            .bind("d--0000-0000-0000-000a")
            .execute(&app.state.db.data)
            .await
            .unwrap();
        let extra = app.ok("device/d--000a/extra/", &acme.member).await;
        assert_eq!(
            extra["stream_counts"][STREAM],
            json!({"has_streamid": true, "data_cnt": 1})
        );
        assert_eq!(app.ok("device/d--000a/sg/", &acme.member).await["slug"], SG);
        let tmpl = app.ok("device/d--000a/template/", &acme.member).await;
        assert_eq!(tmpl["slug"], DT);
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
            count(&app, VARS, &acme.project).await,
            2,
            "variables stay with the project"
        );
        assert_eq!(
            app.get("device/d--000a/", &acme.owner).await.0,
            StatusCode::FORBIDDEN
        );

        // Claimed again into the same project: the old token stays dead, a new one works.
        let claim = json!({"device": "d--000a", "project": acme.project});
        let (status, _) = app.post("device/claim/", &acme.owner, claim).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(
            get_as_device(&app, "device/d--000a/", &key).await.0,
            StatusCode::UNAUTHORIZED
        );
        let fresh = app.ok("device/d--000a/key/?type=a-jwt", &acme.owner).await["key"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(fresh, key);
        assert_eq!(
            get_as_device(&app, "device/d--000a/", &fresh).await.0,
            StatusCode::OK
        );
    }
);
