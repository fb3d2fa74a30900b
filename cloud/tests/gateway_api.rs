//! Gateways: one-time codes, registration with a proof of the private key, signed sync into
//! the common ingest, replays and tampering refused, revocation, and the backlog a batch
//! tells as the API and the gateways page show it; on both backends.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_protocol::gateway::{sign, Backlog, BatchReport, GatewaySecret, Registration, SyncBatch};
use sync_protocol::ids::DeviceId;
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

const DEVICE: u32 = 0x91;
const FOREIGN: u32 = 0x92;

fn report(device: u32, ids: std::ops::RangeInclusive<u32>) -> Vec<u8> {
    let readings: Vec<Reading> = ids
        .clone()
        .map(|id| Reading {
            stream: 0x5001,
            reading_id: id,
            raw_time: id * 10,
            value: id * 7,
        })
        .collect();
    let header = SignedListHeader {
        device_id: device,
        report_id: ids.end() + 1,
        sent_timestamp: ids.end() * 10 + 5,
        streamer: 0,
        selector: 0x100B,
    };
    SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode()
}

fn batch(reports: &[(u32, Vec<u8>)]) -> Vec<u8> {
    batch_with(reports, None)
}

fn batch_with(reports: &[(u32, Vec<u8>)], backlog: Option<Backlog>) -> Vec<u8> {
    let now = cloud::time::now_micros();
    let batch = SyncBatch {
        reports: reports
            .iter()
            .map(|(device, raw)| BatchReport {
                device: DeviceId::new(u64::from(*device)).unwrap(),
                streamer: 0,
                received_at_us: now,
                raw: raw.clone(),
            })
            .collect(),
        backlog,
    };
    serde_json::to_vec(&batch).unwrap()
}

/// A signed `POST gateway/sync/`; `tamper` changes the body after signing.
async fn sync(
    app: &common::TestApp,
    secret: &GatewaySecret,
    body: Vec<u8>,
    nonce: u8,
    tamper: bool,
) -> (StatusCode, Value) {
    let path = "/api/v1/gateway/sync/";
    let now = u64::try_from(cloud::time::now_micros() / 1_000_000).unwrap();
    let headers = sign(secret, "POST", path, &body, now, [nonce; 16]);
    let mut sent = body;
    if tamper {
        sent.push(b' ');
    }
    let mut request = app.client.post(app.url("gateway/sync/")).body(sent);
    for (name, value) in headers.to_pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

struct Site {
    admin: String,
    member: String,
    org: String,
    stream: String,
}

async fn site(app: &common::TestApp) -> Site {
    let staff = app.staff("staff@arch.io").await;
    let admin = app.user("admin@site.io").await;
    let (_, org) = app.post("org/", &admin, json!({"name": "Site"})).await;
    let slug = org["slug"].as_str().unwrap().to_string();
    let user = app.create_user("member@site.io", false).await;
    let (status, body) = app
        .post(
            &format!("org/{slug}/register/"),
            &admin,
            json!({"user": user.slug, "role": "m1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let member = app.login("member@site.io").await;
    let (_, project) = app
        .post("project/", &admin, json!({"name": "P", "org": slug}))
        .await;
    let (_, other_org) = app.post("org/", &staff, json!({"name": "Else"})).await;
    let (_, other) = app
        .post(
            "project/",
            &staff,
            json!({"name": "Q", "org": other_org["slug"]}),
        )
        .await;
    for (id, project) in [(DEVICE, &project), (FOREIGN, &other)] {
        let body = json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        let (status, created) = app.post("device/?staff=1", &staff, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, claimed) = app
            .post(
                "device/claim/",
                &staff,
                json!({"device": created["slug"], "project": project["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
    }
    let gid = &project["gid"].as_str().unwrap_or_default().to_string();
    let gid = if gid.is_empty() {
        project["slug"].as_str().unwrap()[3..].to_string()
    } else {
        gid.clone()
    };
    Site {
        admin,
        member,
        org: slug,
        stream: format!("s--{gid}--0000-0000-0000-0091--5001"),
    }
}

async fn registered(app: &common::TestApp, s: &Site, seed: u8) -> GatewaySecret {
    let (status, code) = app
        .post("gateway/code/", &s.admin, json!({"org": s.org}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let secret = GatewaySecret::from_bytes(&[seed; 32]);
    let reg = Registration::new(&secret, code["code"].as_str().unwrap(), Some("pi".into()));
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "gateway/register/",
            None,
            Some(serde_json::to_value(&reg).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["org"], s.org);
    assert_eq!(body["id"], secret.public().key_id());
    // A code is spent once.
    let again = Registration::new(
        &GatewaySecret::from_bytes(&[seed ^ 0xFF; 32]),
        code["code"].as_str().unwrap(),
        None,
    );
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            "gateway/register/",
            None,
            Some(serde_json::to_value(&again).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    secret
}

async fn stored_rows(app: &common::TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM stream_data")
        .fetch_one(&app.state.db.data)
        .await
        .unwrap()
}

backends!(codes_and_registration, |app: common::TestApp| async move {
    let s = site(&app).await;
    // Only those who manage the org make codes; outsiders do not see it.
    let (status, _) = app
        .post("gateway/code/", &s.member, json!({"org": s.org}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let outsider = app.user("out@else.io").await;
    let (status, _) = app
        .post("gateway/code/", &outsider, json!({"org": s.org}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post("gateway/code/", &s.admin, json!({"org": s.org, "hours": 0}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A proof made with another key, and a made-up code, are refused.
    let (_, code) = app
        .post("gateway/code/", &s.admin, json!({"org": s.org}))
        .await;
    let secret = GatewaySecret::from_bytes(&[3; 32]);
    let mut forged = Registration::new(&secret, code["code"].as_str().unwrap(), None);
    forged.public_key = GatewaySecret::from_bytes(&[4; 32]).public().key_id();
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            "gateway/register/",
            None,
            Some(serde_json::to_value(&forged).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unknown = Registration::new(&secret, "0000-0000-0000-0000-0000", None);
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            "gateway/register/",
            None,
            Some(serde_json::to_value(&unknown).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The real registration; the gateway is listed for members, not for outsiders.
    registered(&app, &s, 9).await;
    let listed = app.ok("gateway/", &s.member).await;
    assert_eq!(listed["count"], 1);
    assert_eq!(app.ok("gateway/", &outsider).await["count"], 0);
});

backends!(
    signed_sync_feeds_ingest_once,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let secret = registered(&app, &s, 7).await;
        let first = batch(&[
            (DEVICE, report(DEVICE, 1..=50)),
            (FOREIGN, report(FOREIGN, 1..=5)),
        ]);
        let (status, answer) = sync(&app, &secret, first.clone(), 1, false).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["results"][0]["outcome"], "accepted");
        assert_eq!(answer["results"][1]["outcome"], "rejected", "{answer}");
        // The same request again is a replay; the same batch with a new nonce is harmless.
        let (status, _) = sync(&app, &secret, first.clone(), 1, false).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, answer) = sync(&app, &secret, first.clone(), 2, false).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["results"][0]["outcome"], "duplicate");
        // An overlapping report adds only its new readings.
        let overlap = batch(&[(DEVICE, report(DEVICE, 41..=80))]);
        let (status, answer) = sync(&app, &secret, overlap, 3, false).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let mut rows = 0;
        for _ in 0..200 {
            let data = app
                .ok(
                    &format!("data/?filter={}&page_size=1000", s.stream),
                    &s.admin,
                )
                .await;
            rows = data["count"].as_i64().unwrap();
            if rows == 80 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(rows, 80, "every reading once");
        let (status, answer) = sync(&app, &secret, batch(&[]), 4, false).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["results"], json!([]));
        let again = batch(&[(DEVICE, report(DEVICE, 1..=80))]);
        let (_, answer) = sync(&app, &secret, again, 5, false).await;
        assert_eq!(answer["cloud_has"][0]["last_id"], 80, "{answer}");
    }
);

backends!(
    tampered_unknown_and_revoked_are_refused,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let secret = registered(&app, &s, 5).await;
        let before = stored_rows(&app).await;
        let body = batch(&[(DEVICE, report(DEVICE, 1..=10))]);
        let (status, _) = sync(&app, &secret, body.clone(), 1, true).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "tampered body");
        let stranger = GatewaySecret::from_bytes(&[6; 32]);
        let (status, _) = sync(&app, &stranger, body.clone(), 2, false).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown key");
        let (status, _) = app
            .client
            .post(app.url("gateway/sync/"))
            .body(body.clone())
            .send()
            .await
            .map(|r| (r.status(), ()))
            .unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "unsigned");
        // A member may not revoke; the admin may; the gateway is then refused.
        let key = secret.public().key_id();
        let (status, _) = app
            .post(&format!("gateway/{key}/revoke/"), &s.member, json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, revoked) = app
            .post(&format!("gateway/{key}/revoke/"), &s.admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(revoked["revoked"], true);
        let (status, _) = sync(&app, &secret, body, 3, false).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");
        let reports: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM streamer_reports")
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
        assert_eq!(reports, 0, "nothing was booked");
        assert_eq!(stored_rows(&app).await, before);
    }
);

/// Runs a job worker until no report waits for processing.
async fn process_all(app: &common::TestApp) {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(cloud::worker::run(
        app.state.clone(),
        common::worker_options(),
        shutdown.clone(),
    ));
    for _ in 0..300 {
        let waiting: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM streamer_reports WHERE status = 'scheduled'")
                .fetch_one(&app.state.db.meta)
                .await
                .unwrap();
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    worker.await.unwrap();
}

backends!(
    cloud_has_counts_stored_reports_and_late_ones_are_kept,
    spawn_idle,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let gateway_b = registered(&app, &s, 7).await;
        let gateway_a = registered(&app, &s, 9).await;
        // A "no reboots" report: stored, but processing will refuse it.
        let refused = {
            let readings: Vec<Reading> = (21..=30)
                .map(|id| Reading {
                    stream: 0x5001,
                    reading_id: id,
                    raw_time: id,
                    value: id,
                })
                .collect();
            let header = SignedListHeader {
                device_id: DEVICE,
                report_id: 31,
                sent_timestamp: 400,
                streamer: 0,
                selector: 0x57FF,
            };
            SignedListReport::build(header, &readings, Signer::Hash)
                .unwrap()
                .encode()
        };
        // B uploads 11–20 while A, holding 1–10, is offline. Nothing is processed yet, but
        // B's report is stored, so the cloud has every reading up to 20 the POD still keeps.
        let body = batch(&[
            (DEVICE, report(DEVICE, 11..=20)),
            (DEVICE, refused),
            (FOREIGN, report(FOREIGN, 1..=5)),
        ]);
        let (status, answer) = sync(&app, &gateway_b, body, 1, false).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["results"][1]["outcome"], "accepted");
        assert_eq!(
            answer["cloud_has"],
            json!([
                {"device": "d--0000-0000-0000-0091", "streamer": 0, "last_id": 20},
                {"device": "d--0000-0000-0000-0092", "streamer": 0, "last_id": 0}
            ]),
            "the refused report does not count, nor another org's device"
        );
        process_all(&app).await;
        // A comes back: its older report is kept, and the answer stays the highest id held.
        let (status, answer) = sync(
            &app,
            &gateway_a,
            batch(&[(DEVICE, report(DEVICE, 1..=10))]),
            1,
            false,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["results"][0]["outcome"], "accepted");
        assert_eq!(answer["cloud_has"][0]["last_id"], 20, "{answer}");
        process_all(&app).await;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT streamer_local_id FROM stream_data WHERE stream_slug = $1 ORDER BY 1",
        )
        .bind(&s.stream)
        .fetch_all(&app.state.db.data)
        .await
        .unwrap();
        assert_eq!(ids, (1..=20).collect::<Vec<i64>>(), "every reading once");
    }
);

/// The words of the gateways page's "Waiting" cell for the only gateway, tags removed.
async fn waiting_cell(browser: &mut common::web::Browser, org: &str) -> String {
    let page = browser.get(&format!("/org/{org}/gateways")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let marker = r#"data-testid="gateway-waiting">"#;
    let start = page.body.find(marker).expect("a waiting cell") + marker.len();
    let end = start + page.body[start..].find("</td>").unwrap();
    let mut text = String::new();
    let mut in_tag = false;
    for c in page.body[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&#x27;", "'").replace("&#39;", "'")
}

async fn listed_backlog(app: &common::TestApp, s: &Site) -> Value {
    let listed = app.ok("gateway/", &s.member).await;
    assert_eq!(listed["count"], 1, "{listed}");
    listed["results"][0]["backlog"].clone()
}

backends!(
    the_backlog_a_batch_tells_shows_in_the_list_and_the_page,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let secret = registered(&app, &s, 7).await;
        let mut browser = common::web::Browser::sign_in(&app, "admin@site.io").await;
        assert_eq!(listed_backlog(&app, &s).await, Value::Null);
        assert_eq!(waiting_cell(&mut browser, &s.org).await, "not reported yet");

        // An older gateway's batch: accepted, its backlog unknown.
        let (status, answer) = sync(
            &app,
            &secret,
            batch(&[(DEVICE, report(DEVICE, 1..=10))]),
            1,
            false,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["results"][0]["outcome"], "accepted");
        assert_eq!(listed_backlog(&app, &s).await, Value::Null);
        assert_eq!(
            waiting_cell(&mut browser, &s.org).await,
            "not reported by this gateway's version"
        );

        // A batch with a report and what the gateway still holds after it.
        let hour = 3_600_000_000;
        let oldest = cloud::time::now_micros() - 2 * hour - 60_000_000;
        let held = Backlog {
            reports: 12,
            raw_bytes: 34_000,
            readings: 240,
            oldest_received_at_us: Some(oldest),
            quarantined: 1,
            ota_outcomes: 2,
            buffer_full: false,
        };
        let before = cloud::time::now_micros();
        let body = batch_with(&[(DEVICE, report(DEVICE, 11..=20))], Some(held));
        let (status, answer) = sync(&app, &secret, body, 2, false).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["results"][0]["outcome"], "accepted");
        let listed = listed_backlog(&app, &s).await;
        let reported_on = listed["reported_on"].as_str().unwrap().to_string();
        assert_eq!(
            listed,
            json!({
                "reports": 12,
                "bytes": 34_000,
                "readings": 240,
                "oldest_received_on": cloud::time::format(oldest),
                "quarantined": 1,
                "ota_outcomes": 2,
                "buffer_full": false,
                "reported_on": reported_on,
            })
        );
        let reported = chrono::DateTime::parse_from_rfc3339(&reported_on)
            .unwrap()
            .timestamp_micros();
        assert!(
            reported >= before && reported <= cloud::time::now_micros(),
            "{reported_on}"
        );
        let cell = waiting_cell(&mut browser, &s.org).await;
        assert!(
            cell.starts_with(
                "12 reports (34 KB) waiting, oldest from 2 h ago; \
                 1 report kept aside, never to be uploaded; 2 update outcomes to send, \
                 as of the last sync at "
            ),
            "{cell}"
        );

        // An empty batch that only says the gateway is clear.
        let body = batch_with(&[], Some(Backlog::default()));
        let (status, answer) = sync(&app, &secret, body, 3, false).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let listed = listed_backlog(&app, &s).await;
        assert_eq!(listed["reports"], 0);
        assert_eq!(listed["oldest_received_on"], Value::Null);
        assert_eq!(listed["buffer_full"], false);
        let cell = waiting_cell(&mut browser, &s.org).await;
        assert!(
            cell.starts_with("nothing waiting, as of the last sync at "),
            "{cell}"
        );

        // Figures that do not add up refuse the batch, with the reason, and change nothing.
        let before_refusal = listed_backlog(&app, &s).await;
        let bad = Backlog {
            reports: 3,
            ..Backlog::default()
        };
        let body = batch_with(&[(DEVICE, report(DEVICE, 21..=30))], Some(bad));
        let (status, answer) = sync(&app, &secret, body, 4, false).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            answer["detail"]
                .as_str()
                .unwrap()
                .contains("the oldest one has no time"),
            "{answer}"
        );
        assert_eq!(listed_backlog(&app, &s).await, before_refusal);
        let booked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM streamer_reports")
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
        assert_eq!(booked, 2, "the refused batch's report was not taken");

        // A batch that arrived before the one on record (a slow retry) changes nothing.
        let gateway =
            cloud::store::gateways::by_key_id(&app.state.db.meta, &secret.public().key_id())
                .await
                .unwrap()
                .unwrap();
        let stale = cloud::store::gateways::Backlog {
            reports: 99,
            bytes: 1,
            readings: 1,
            oldest: Some(1),
            quarantined: 0,
            ota_outcomes: 0,
            full: true,
        };
        cloud::store::gateways::record_backlog(
            &app.state.db.meta_writes,
            gateway.id,
            gateway.backlog_at.unwrap() - 1,
            Some(&stale),
        )
        .await
        .unwrap();
        assert_eq!(listed_backlog(&app, &s).await, before_refusal);

        // The gateway goes back to a version that does not tell: unknown again.
        let (status, _) = sync(&app, &secret, batch(&[]), 5, false).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed_backlog(&app, &s).await, Value::Null);
        assert_eq!(
            waiting_cell(&mut browser, &s.org).await,
            "not reported by this gateway's version"
        );
    }
);
