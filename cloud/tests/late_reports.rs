//! Late reports (issue 20): a report that reaches the cloud after a newer one of the same
//! streamer (another gateway was offline) is stored, and every reading ends up stored exactly
//! once, whatever the order, repetition and splitting of the reports; on both backends. The
//! same property over the pure engine and the held-ids set runs many more cases. And the
//! migration that turns existing progress into held ids.

#![allow(clippy::unwrap_used)]

mod common;
mod report_setup;

use std::time::Duration;

use cloud::db::{migrate, migrate_until, Backend as DbBackend, MigrationSet};
use cloud::ingest::{self, IdRanges, StreamSettings};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

const DEVICE: u32 = 0x77;
use report_setup::RECEIVED;
/// Upload time in microseconds, for the pure engine.
const RECEIVED_US: i64 = 1_767_225_600_000_000;

/// A hash-signed report of streamer `streamer` holding readings `ids` on `stream`; `nonce`
/// goes into the report id so that the same readings can be sent as different bytes.
fn report(streamer: u8, stream: u16, ids: &[u32], nonce: u32) -> SignedListReport {
    let readings: Vec<Reading> = ids
        .iter()
        .map(|&id| Reading {
            stream,
            reading_id: id,
            raw_time: id * 10,
            value: id * 3,
        })
        .collect();
    let last = ids.last().copied().unwrap_or(0);
    let header = SignedListHeader {
        device_id: DEVICE,
        report_id: last + 1 + nonce,
        sent_timestamp: last * 10 + 5,
        streamer,
        selector: 0x100B,
    };
    SignedListReport::build(header, &readings, Signer::Hash).unwrap()
}

/// One streamer's readings and the reports that bring them, in upload order.
#[derive(Debug, Clone)]
struct Scenario {
    /// The streamer's reading ids, ascending; the ids between belong to other streamers.
    ids: Vec<u32>,
    /// Reports as `[start, end)` ranges of `ids`.
    reports: Vec<(usize, usize)>,
}

/// The POD's attempts cut the readings into consecutive reports (every reading is in one);
/// reports re-sent from older cursors overlap them, some are uploaded twice, and all arrive
/// in any order.
fn scenarios() -> impl Strategy<Value = Scenario> {
    prop::collection::vec((1u32..=3, prop::bool::weighted(0.25)), 1..50)
        .prop_flat_map(|steps| {
            let n = steps.len();
            let ids: Vec<u32> = steps
                .iter()
                .scan(0, |id, (step, _)| {
                    *id += step;
                    Some(*id)
                })
                .collect();
            let mut cuts = Vec::new();
            let mut start = 0;
            for (i, (_, cut)) in steps.iter().enumerate() {
                if *cut || i + 1 == n {
                    cuts.push((start, i + 1));
                    start = i + 1;
                }
            }
            let resent = prop::collection::vec((0..n, 1..=n), 0..5);
            let twice = prop::collection::vec(0..cuts.len(), 0..3);
            (Just(ids), Just(cuts), resent, twice)
        })
        .prop_flat_map(|(ids, cuts, resent, twice)| {
            let n = ids.len();
            let mut reports = cuts.clone();
            reports.extend(resent.into_iter().map(|(s, len)| (s, (s + len).min(n))));
            reports.extend(twice.into_iter().map(|i| cuts[i]));
            (Just(ids), Just(reports).prop_shuffle())
        })
        .prop_map(|(ids, reports)| Scenario { ids, reports })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// The engine against the held ids, each report's covered ids added after it as the
    /// worker does: every reading stored once, every report's readings new or duplicate.
    #[test]
    fn the_engine_stores_every_reading_once(s in scenarios()) {
        let streams = std::collections::HashMap::<String, StreamSettings>::new();
        let mut held = IdRanges::new();
        let mut stored = Vec::new();
        for (k, &(start, end)) in s.reports.iter().enumerate() {
            let r = report(0, 0x5001, &s.ids[start..end], k as u32);
            let ctx = ingest::Context {
                project_gid: 0x77,
                device_id: u64::from(DEVICE),
                streamer_index: 0,
                selector: 0x100B,
                held: &held,
                received: RECEIVED_US,
                previous: None,
                streams: &streams,
                report_id: "r",
            };
            let out = ingest::process_signed_list(&r, &ctx).unwrap();
            prop_assert_eq!(out.new_count + out.duplicate_count, end - start);
            let new: Vec<u32> = out
                .data
                .iter()
                .filter(|row| row.stream_slug.ends_with("5001"))
                .map(|row| u32::try_from(row.streamer_local_id).unwrap())
                .collect();
            prop_assert_eq!(new.len(), out.new_count);
            prop_assert_eq!(out.actual_first_id, new.first().map(|&id| u64::from(id)));
            prop_assert_eq!(out.actual_last_id, new.last().map(|&id| u64::from(id)));
            stored.extend(new);
            held.extend(&out.covers);
        }
        stored.sort_unstable();
        prop_assert_eq!(&stored, &s.ids);
        prop_assert_eq!(held.max(), s.ids.last().map(|&id| u64::from(id)));
    }
}

async fn upload(app: &common::TestApp, token: &str, bytes: Vec<u8>) -> Value {
    report_setup::upload_file(app, token, "report.bin", bytes).await
}

/// Waits until no report is waiting for the worker.
async fn all_processed(app: &common::TestApp) {
    for _ in 0..1200 {
        let waiting: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM streamer_reports WHERE status = 'scheduled'")
                .fetch_one(&app.state.db.meta)
                .await
                .unwrap();
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("reports still waiting after 60 s");
}

/// A report's books once processed.
async fn processed(app: &common::TestApp, token: &str, answer: &Value) -> Value {
    all_processed(app).await;
    let id = answer["report"].as_str().unwrap();
    app.ok(&format!("streamer/report/{id}/"), token).await
}

/// The reading ids stored on a stream, in order.
async fn stored_ids(app: &common::TestApp, stream: &str) -> Vec<u32> {
    sqlx::query("SELECT streamer_local_id FROM stream_data WHERE stream_slug = $1 ORDER BY 1")
        .bind(stream)
        .fetch_all(&app.state.db.data)
        .await
        .unwrap()
        .iter()
        .map(|r| u32::try_from(r.get::<i64, _>(0)).unwrap())
        .collect()
}

/// Staff, and the project gid of the claimed device.
async fn site(app: &common::TestApp) -> (String, String) {
    let staff = app.staff("staff@arch.io").await;
    let (_, org) = app.post("org/", &staff, json!({"name": "Late"})).await;
    let (_, project) = app
        .post("project/", &staff, json!({"name": "P", "org": org["slug"]}))
        .await;
    let body = json!({"id": DEVICE, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
    assert_eq!(
        app.post("device/?staff=1", &staff, body).await.0,
        StatusCode::CREATED
    );
    let (status, claimed) = app
        .post(
            "device/claim/",
            &staff,
            json!({"device": "d--0000-0000-0000-0077", "project": project["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let gid = claimed["project"].as_str().unwrap()[3..].to_string();
    (staff, gid)
}

fn stream(gid: &str, lid: u16) -> String {
    format!("s--{gid}--0000-0000-0000-0077--{lid:04x}")
}

fn counts(report: &Value) -> (i64, i64, i64, i64) {
    let n = |k: &str| report[k].as_i64().unwrap();
    (
        n("new_count"),
        n("duplicate_count"),
        n("actual_first_id"),
        n("actual_last_id"),
    )
}

backends!(
    a_late_report_fills_the_hole_below_the_newest,
    |app: common::TestApp| async move {
        let (staff, gid) = site(&app).await;
        let ids = |r: std::ops::RangeInclusive<u32>| r.collect::<Vec<_>>();
        // Gateway B's report of 11–20 arrives first, then gateway A's of 1–10.
        let b = upload(&app, &staff, report(0, 0x5001, &ids(11..=20), 0).encode()).await;
        let b = processed(&app, &staff, &b).await;
        assert_eq!(counts(&b), (10, 0, 11, 20));
        let a_bytes = report(0, 0x5001, &ids(1..=10), 0).encode();
        let a = upload(&app, &staff, a_bytes.clone()).await;
        let a = processed(&app, &staff, &a).await;
        assert_eq!(counts(&a), (10, 0, 1, 10), "the late readings are new");
        // The same bytes again are the same upload; the same readings in another report
        // are duplicates.
        let again = upload(&app, &staff, a_bytes).await;
        assert_eq!(again["duplicate"], true, "{again}");
        let resent = upload(&app, &staff, report(0, 0x5001, &ids(1..=10), 7).encode()).await;
        let resent = processed(&app, &staff, &resent).await;
        assert_eq!(counts(&resent), (0, 10, 0, 0));

        assert_eq!(stored_ids(&app, &stream(&gid, 0x5001)).await, ids(1..=20));
        let streamer = app
            .ok("streamer/?device=d--0000-0000-0000-0077", &staff)
            .await;
        assert_eq!(
            streamer["results"][0]["last_id"], 20,
            "still the highest id"
        );
        // B was sent at uptime 205, A at 105: the streamer keeps B's boot time.
        assert_eq!(
            streamer["results"][0]["last_reboot_ts"],
            "2025-12-31T23:56:35Z"
        );
        let markers = stored_ids(&app, &stream(&gid, 0x5a05)).await;
        assert_eq!(markers.len(), 2, "one marker per report with new readings");
    }
);

backends!(
    random_report_orders_store_every_reading_once,
    |app: common::TestApp| async move {
        let (staff, gid) = site(&app).await;
        let mut runner = TestRunner::deterministic();
        let cases: Vec<Scenario> = (0..6)
            .map(|_| scenarios().new_tree(&mut runner).unwrap().current())
            .collect();
        // Each case has a streamer and a stream of its own; their uploads interleave, so
        // the worker's batches mix them.
        let longest = cases.iter().map(|c| c.reports.len()).max().unwrap();
        for k in 0..longest {
            for (streamer, case) in cases.iter().enumerate() {
                if let Some(&(start, end)) = case.reports.get(k) {
                    let lid = 0x5001 + streamer as u16;
                    let r = report(streamer as u8, lid, &case.ids[start..end], k as u32);
                    upload(&app, &staff, r.encode()).await;
                }
            }
        }
        all_processed(&app).await;
        for (streamer, case) in cases.iter().enumerate() {
            let lid = 0x5001 + streamer as u16;
            assert_eq!(
                stored_ids(&app, &stream(&gid, lid)).await,
                case.ids,
                "case {streamer}: {case:?}"
            );
            let new: i64 = sqlx::query_scalar(
                "SELECT CAST(SUM(r.new_count) AS BIGINT) FROM streamer_reports r \
                 JOIN streamers t ON t.id = r.streamer_id WHERE t.idx = $1",
            )
            .bind(streamer as i64)
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
            assert_eq!(new, case.ids.len() as i64, "case {streamer}: new counts");
        }
    }
);

backends!(
    parallel_uploads_of_one_device_lose_nothing,
    |app: common::TestApp| async move {
        let (staff, gid) = site(&app).await;
        // Two streamers share the device's ids: streamer 0 the odd ones on 5001, streamer 1
        // the even ones on 5002. 40 reports of 50 readings each, from 4 uploaders, each
        // sending its share newest first.
        const PER_REPORT: u32 = 50;
        let mut reports = Vec::new();
        for k in 0..20u32 {
            let base = k * PER_REPORT * 2;
            let odd: Vec<u32> = (0..PER_REPORT).map(|i| base + i * 2 + 1).collect();
            let even: Vec<u32> = (0..PER_REPORT).map(|i| base + i * 2 + 2).collect();
            reports.push(report(0, 0x5001, &odd, 0).encode());
            reports.push(report(1, 0x5002, &even, 0).encode());
        }
        let mut uploaders = Vec::new();
        for u in 0..4 {
            let mine: Vec<Vec<u8>> = reports.iter().skip(u).step_by(4).cloned().collect();
            let (client, url, token) = (
                app.client.clone(),
                app.url("streamer/report/"),
                staff.clone(),
            );
            uploaders.push(tokio::spawn(async move {
                for bytes in mine.into_iter().rev() {
                    let part = reqwest::multipart::Part::bytes(bytes).file_name("report.bin");
                    let response = client
                        .post(format!("{url}?timestamp={RECEIVED}"))
                        .header("Authorization", format!("jwt {token}"))
                        .multipart(reqwest::multipart::Form::new().part("file", part))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::CREATED);
                }
            }));
        }
        for u in uploaders {
            u.await.unwrap();
        }
        all_processed(&app).await;
        let total = 20 * PER_REPORT * 2;
        let odd: Vec<u32> = (1..=total).filter(|id| id % 2 == 1).collect();
        let even: Vec<u32> = (1..=total).filter(|id| id % 2 == 0).collect();
        assert_eq!(stored_ids(&app, &stream(&gid, 0x5001)).await, odd);
        assert_eq!(stored_ids(&app, &stream(&gid, 0x5002)).await, even);
        let streamers = app
            .ok("streamer/?device=d--0000-0000-0000-0077", &staff)
            .await;
        let last: Vec<&Value> = streamers["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["last_id"])
            .collect();
        assert_eq!(last, [&json!(total - 1), &json!(total)]);
    }
);

/// A data database as the previous release left it (migrations up to 1004) with progress
/// rows, then migrated: each streamer holds 1 to its `last_id`.
async fn existing_progress_becomes_held_ids(backend: common::Backend) {
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
    migrate_until(&pool, MigrationSet::Data, kind, &url, 1004)
        .await
        .unwrap();
    for (slug, last) in [
        ("t--0000-0000-0000-0077--0000", 250),
        ("t--0000-0000-0000-0077--0001", 0),
    ] {
        sqlx::query("INSERT INTO streamer_progress (streamer_slug, last_id) VALUES ($1, $2)")
            .bind(slug)
            .bind(last as i64)
            .execute(&pool)
            .await
            .unwrap();
    }
    migrate(&pool, MigrationSet::Data, kind, &url)
        .await
        .unwrap();
    let held: Vec<(String, i64, i64)> =
        sqlx::query("SELECT streamer_slug, first_id, last_id FROM streamer_held")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
    assert_eq!(
        held,
        [("t--0000-0000-0000-0077--0000".to_string(), 1, 250)],
        "a streamer with nothing stored holds nothing"
    );
    pool.close().await;
}

mod existing_progress_becomes_held_ids {
    #[tokio::test]
    async fn sqlite() {
        super::existing_progress_becomes_held_ids(super::common::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::existing_progress_becomes_held_ids(super::common::Backend::Postgres).await;
    }
}
