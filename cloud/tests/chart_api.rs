//! Stream charts (`GET /api/v1/stream/{slug}/chart/`) and the rollups behind them, on both
//! backends: every bucket agrees with the rows the data API returns for the same range, for
//! seeded random data posted out of order, for ingested reports (late, repeated, overlapping)
//! and after deletes; the stored rollups of every tier equal what the rows imply, also when
//! the migration builds them from existing rows; access is the data API's.

#![allow(clippy::unwrap_used)]

mod common;
mod device_setup;
mod report_setup;
mod stream_setup;

use std::collections::BTreeMap;

use cloud::charts::{bucket_of, Summary, TIERS};
use cloud::db::{migrate, migrate_until, Backend as DbBackend, MigrationSet};
use cloud::store::{data, rollups};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

const SECOND: i64 = 1_000_000;

/// A reading as `/data/` shows it.
#[derive(Debug, Clone, Copy)]
struct Raw {
    id: i64,
    t: i64,
    value: f64,
}

fn micros(iso: &str) -> i64 {
    cloud::time::parse(iso, false).unwrap()
}

/// Every row of `stream` in `[start, end)` through the data API, by time then id.
async fn raw(app: &common::TestApp, token: &str, stream: &str, start: &str, end: &str) -> Vec<Raw> {
    let mut out = Vec::new();
    for page in 1.. {
        let path =
            format!("data/?filter={stream}&start={start}&end={end}&page_size=10000&page={page}");
        let body = app.ok(&path, token).await;
        for r in body["results"].as_array().unwrap() {
            out.push(Raw {
                id: r["id"].as_i64().unwrap(),
                t: micros(r["timestamp"].as_str().unwrap()),
                value: r["value"].as_f64().unwrap(),
            });
        }
        if body["next"].is_null() {
            break;
        }
    }
    out.sort_by_key(|r| (r.t, r.id));
    out
}

/// The chart of `stream` over `[start, end)` at `n` buckets must summarize exactly the rows
/// the data API returns for that range. Returns the chart.
async fn check_chart(
    app: &common::TestApp,
    token: &str,
    stream: &str,
    (start, end): (&str, &str),
    n: u32,
) -> Value {
    let path = format!("stream/{stream}/chart/?start={start}&end={end}&buckets={n}");
    let chart = app.ok(&path, token).await;
    let rows = raw(app, token, stream, start, end).await;
    let width = chart["bucket_seconds"].as_i64().unwrap() * SECOND;
    let buckets = chart["buckets"].as_array().unwrap();
    assert!(
        buckets.len() <= n as usize,
        "{} > {n} buckets",
        buckets.len()
    );
    let mut expected: BTreeMap<i64, Summary> = BTreeMap::new();
    for r in &rows {
        let b = bucket_of(r.t, width);
        let one = Summary::reading(r.t, r.value);
        expected
            .entry(b)
            .and_modify(|s| s.merge(&one))
            .or_insert(Summary { at: b, ..one });
    }
    let got: Vec<i64> = buckets
        .iter()
        .map(|b| micros(b["t"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        expected.keys().copied().collect::<Vec<_>>(),
        "{path}: bucket starts"
    );
    for (b, want) in buckets.iter().zip(expected.values()) {
        let at = format!("{path} at {}", b["t"]);
        assert_eq!(b["count"].as_i64(), Some(want.count), "{at}");
        assert_eq!(b["min"].as_f64(), Some(want.min), "{at}");
        assert_eq!(b["max"].as_f64(), Some(want.max), "{at}");
        let first = (
            micros(b["first"]["t"].as_str().unwrap()),
            b["first"]["value"].as_f64().unwrap(),
        );
        let last = (
            micros(b["last"]["t"].as_str().unwrap()),
            b["last"]["value"].as_f64().unwrap(),
        );
        assert_eq!((first, last), (want.first, want.last), "{at}");
        let mean = b["mean"].as_f64().unwrap();
        assert!(
            (mean - want.mean()).abs() <= 1e-9 * want.mean().abs().max(1.0),
            "{at}"
        );
    }
    assert_eq!(chart["stream"], stream);
    chart
}

/// What the stored rollups of `stream` must be, from its rows in storage order.
fn rollups_of(rows: &[Raw]) -> BTreeMap<(i64, i64), Summary> {
    let mut ordered = rows.to_vec();
    ordered.sort_by_key(|r| r.id);
    let mut out: BTreeMap<(i64, i64), Summary> = BTreeMap::new();
    for r in &ordered {
        let one = Summary::reading(r.t, r.value);
        for tier in TIERS {
            let b = bucket_of(r.t, tier * SECOND);
            out.entry((tier, b))
                .and_modify(|s| s.merge(&one))
                .or_insert(Summary { at: b, ..one });
        }
    }
    out
}

async fn stored_rollups(pool: &sqlx::AnyPool, stream: &str) -> BTreeMap<(i64, i64), Summary> {
    sqlx::query(
        "SELECT tier, bucket_start, count, min_value, max_value, sum_value, first_ts, \
         first_value, last_ts, last_value FROM stream_rollups WHERE stream_slug = $1",
    )
    .bind(stream)
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let s = Summary {
            at: r.get(1),
            count: r.get(2),
            min: r.get(3),
            max: r.get(4),
            sum: r.get(5),
            first: (r.get(6), r.get(7)),
            last: (r.get(8), r.get(9)),
        };
        ((r.get(0), s.at), s)
    })
    .collect()
}

fn assert_same_rollups(got: &BTreeMap<(i64, i64), Summary>, want: &BTreeMap<(i64, i64), Summary>) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "rollup buckets"
    );
    for (key, w) in want {
        let g = got[key];
        assert_eq!(
            (g.count, g.min, g.max, g.first, g.last),
            (w.count, w.min, w.max, w.first, w.last),
            "bucket {key:?}"
        );
        assert!(
            (g.sum - w.sum).abs() <= 1e-9 * w.sum.abs().max(1.0),
            "sum of {key:?}"
        );
    }
}

/// The stream's rollups of every tier equal what its rows imply, and a rebuild from the rows
/// changes nothing.
async fn check_rollups(app: &common::TestApp, token: &str, stream: &str) {
    let rows = raw(
        app,
        token,
        stream,
        "1970-01-01T00:00:00Z",
        "2100-01-01T00:00:00Z",
    )
    .await;
    let want = rollups_of(&rows);
    let pool = &app.state.db.data;
    assert_same_rollups(&stored_rollups(pool, stream).await, &want);
    let mut conn = pool.acquire().await.unwrap();
    rollups::rebuild(&mut conn, stream, 0, 4_102_444_800 * SECOND)
        .await
        .unwrap();
    drop(conn);
    assert_same_rollups(&stored_rollups(pool, stream).await, &want);
}

/// xorshift64: the same "random" data on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

backends!(
    charts_agree_with_the_data_api,
    |app: common::TestApp| async move {
        use stream_setup::{create_streams, setup, STREAM};
        let owner = setup(&app).await;
        create_streams(&app, &owner).await;
        // 3000 readings at random whole seconds over 12 days, integers and floats, posted in
        // shuffled batches: most land among readings already stored.
        let mut rng = Rng(0x5EED_CAFE_F00D_0001);
        let base = micros("2024-01-01T00:00:00Z") / SECOND;
        let mut rows: Vec<Value> = (0..3000)
            .map(|i| {
                let t = base + (rng.next() % (12 * 86_400)) as i64;
                let stamp = cloud::time::format_seconds(t * SECOND);
                let v = (rng.next() % 20_001) as i64 - 10_000;
                if i % 3 == 0 {
                    json!({"stream": STREAM, "timestamp": stamp, "value": v as f64 / 8.0, "type": "ITR"})
                } else {
                    json!({"stream": STREAM, "timestamp": stamp, "int_value": v})
                }
            })
            .collect();
        for i in (1..rows.len()).rev() {
            rows.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        // Forty more at the very seconds of others, with other values: ties of time.
        let ties: Vec<Value> = rows[..40]
            .iter()
            .map(|r| json!({"stream": STREAM, "timestamp": r["timestamp"], "value": 0.25, "type": "ITR"}))
            .collect();
        rows.extend(ties);
        for batch in rows.chunks(250) {
            let (status, body) = app.post("data/", &owner, json!(batch)).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let all = ("2023-12-31T00:00:00Z", "2024-01-14T00:00:00Z");
        for (range, n, tier) in [
            (all, 10, json!(86_400)),
            (all, 100, json!(900)),
            (all, 1000, json!(900)),
            (all, 4000, json!(60)),
            (
                ("2024-01-02T03:17:41Z", "2024-01-09T19:02:07Z"),
                300,
                json!(900),
            ),
            (
                ("2024-01-05T00:00:07Z", "2024-01-05T06:00:00Z"),
                1000,
                Value::Null,
            ),
        ] {
            let chart = check_chart(&app, &owner, STREAM, range, n).await;
            assert_eq!(chart["tier_seconds"], tier, "{range:?} at {n}");
        }
        let whole = check_chart(&app, &owner, STREAM, all, 10).await;
        let counted: i64 = whole["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_i64().unwrap())
            .sum();
        assert_eq!(counted, 3040);
        check_rollups(&app, &owner, STREAM).await;

        // A deleted range: its buckets are recomputed from the rows left.
        let gone = data::delete_range(
            &app.state.db.data,
            STREAM,
            micros("2024-01-03T05:06:07Z"),
            micros("2024-01-06T01:02:03Z"),
        )
        .await
        .unwrap();
        assert!(gone > 500, "{gone} rows deleted");
        check_chart(&app, &owner, STREAM, all, 1000).await;
        check_chart(&app, &owner, STREAM, all, 10).await;
        check_rollups(&app, &owner, STREAM).await;
    }
);

backends!(
    charts_with_stream_data_in_its_own_database,
    spawn_split,
    |app: common::TestApp| async move {
        use stream_setup::{create_streams, setup, STREAM};
        let owner = setup(&app).await;
        create_streams(&app, &owner).await;
        let rows: Vec<Value> = (0..500)
            .map(|i| {
                let t =
                    cloud::time::format_seconds(micros("2024-03-01T00:00:00Z") + i * 997 * SECOND);
                json!({"stream": STREAM, "timestamp": t, "int_value": (i * 37) % 101})
            })
            .collect();
        let (status, body) = app.post("data/", &owner, json!(rows)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let range = ("2024-03-01T00:00:00Z", "2024-03-07T00:00:00Z");
        check_chart(&app, &owner, STREAM, range, 50).await;
        check_rollups(&app, &owner, STREAM).await;
    }
);

const DEVICE: u32 = 0x77;

/// A hash-signed report of readings `ids` on stream 5001, 10 s apart by reading id, sent at
/// uptime 3000; `nonce` makes other bytes for the same readings.
fn report(ids: std::ops::RangeInclusive<u32>, nonce: u32) -> Vec<u8> {
    let readings: Vec<Reading> = ids
        .clone()
        .map(|id| Reading {
            stream: 0x5001,
            reading_id: id,
            raw_time: id * 10,
            value: (id * 7919) % 1000,
        })
        .collect();
    let header = SignedListHeader {
        device_id: DEVICE,
        report_id: ids.end() + 1 + nonce,
        sent_timestamp: 3000,
        streamer: 0,
        selector: 0x100B,
    };
    SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode()
}

/// Staff's org and project with device 0x77 claimed; returns staff's JWT and the stream.
async fn ingest_site(app: &common::TestApp) -> (String, String) {
    let staff = app.staff("staff@arch.io").await;
    let (_, org) = app.post("org/", &staff, json!({"name": "Ingest"})).await;
    let (_, project) = app
        .post("project/", &staff, json!({"name": "P", "org": org["slug"]}))
        .await;
    let body = json!({"id": DEVICE, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
    assert_eq!(
        app.post("device/?staff=1", &staff, body).await.0,
        StatusCode::CREATED
    );
    let claim = json!({"device": "d--0000-0000-0000-0077", "project": project["id"]});
    let (status, claimed) = app.post("device/claim/", &staff, claim).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let gid = &claimed["project"].as_str().unwrap()[3..];
    (staff, format!("s--{gid}--0000-0000-0000-0077--5001"))
}

backends!(
    charts_follow_ingest_and_deletes,
    spawn_idle,
    |app: common::TestApp| async move {
        use report_setup::{process, upload_file};
        let (staff, stream) = ingest_site(&app).await;
        // Readings fall between 23:10 and 23:53 on 2025-12-31.
        let day = ("2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z");
        let hour = ("2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z");
        let check = |stored: usize| {
            let (app, staff, stream) = (&app, &staff, &stream);
            async move {
                let chart = check_chart(app, staff, stream, day, 10).await;
                let counts = chart["buckets"].as_array().unwrap().iter();
                let total: i64 = counts.map(|b| b["count"].as_i64().unwrap()).sum();
                assert_eq!(total, stored as i64);
                check_chart(app, staff, stream, hour, 1000).await;
                check_chart(app, staff, stream, hour, 40).await;
                check_rollups(app, staff, stream).await;
            }
        };
        // Newer readings first, then the older ones of a report that arrives late; the same
        // bytes again; the same readings in another report; an overlapping report.
        for (ids, nonce, stored) in [
            (101..=200, 0, 100),
            (1..=100, 0, 200),
            (1..=100, 0, 200),
            (1..=100, 7, 200),
            (150..=250, 0, 250),
        ] {
            let answer = upload_file(&app, &staff, "report.bin", report(ids, nonce)).await;
            process(&app, &staff, answer["report"].as_str().unwrap()).await;
            check(stored).await;
        }

        // The stream deleted with its data: nothing of it is left in the rollups, and rows
        // posted afterwards make the chart alone.
        let (status, _) = app.delete(&format!("stream/{stream}/"), &staff).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(stored_rollups(&app.state.db.data, &stream).await.is_empty());
        let rows: Vec<Value> = (0..30)
            .map(|i| json!({"stream": stream, "timestamp": format!("2025-12-31T23:{:02}:00Z", 59 - i), "int_value": i}))
            .collect();
        let (status, body) = app.post("data/", &staff, json!(rows)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        check(30).await;
    }
);

backends!(access_is_the_data_apis, |app: common::TestApp| async move {
    use device_setup::{claimed, get_as_device, World, DT, SG, STREAM};
    let World { staff, acme, other } = claimed(&app).await;
    let body = json!({"template": DT, "sg": SG, "id": 11});
    assert_eq!(
        app.post("device/?staff=1", &staff, body).await.0,
        StatusCode::CREATED
    );
    let claim = json!({"device": "d--0000-0000-0000-000b", "project": "p--0000-0001"});
    assert_eq!(
        app.post("device/claim/", &acme.owner, claim).await.0,
        StatusCode::ACCEPTED
    );
    let sibling = STREAM.replace("000a--", "000b--");
    for (stream, n) in [(STREAM, 12), (sibling.as_str(), 5)] {
        let rows: Vec<Value> = (0..n)
                .map(|i| json!({"stream": stream, "timestamp": format!("2026-02-01T00:{i:02}:00Z"), "value": i as f64, "type": "ITR"}))
                .collect();
        let (status, body) = app.post("data/", &acme.owner, json!(rows)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let range = "start=2026-02-01&end=2026-02-02";
    let path = |s: &str| format!("stream/{s}/chart/?{range}&buckets=24");
    let count = |chart: &Value| chart["buckets"][0]["count"].clone();
    assert_eq!(count(&app.ok(&path(STREAM), &acme.member).await), 12);
    assert_eq!(
        count(&app.ok(&path("s--0001--000a--5001"), &acme.owner).await),
        12
    );
    for token in [&acme.operator, &other.owner] {
        let (status, body) = app.get(&path(STREAM), token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.get("buckets").is_none());
    }
    for unknown in ["s--0000-0001--0000-0000-0000-00ff--5001", "d--000a", "junk"] {
        let (status, _) = app.get(&path(unknown), &acme.member).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    }
    // A device token reads its own device's streams only.
    let key = app.ok("device/d--000a/key/?type=a-jwt", &acme.member).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, mine) = get_as_device(&app, &path(STREAM), &key).await;
    assert_eq!((status, count(&mine)), (StatusCode::OK, json!(12)));
    let (status, body) = get_as_device(&app, &path(&sibling), &key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.get("buckets").is_none());

    // Bad ranges and counts: 400 naming the field.
    let base = format!("stream/{STREAM}/chart/");
    for (query, field) in [
        ("?start=2026-02-02&end=2026-02-01", "end"),
        ("?start=2026-02-01&end=2026-02-01", "end"),
        ("?start=yesterday&end=2026-02-01", "start"),
        ("?end=2026-02-01", "start"),
        ("?start=2026-02-01", "end"),
        ("?start=2026-02-01&end=99999-01-01", "end"),
        ("?start=2026-02-01&end=2026-02-02&buckets=9", "buckets"),
        ("?start=2026-02-01&end=2026-02-02&buckets=4001", "buckets"),
        ("?start=2026-02-01&end=2026-02-02&buckets=ten", "buckets"),
        ("?start=2026-02-01&end=2026-02-02&buckets=-5", "buckets"),
    ] {
        let (status, body) = app.get(&format!("{base}{query}"), &acme.member).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body[field][0].is_string(), "{query}: {body}");
    }
    // Without `buckets`, the default count (1000: two-minute buckets); the whole answer.
    let at = |m: i64| format!("2026-02-01T00:{m:02}:00Z");
    let buckets: Vec<Value> = (0..6)
        .map(|pair| {
            let (a, b) = (2 * pair, 2 * pair + 1);
            json!({"t": at(a), "count": 2, "min": a as f64, "max": b as f64,
                       "mean": a as f64 + 0.5, "first": {"t": at(a), "value": a as f64},
                       "last": {"t": at(b), "value": b as f64}})
        })
        .collect();
    assert_eq!(
        app.ok(&format!("{base}?{range}"), &acme.member).await,
        json!({"stream": STREAM, "start": "2026-02-01T00:00:00Z",
                   "end": "2026-02-02T00:00:00Z", "bucket_seconds": 120, "tier_seconds": 60,
                   "buckets": buckets})
    );

    // Unclaiming with clean_streams drops the device's rollups, not its sibling's.
    let body = json!({"clean_streams": true, "label": "Old"});
    let (status, answer) = app.post("device/d--000a/unclaim/", &acme.owner, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let pool = &app.state.db.data;
    assert!(stored_rollups(pool, STREAM).await.is_empty());
    // Five minutes: five minute buckets and one of each coarser tier.
    assert_eq!(stored_rollups(pool, &sibling).await.len(), 5 + 3);
});

/// A data database as the previous release left it, with rows, then migrated: the rollups
/// are built from the rows (ties of time, rows without a value, times before 1970).
async fn migration_builds_rollups(backend: common::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, kind) = match backend {
        common::Backend::Sqlite => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("d.sqlite3").display()
            ),
            DbBackend::Sqlite,
        ),
        common::Backend::Postgres => (
            common::postgres::fresh_database_url().await,
            DbBackend::Postgres,
        ),
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    migrate_until(&pool, MigrationSet::Data, kind, &url, 1005)
        .await
        .unwrap();
    let streams = [
        "s--0000-0001--0000-0000-0000-0001--5001",
        "s--0000-0001--0000-0000-0000-0002--5002",
    ];
    let mut rng = Rng(0xD1CE_0000_0000_0042);
    let mut expected: Vec<Vec<Raw>> = vec![Vec::new(), Vec::new()];
    for id in 1..=2000_i64 {
        let s = (rng.next() % 2) as usize;
        // Mostly 2024, some before 1970; every fifth reading at the same second as another.
        let t = if id % 97 == 0 {
            -86_400 * 3 + id
        } else {
            1_704_067_200 + (rng.next() % 200_000) as i64
        };
        let t = if id % 5 == 0 { t - t % 100 } else { t } * SECOND;
        let value = (rng.next() % 1000) as f64 / 4.0;
        let stored = (id % 50 != 0).then_some(value);
        // Not prepared once for all rows: a connection whose first row has no value would
        // type the value's parameter from that null, and PostgreSQL would then refuse the
        // numbers that follow on it.
        sqlx::query(
            "INSERT INTO stream_data (id, stream_slug, device_slug, timestamp, value) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .persistent(false)
        .bind(id)
        .bind(streams[s])
        .bind(format!("d--0000-0000-0000-000{}", s + 1))
        .bind(t)
        .bind(stored)
        .execute(&pool)
        .await
        .unwrap();
        if stored.is_some() {
            expected[s].push(Raw { id, t, value });
        }
    }
    migrate(&pool, MigrationSet::Data, kind, &url)
        .await
        .unwrap();
    for (stream, rows) in streams.iter().zip(&expected) {
        let got = stored_rollups(&pool, stream).await;
        assert!(got.len() > 4 * 200, "{} buckets", got.len());
        assert_same_rollups(&got, &rollups_of(rows));
    }
    pool.close().await;
}

mod migration_builds_rollups {
    #[tokio::test]
    async fn sqlite() {
        super::migration_builds_rollups(super::common::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::migration_builds_rollups(super::common::Backend::Postgres).await;
    }
}
