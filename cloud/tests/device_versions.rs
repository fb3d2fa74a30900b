//! Device versions from the version streams (spec 6.4 steps 1–3, 3.5 `versions/`), on both
//! backends: a report's 0x5C08/0x5C09 readings become version records, placeholders and
//! repeats add none, and an attempt after a crash records them from the ingest log once.

#![allow(clippy::unwrap_used)]

mod common;
mod report_setup;
mod stream_setup;

use serde_json::{json, Value};
use sync_protocol::report::flexible::FlexHeader;
use sync_protocol::report::{FlexReading, FlexibleDictionaryReport};

use report_setup::*;
use stream_setup::*;

/// A flexible report from device 0xd2 with `(stream, reading id, value)` readings.
fn report(report_id: u32, readings: &[(u16, u32, u32)]) -> Vec<u8> {
    FlexibleDictionaryReport::build(
        FlexHeader {
            device_id: 0xd2,
            streamer: 0x100,
            selector: 0xFFFF,
            report_id,
            sent_timestamp: 100,
        },
        readings
            .iter()
            .map(|&(stream, id, value)| FlexReading {
                stream,
                raw_time: id,
                reading_id: id,
                timestamp: Some(format!("2026-01-01T00:00:{id:02}")),
                value: i64::from(value),
            })
            .collect(),
        vec![],
    )
    .encode()
}

async fn versions(app: &common::TestApp, token: &str) -> Value {
    app.ok(&format!("device/{DEVICE}/versions/"), token).await
}

backends!(
    version_readings_become_records,
    spawn_idle,
    |app: common::TestApp| async move {
        let owner = setup(&app).await;
        let staff = app.staff("root@arch.io").await;
        assert_eq!(versions(&app, &owner).await, json!([]));

        // OS tag 2050 v1.0 (then a placeholder OS reading), and app tag 7 v2.3.
        let app_word = (2 << 26) | (3 << 20) | 7;
        let first = report(
            10,
            &[
                (0x5C08, 1, 0x0400_0802),
                (0x5C08, 2, 1024),
                (0x5C09, 3, app_word),
            ],
        );
        let id = upload_report(&app, &staff, first).await;
        assert_eq!(process(&app, &owner, &id).await["new_count"], 3);
        let expected = json!([
            {"type": "app", "tag": 7, "version": "v2.3", "streamer_local_id": 3,
             "updated_ts": "2026-01-01T00:00:03Z"},
            {"type": "os", "tag": 2050, "version": "v1.0", "streamer_local_id": 1,
             "updated_ts": "2026-01-01T00:00:01Z"},
        ]);
        assert_eq!(versions(&app, &owner).await, expected);

        // The same OS version again adds nothing; a new app version replaces the latest.
        let second = report(20, &[(0x5C08, 4, 0x0400_0802), (0x5C09, 5, app_word + 1)]);
        let id = upload_report(&app, &staff, second).await;
        assert_eq!(process(&app, &owner, &id).await["new_count"], 2);
        let now = versions(&app, &owner).await;
        assert_eq!(now[1], expected[1]);
        assert_eq!(now[0]["tag"], 8);
        assert_eq!(now[0]["streamer_local_id"], 5);
        let records = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM device_versions")
                .fetch_one(&app.state.db.meta)
                .await
                .unwrap()
        };
        assert_eq!(records().await, 3);

        // A crash after the stream-data transaction: the metadata transaction with the version
        // records never happened, and the next attempt takes them from the ingest log.
        sqlx::query("DELETE FROM device_versions WHERE streamer_local_id = 5")
            .execute(&app.state.db.meta)
            .await
            .unwrap();
        unfinish(&app, &id).await;
        assert_eq!(process(&app, &owner, &id).await["new_count"], 2);
        assert_eq!(versions(&app, &owner).await, now);
        assert_eq!(records().await, 3);

        let eve = outsider(&app).await;
        let (status, _) = app.get(&format!("device/{DEVICE}/versions/"), &eve).await;
        assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    }
);
