//! Stream data: posting, reading, rows by id and CSV export (spec 3.8), on both backends.

#![allow(clippy::unwrap_used)]

mod common;
mod stream_setup;

use reqwest::StatusCode;
use serde_json::{json, Value};

use stream_setup::*;

backends!(
    data_posted_and_read_back,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        create_streams(&app, &owner).await;

        let rows: Vec<Value> = [(1, 10, 3), (2, 20, 2), (3, 30, 1)]
            .iter()
            .map(|(s, v, id)| {
                json!({"stream": STREAM, "timestamp": format!("2024-01-01T00:00:0{s}Z"),
                   "int_value": v, "streamer_local_id": id})
            })
            .collect();
        let (status, body) = app.post("data/", &owner, json!(rows)).await;
        assert_eq!((status, body), (StatusCode::CREATED, json!({"count": 3})));
        let (status, row) = app
        .post(
            "data/",
            &owner,
            json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:04.250Z", "value": 1.5, "type": "ITR"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{row}");
        assert_eq!(row["type"], "ITR");
        assert_eq!(row["value"], 1.5);
        assert_eq!(row["int_value"], Value::Null);
        assert_eq!(row["timestamp"], "2024-01-01T00:00:04Z");
        assert_eq!(row["project"], "p--0000-0077");
        assert_eq!(row["device"], DEVICE);
        assert_eq!(row["variable"], VARIABLE);
        assert_eq!(row["streamer_local_id"], 0);
        assert_eq!(row["status"], "unk");
        assert_eq!(row["dirty_ts"], false);
        for bad in [
            json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:05Z", "int_value": 1, "value": 1.0}),
            json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:05Z"}),
            json!({"stream": STREAM, "timestamp": "yesterday", "int_value": 1}),
            json!({"stream": "s--x", "timestamp": "2024-01-01T00:00:05Z", "int_value": 1}),
            json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:05Z", "int_value": "ten"}),
        ] {
            let (status, body) = app.post("data/", &owner, bad.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} gave {body}");
        }

        // Default order: reading id, stream, time.
        let filter = format!("data/?filter={STREAM}");
        let all = app.ok(&filter, &owner).await;
        assert_eq!(all["count"], 4);
        let ids: Vec<i64> = all["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["streamer_local_id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        assert_eq!(all["results"][1]["int_value"], 30);
        assert_eq!(all["results"][1]["value"], 30.0);
        // lastn: the newest by time, ascending.
        let last = app.ok(&format!("{filter}&lastn=2"), &owner).await;
        assert_eq!(
            stamps(&last),
            ["2024-01-01T00:00:03Z", "2024-01-01T00:00:04Z"]
        );
        let window = app
            .ok(
                &format!("{filter}&start=2024-01-01T00:00:02Z&end=2024-01-01T00:00:04Z"),
                &owner,
            )
            .await;
        assert_eq!(window["count"], 2);
        let by_reading = app
            .ok(&format!("{filter}&streamer_id_0=2&streamer_id_1=3"), &owner)
            .await;
        assert_eq!(by_reading["count"], 2);
        let paged = app
            .ok(&format!("{filter}&page_size=3&page=2"), &owner)
            .await;
        assert_eq!(paged["results"].as_array().unwrap().len(), 1);
        // Other filters: short stream slug, device, variable; project or none gives nothing.
        assert_eq!(
            app.ok("data/?filter=s--77--d2--5001", &owner).await["count"],
            4
        );
        assert_eq!(app.ok("data/?filter=d--d2", &owner).await["count"], 4);
        assert_eq!(
            app.ok(&format!("data/?filter={VARIABLE}"), &owner).await["count"],
            4
        );
        assert_eq!(app.ok("data/?filter=d--d3", &owner).await["count"], 0);
        assert_eq!(
            app.ok("data/?filter=p--0000-0077", &owner).await["count"],
            0
        );
        assert_eq!(app.ok("data/", &owner).await["count"], 0);
        let (status, body) = app.get(&format!("{filter}&lastn=0"), &owner).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!(["lastn must be greater than 0"])
            )
        );
        let (status, _) = app.get(&format!("{filter}&lastn=abc"), &owner).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = app.get(&format!("{filter}&start=notadate"), &owner).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = app.get("data/?filter=d--99", &owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // stream/{slug}/data/: by time, with output and display values.
        let data = app.ok("stream/s--77--d2--5001/data/", &owner).await;
        assert_eq!(data["count"], 4);
        assert_eq!(
            stamps(&data),
            [
                "2024-01-01T00:00:01Z",
                "2024-01-01T00:00:02Z",
                "2024-01-01T00:00:03Z",
                "2024-01-01T00:00:04Z"
            ]
        );
        let first = &data["results"][0];
        assert_eq!(first["int_value"], 10);
        assert_eq!(first["value"], 10.0);
        assert_eq!(first["output_value"], 20.0);
        assert_eq!(first["display_value"], "20.0");
        assert_eq!(first["type"], "Num");
        assert!(first.get("id").is_none());
        let path = format!("stream/{STREAM}/data/");
        assert_eq!(
            app.ok(&format!("{path}?lastn=-5"), &owner).await["count"],
            1
        );
        assert_eq!(app.ok(&format!("{path}?lastn=x"), &owner).await["count"], 4);
        assert_eq!(
            app.ok(&format!("{path}?start=junk"), &owner).await["count"],
            4
        );
        assert_eq!(
            app.ok(&format!("{path}?start=2024-01-01"), &owner).await["count"],
            4
        );
        assert_eq!(
            app.ok(&format!("{path}?end=2024-01-01"), &owner).await["count"],
            0
        );
        let (status, _) = app
            .get(
                "stream/s--0000-0077--0000-0000-0000-00d9--5001/data/",
                &owner,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Members read; operators may post but not read; outsiders do neither.
        let m1 = member(&app, "mia@acme.io", "m1").await;
        assert_eq!(app.ok(&filter, &m1).await["count"], 4);
        let r1 = member(&app, "op@acme.io", "r1").await;
        let (status, _) = app.get(&filter, &r1).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app.get(&path, &r1).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .post(
                "data/",
                &r1,
                json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:05Z", "int_value": 50}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let eve = outsider(&app).await;
        for path in [filter.clone(), "data/?filter=d--d2".into(), path.clone()] {
            let (status, body) = app.get(&path, &eve).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert!(body.get("results").is_none());
        }
        let (status, _) = app
            .post(
                "data/",
                &eve,
                json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:05Z", "int_value": 50}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Staff delete the stream and its data.
        let staff = app.staff("root@arch.io").await;
        let (status, _) = app.delete(&format!("stream/{STREAM}/"), &staff).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(app.ok(&filter, &owner).await["count"], 0);
        let (status, _) = app.get(&format!("stream/{STREAM}/"), &owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

backends!(
    rows_by_id_csv_and_event_edits,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        create_streams(&app, &owner).await;
        let (_, row) = app
            .post(
                "data/",
                &owner,
                json!({"stream": STREAM, "timestamp": "2024-01-02T03:04:05Z", "int_value": 7}),
            )
            .await;
        let id = row["id"].as_i64().unwrap();
        let (status, _) = app.get(&format!("data/{id}/"), &owner).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let staff = app.staff("root@arch.io").await;
        assert_eq!(app.ok(&format!("data/{id}/"), &staff).await["int_value"], 7);
        let (status, _) = app.get("data/999999/", &staff).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let csv = app.ok(&format!("stream/{STREAM}/csv/"), &owner).await;
        assert_eq!(csv, "Timestamp,Value\n2024/01/02 03:04:05,14\n");
        let eve = outsider(&app).await;
        let (status, _) = app.get(&format!("stream/{STREAM}/csv/"), &eve).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (_, event) = app
        .post(
            "event/",
            &owner,
            json!({"stream": STREAM, "timestamp": "2024-01-01T00:00:01Z", "extra_data": {"a": 1}}),
        )
        .await;
        let id = event["id"].as_i64().unwrap();
        assert_eq!(event["has_raw_data"], false);
        let (status, body) = app
            .patch(
                &format!("event/{id}/"),
                &owner,
                json!({"data": {"samples": [3]}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["has_raw_data"], true);
        assert_eq!(body["extra_data"], json!({"a": 1}));
        assert_eq!(
            app.ok(&format!("event/{id}/data/"), &owner).await,
            json!({"samples": [3]})
        );
        let (status, _) = app
            .patch(
                &format!("event/{id}/"),
                &owner,
                json!({"extra_data": "nope"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = app
            .patch(&format!("event/{id}/"), &eve, json!({"data": {}}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);
