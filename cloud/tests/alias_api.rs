//! Stream aliases (spec 3.22) on both backends: an alias stitched by taps from two
//! devices' streams reads as one series through `data/` and `event/` (paged, `lastn`, time
//! windows), each tap holding until the next; who may manage aliases and read through them;
//! taps that point outside the alias's org are refused.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};

const T0: &str = "2026-03-01T00:00:";

fn at(second: u32) -> String {
    format!("{T0}{second:02}Z")
}

/// An org with two claimed devices, each with ten readings a second apart on its stream
/// 5001 (device 1: 100…109, device 2: 200…209), and a member of each lower role.
struct Setup {
    owner: String,
    member: String,
    operator: String,
    outsider: String,
    org: String,
    streams: [String; 2],
}

async fn setup(app: &common::TestApp) -> Setup {
    let staff = app.staff("staff@arch.io").await;
    let owner = app.user("owner@a.io").await;
    let (_, org) = app.post("org/", &owner, json!({"name": "Freight"})).await;
    let org = org["slug"].as_str().unwrap().to_string();
    let (_, project) = app
        .post("project/", &owner, json!({"name": "Trucks", "org": org}))
        .await;
    let mut streams = Vec::new();
    for (n, id) in [(1u32, 0x3001u32), (2, 0x3002)] {
        let body = json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        let (status, created) = app.post("device/?staff=1", &staff, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let device = format!("d--0000-0000-0000-{id:04x}");
        let (status, claimed) = app
            .post(
                "device/claim/",
                &owner,
                json!({"device": device, "project": project["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
        let gid = &claimed["project"].as_str().unwrap()[3..];
        let stream = format!("s--{gid}--0000-0000-0000-{id:04x}--5001");
        let rows: Vec<Value> = (0..10)
            .map(|i| json!({"stream": stream, "timestamp": at(i), "int_value": n * 100 + i}))
            .collect();
        let (status, body) = app.post("data/", &owner, json!(rows)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        streams.push(stream);
    }
    let mut people = Vec::new();
    for (role, code) in [("member", "m1"), ("operator", "r1")] {
        let email = format!("{role}@a.io");
        let user = app.create_user(&email, false).await;
        let (status, body) = app
            .post(
                &format!("org/{org}/register/"),
                &owner,
                json!({"user": user.slug, "role": code}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        people.push(app.login(&email).await);
    }
    let outsider = app.user("outsider@b.io").await;
    Setup {
        owner,
        operator: people.pop().unwrap(),
        member: people.pop().unwrap(),
        outsider,
        org,
        streams: [streams[0].clone(), streams[1].clone()],
    }
}

/// The alias's readings as `data/` lists them: (second, value).
async fn read(app: &common::TestApp, token: &str, query: &str) -> Vec<(u32, i64)> {
    let page = app.ok(&format!("data/?{query}"), token).await;
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let ts = r["timestamp"].as_str().unwrap();
            let second = ts[17..19].parse().unwrap();
            (second, r["int_value"].as_i64().unwrap())
        })
        .collect()
}

async fn tap(app: &common::TestApp, token: &str, alias: &str, second: u32, stream: &str) -> Value {
    let (status, body) = app
        .post(
            "tap/",
            token,
            json!({"alias": alias, "timestamp": at(second), "stream": stream}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

backends!(
    an_alias_reads_as_one_series_stitched_from_its_taps,
    |app: common::TestApp| async move {
        let s = setup(&app).await;
        let (status, alias) = app
            .post(
                "alias/",
                &s.owner,
                json!({"name": "Truck 7 temperature", "org": s.org}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{alias}");
        let slug = alias["slug"].as_str().unwrap().to_string();
        assert!(slug.starts_with("a--0000-0000-0000-"), "{alias}");
        assert_eq!(alias["gid"], slug[3..]);
        assert_eq!(alias["org"], s.org.as_str());
        let filter = format!("filter={slug}");
        assert!(
            read(&app, &s.owner, &filter).await.is_empty(),
            "no tap, no data"
        );

        // Device 1 until second 3, device 2 from then until 7, device 1 again after.
        tap(&app, &s.owner, &slug, 0, &s.streams[0]).await;
        let middle = tap(&app, &s.owner, &slug, 3, &s.streams[1]).await;
        tap(&app, &s.owner, &slug, 7, &s.streams[0]).await;
        let expected: Vec<(u32, i64)> = (0..10)
            .map(|i| {
                (
                    i,
                    if (3..7).contains(&i) {
                        200 + i64::from(i)
                    } else {
                        100 + i64::from(i)
                    },
                )
            })
            .collect();
        assert_eq!(read(&app, &s.owner, &filter).await, expected);
        let page = app
            .ok(&format!("data/?{filter}&page_size=4"), &s.owner)
            .await;
        assert_eq!(page["count"], 10);
        let mut paged = Vec::new();
        for n in 1..=3 {
            paged.extend(read(&app, &s.owner, &format!("{filter}&page_size=4&page={n}")).await);
        }
        assert_eq!(paged, expected, "pages add up to the whole");
        assert_eq!(
            read(&app, &s.owner, &format!("{filter}&lastn=3")).await,
            expected[7..]
        );
        let window = format!("{filter}&start={}&end={}", at(2), at(5));
        assert_eq!(read(&app, &s.owner, &window).await, expected[2..5]);
        // Each row keeps the stream it was read from.
        let rows = app.ok(&format!("data/?{filter}&lastn=5"), &s.owner).await;
        assert_eq!(rows["results"][0]["stream"], s.streams[1].as_str());
        assert_eq!(rows["results"][4]["stream"], s.streams[0].as_str());

        // Events read through the same slices.
        for (stream, second) in [(&s.streams[0], 1), (&s.streams[1], 4), (&s.streams[0], 4)] {
            let event =
                json!({"stream": stream, "timestamp": at(second), "extra_data": {"at": second}});
            let (status, body) = app.post("event/", &s.owner, event).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let events = app.ok(&format!("event/?{filter}"), &s.owner).await;
        let seen: Vec<(String, Value)> = events["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["stream"].as_str().unwrap().to_string(),
                    e["extra_data"]["at"].clone(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (s.streams[0].clone(), json!(1)),
                (s.streams[1].clone(), json!(4))
            ]
        );

        // Moving the middle tap moves the seam; deleting it joins the slices.
        let id = middle["id"].as_i64().unwrap();
        let (status, moved) = app
            .patch(&format!("tap/{id}/"), &s.owner, json!({"timestamp": at(5)}))
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        let got = read(&app, &s.owner, &filter).await;
        assert_eq!(got[4], (4, 104));
        assert_eq!(got[5], (5, 205));
        let (status, _) = app.delete(&format!("tap/{id}/"), &s.owner).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let all_first: Vec<(u32, i64)> = (0..10).map(|i| (i, 100 + i64::from(i))).collect();
        assert_eq!(read(&app, &s.owner, &filter).await, all_first);

        let taps = app.ok(&format!("tap/?target={slug}"), &s.owner).await;
        assert_eq!(taps["count"], 2);
        assert_eq!(taps["results"][0]["alias"], slug.as_str());
        let listed = app.ok(&format!("alias/?org={}", s.org), &s.owner).await;
        assert_eq!(listed["count"], 1);

        // Deleting the alias takes its taps.
        let (status, _) = app.delete(&format!("alias/{slug}/"), &s.owner).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("data/?{filter}"), &s.owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(app.ok("tap/", &s.owner).await["count"], 0);
    }
);

backends!(
    aliases_are_managed_by_their_org_and_read_by_who_reads_its_data,
    |app: common::TestApp| async move {
        let s = setup(&app).await;
        let (status, _) = app
            .post("alias/", &s.member, json!({"name": "Mine", "org": s.org}))
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "members do not manage aliases"
        );
        let (status, _) = app
            .post(
                "alias/",
                &s.outsider,
                json!({"name": "Theirs", "org": s.org}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, alias) = app
            .post("alias/", &s.owner, json!({"name": "Truck 7", "org": s.org}))
            .await;
        let slug = alias["slug"].as_str().unwrap().to_string();
        tap(&app, &s.owner, &slug, 0, &s.streams[0]).await;
        let filter = format!("filter={slug}");

        // A member reads through it; an operator (no stream data) and an outsider do not.
        assert_eq!(read(&app, &s.member, &filter).await.len(), 10);
        let (status, _) = app.get(&format!("data/?{filter}"), &s.operator).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = app.get(&format!("data/?{filter}"), &s.outsider).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(!body.to_string().contains("int_value"));
        // Lists hold only the caller's orgs'.
        assert_eq!(app.ok("alias/", &s.member).await["count"], 1);
        assert_eq!(app.ok("alias/", &s.outsider).await["count"], 0);
        assert_eq!(app.ok("tap/", &s.outsider).await["count"], 0);
        let (status, _) = app.get(&format!("tap/?target={slug}"), &s.outsider).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for who in [&s.member, &s.outsider] {
            let (status, _) = app.get(&format!("alias/{slug}/"), who).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let (status, _) = app
                .patch(&format!("alias/{slug}/"), who, json!({"name": "x"}))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }

        // A tap must point at a stream that exists, in the alias's org.
        let other = app.user("other@c.io").await;
        let (_, other_org) = app.post("org/", &other, json!({"name": "Other"})).await;
        let (_, theirs) = app
            .post(
                "alias/",
                &other,
                json!({"name": "Theirs", "org": other_org["slug"]}),
            )
            .await;
        let (status, body) = app
            .post(
                "tap/",
                &other,
                json!({"alias": theirs["slug"], "timestamp": at(0), "stream": s.streams[0]}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!(["Stream is not in the Org of Alias"]));
        let (status, body) = app
            .post(
                "tap/",
                &s.owner,
                json!({"alias": slug, "timestamp": at(0), "stream": "s--0000-0001--0000-0000-0000-9999--5001"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["stream"].is_array(), "{body}");
        let (status, body) = app
            .post(
                "tap/",
                &s.owner,
                json!({"alias": slug, "timestamp": "yesterday", "stream": s.streams[0]}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _) = app
            .get("data/?filter=a--0000-0000-0000-9999", &s.owner)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);
