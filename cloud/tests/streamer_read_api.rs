//! Streamers as gateways read them back (spec 3.10, read side), on both backends.

#![allow(clippy::unwrap_used)]

mod common;
mod device_setup;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use cloud::store::streamers;
use device_setup::*;

backends!(
    streamers_of_claimed_devices,
    |app: common::TestApp| async move {
        let World { acme, other, .. } = claimed(&app).await;
        let key = app.ok("device/d--000a/key/?type=a-jwt", &acme.member).await["key"]
            .as_str()
            .unwrap()
            .to_string();
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
