//! Streams, stream data, events, properties, notes and locations (spec 3.7–3.9, 3.13,
//! 3.15, 3.16), on both backends.

#![allow(clippy::unwrap_used)]

mod common;

use cloud::store::orgs;
use reqwest::StatusCode;
use serde_json::{json, Value};

const STREAM: &str = "s--0000-0077--0000-0000-0000-00d2--5001";
const VARIABLE: &str = "v--0000-0077--5001";
const DEVICE: &str = "d--0000-0000-0000-00d2";

/// An org (`acme`) owned by `owner@acme.io` with project gid 0x77, variable 5001 (output
/// unit doubling, one decimal place), an active device 0xd2 and an inactive device 0xd3.
/// Returns the owner's JWT.
async fn setup(app: &common::TestApp) -> String {
    let owner = app.create_user("owner@acme.io", false).await;
    let db = &app.state.db.meta;
    let now = cloud::time::now_micros();
    let org = orgs::create(db, "Acme", "acme", "", owner.id, now)
        .await
        .unwrap();
    let project = "7f3c9d52-0000-4000-8000-000000000077";
    sqlx::query(
        "INSERT INTO projects (id, gid, name, org_id, created_on, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(project)
    .bind(0x77_i64)
    .bind("Field")
    .bind(&org)
    .bind(now)
    .bind(owner.id)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO variables (id, slug, project_id, org_id, lid, name, output_unit, decimal_places, created_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind("7f3c9d52-0000-4000-8000-00000000a001")
    .bind(VARIABLE)
    .bind(project)
    .bind(&org)
    .bind(0x5001_i64)
    .bind("Temp")
    .bind(r#"{"slug":"out-double","unit_full":"Double","unit_short":"x2","m":2,"d":1,"o":0.0}"#)
    .bind(1_i64)
    .bind(now)
    .execute(db)
    .await
    .unwrap();
    for (id, active) in [(0xd2_i64, 1_i64), (0xd3, 0)] {
        sqlx::query(
            "INSERT INTO devices (id, slug, active, org_id, project_id, created_on) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(format!("d--0000-0000-0000-{id:04x}"))
        .bind(active)
        .bind(&org)
        .bind(project)
        .bind(now)
        .execute(db)
        .await
        .unwrap();
    }
    app.login("owner@acme.io").await
}

/// A user with `role` in acme; returns their JWT.
async fn member(app: &common::TestApp, email: &str, role: &str) -> String {
    let user = app.create_user(email, false).await;
    let org = orgs::by_slug(&app.state.db.meta, "acme")
        .await
        .unwrap()
        .unwrap();
    orgs::add_member(
        &app.state.db.meta,
        user.id,
        &org.id,
        role,
        cloud::time::now_micros(),
    )
    .await
    .unwrap();
    app.login(email).await
}

/// A user with an org of their own.
async fn outsider(app: &common::TestApp) -> String {
    let user = app.create_user("eve@other.io", false).await;
    orgs::create(
        &app.state.db.meta,
        "Other",
        "other",
        "",
        user.id,
        cloud::time::now_micros(),
    )
    .await
    .unwrap();
    app.login("eve@other.io").await
}

fn stamps(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["timestamp"].as_str().unwrap().to_string())
        .collect()
}

async fn create_streams(app: &common::TestApp, jwt: &str) {
    let (status, body) = app
        .post(
            "stream/",
            jwt,
            json!({"variable": VARIABLE, "device": "d--d2", "data_label": "T"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["slug"], STREAM);
    assert_eq!(body["project"], "p--0000-0077");
    assert_eq!(body["device"], DEVICE);
    assert_eq!(body["variable"], VARIABLE);
    assert_eq!(body["org"], "acme");
    assert_eq!(body["block"], Value::Null);
    assert_eq!(body["mdo_type"], "S");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["output_unit"]["m"], 2);
    let (status, _) = app
        .post(
            "stream/",
            jwt,
            json!({"variable": VARIABLE, "device": "d--d3"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Again: a duplicate. Unknown variable and unknown device.
    let (status, _) = app
        .post(
            "stream/",
            jwt,
            json!({"variable": VARIABLE, "device": "d--d2"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post("stream/", jwt, json!({"variable": "v--0000-0077--5999"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["variable"].is_array());
    let (status, _) = app
        .post(
            "stream/",
            jwt,
            json!({"variable": VARIABLE, "device": "d--99"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.post("stream/", jwt, json!({"device": "d--d2"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["variable"], json!(["This field is required."]));
}

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

/// A multipart body with text fields and an optional file, and its content type.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "xYzBoundary7";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((filename, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &common::TestApp,
    jwt: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> (StatusCode, Value) {
    let (content_type, body) = multipart(fields, file);
    let response = app
        .client
        .post(app.url("event/upload/"))
        .header("Authorization", format!("jwt {jwt}"))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

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
