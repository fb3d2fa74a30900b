//! Stream events: posting, reading, file uploads and malformed bodies (spec 3.9), on both backends.

#![allow(clippy::unwrap_used)]

mod common;
mod stream_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};

use stream_setup::*;

backends!(
    events_posted_and_read_back,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        create_streams(&app, &owner).await;

        let (status, event) = app
            .post(
                "event/",
                &owner,
                json!({"stream": "s--77--d2--5001", "timestamp": "2024-01-01T00:00:01.5Z",
                   "extra_data": {"peak": 3}, "streamer_local_id": 7, "data": {"x": [1, 2]}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{event}");
        assert_eq!(event["stream"], STREAM);
        assert_eq!(event["timestamp"], "2024-01-01T00:00:01.500000Z");
        assert_eq!(event["has_raw_data"], true);
        assert_eq!(event["extra_data"], json!({"peak": 3}));
        assert_eq!(event["device"], DEVICE);
        assert_eq!(event["streamer_local_id"], 7);
        let id = event["id"].as_i64().unwrap();
        let (status, body) = app
        .post(
            "event/",
            &owner,
            json!([
                {"stream": STREAM, "timestamp": "2024-01-01T00:00:02Z", "extra_data": {"note": "\"error\": no"}},
                {"stream": STREAM, "timestamp": "2024-01-01T00:00:03Z", "extra_data": {"error": "bad"}}
            ]),
        )
        .await;
        assert_eq!((status, body), (StatusCode::CREATED, json!({"count": 2})));
        let (status, _) = app
            .post(
                "event/",
                &owner,
                json!({"stream": STREAM, "timestamp": "soon"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = app
            .post(
                "event/",
                &owner,
                json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:03Z", "extra_data": [1]}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // Events with an error in their summary are left out, unless staff ask for them.
        let filter = format!("event/?filter={STREAM}");
        let list = app.ok(&filter, &owner).await;
        assert_eq!(list["count"], 2);
        let staff = app.staff("root@arch.io").await;
        assert_eq!(
            app.ok(&format!("{filter}&with_errors=1"), &staff).await["count"],
            3
        );
        assert_eq!(
            app.ok(&format!("{filter}&with_errors=1"), &owner).await["count"],
            2
        );
        assert_eq!(
            app.ok(&format!("{filter}&lastn=1"), &owner).await["count"],
            1
        );
        assert_eq!(app.ok("event/?filter=p--77", &owner).await["count"], 0);
        let (status, _) = app.get(&format!("{filter}&lastn=0"), &owner).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        assert_eq!(app.ok(&format!("event/{id}/"), &owner).await["id"], id);
        assert_eq!(
            app.ok(&format!("event/{id}/data/"), &owner).await,
            json!({"x": [1, 2]})
        );
        // By stream, reading id, then time: the event with reading id 7 comes last.
        assert_eq!(list["results"][1]["id"], id);
        let other = list["results"][0]["id"].as_i64().unwrap();
        let (status, body) = app.get(&format!("event/{other}/data/"), &owner).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({"error": "Event has no data"}))
        );
        let (status, _) = app.get("event/999999/", &owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app.get("event/abc/", &owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let eve = outsider(&app).await;
        for path in [
            filter.clone(),
            format!("event/{id}/"),
            format!("event/{id}/data/"),
        ] {
            let (status, _) = app.get(&path, &eve).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        }
        let r1 = member(&app, "op@acme.io", "r1").await;
        let (status, _) = app.get(&format!("event/{id}/data/"), &r1).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);

backends!(
    events_uploaded_as_files,
    |app: common::TestApp| async move {
        use std::io::Write;
        let owner = setup(&app).await;
        create_streams(&app, &owner).await;
        let fields = [
            ("stream", STREAM),
            ("timestamp", "2024-01-01T00:00:01Z"),
            ("streamer_local_id", "12"),
            ("encoded_extra_data", r#"{"peak": 4}"#),
        ];
        let (status, body) =
            upload(&app, &owner, &fields, Some(("trip.json", br#"{"a": [1]}"#))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["stream"], STREAM);
        assert_eq!(body["streamer_local_id"], 12);
        assert_eq!(
            serde_json::from_str::<Value>(body["encoded_extra_data"].as_str().unwrap()).unwrap(),
            json!({"peak": 4})
        );
        let id = body["id"].as_i64().unwrap();
        assert_eq!(
            app.ok(&format!("event/{id}/data/"), &owner).await,
            json!({"a": [1]})
        );
        assert_eq!(
            app.ok(&format!("event/{id}/"), &owner).await["extra_data"],
            json!({"peak": 4})
        );

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(br#"{"b": 2}"#).unwrap();
        let zipped = gz.finish().unwrap();
        let (status, body) = upload(&app, &owner, &fields, Some(("trip.json.gz", &zipped))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_i64().unwrap();
        assert_eq!(
            app.ok(&format!("event/{id}/data/"), &owner).await,
            json!({"b": 2})
        );

        let (status, body) = upload(&app, &owner, &fields, None).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "missing request.data['file']"})
            )
        );
        let (status, _) = upload(&app, &owner, &fields, Some(("trip.csv", b"a,b"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = upload(&app, &owner, &fields, Some(("trip.json", b"{not json"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let bad_extra = [
            ("stream", STREAM),
            ("timestamp", "2024-01-01T00:00:01Z"),
            ("encoded_extra_data", "[1]"),
        ];
        let (status, _) = upload(&app, &owner, &bad_extra, Some(("t.json", b"{}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) =
            upload(&app, &owner, &[("stream", STREAM)], Some(("t.json", b"{}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["timestamp"], json!(["This field is required."]));
        let eve = outsider(&app).await;
        let (status, _) = upload(&app, &eve, &fields, Some(("t.json", b"{}"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Not multipart at all.
        let (status, _) = app
            .post("event/upload/", &owner, json!({"stream": STREAM}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
);

backends!(
    malformed_bodies_are_refused,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        for path in [
            "data/",
            "event/",
            "stream/",
            "property/",
            "note/",
            "location/",
        ] {
            let response = app
                .client
                .post(app.url(path))
                .header("Authorization", format!("jwt {owner}"))
                .header("Content-Type", "application/json")
                .body("{\"stream\": ")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
            let body: Value = response.json().await.unwrap();
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("JSON parse error"),
                "{path}: {body}"
            );
        }
        // Wrong field types.
        let (status, body) = app
            .post(
                "data/",
                &owner,
                json!([{"stream": 5, "timestamp": "2024-01-01T00:00:00Z"}]),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["stream"].is_array(), "{body}");
        let (status, _) = app
            .post(
                "location/",
                &owner,
                json!({"target": DEVICE, "timestamp": 3, "lat": 1, "lon": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = app.post("location/", &owner, json!([])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // Unauthenticated.
        let (status, _) = app
            .call(
                reqwest::Method::GET,
                &format!("data/?filter={STREAM}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
);
