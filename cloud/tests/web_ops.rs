//! The operations pages over HTTP, on both backends: the job queue (staff only, a dead job
//! retried through its confirm page), gateway registration codes (made, shown once, used by
//! a real registration) and revoking a gateway, and the reports list and page; each scoped
//! as the API scopes it, refused to lower roles where the API refuses them, and every form
//! refused without its token. The OTA pages are in `web_ops_ota.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use cloud::store::jobs::{self, AfterFailure};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sync_protocol::gateway::{GatewaySecret, Registration};
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

use common::web::Browser;

const SECOND: i64 = 1_000_000;

/// A job that every attempt fails, until the queue gives up on it; its id.
async fn dead_job(app: &common::TestApp) -> i64 {
    let db = &app.state.db;
    let id = jobs::enqueue(
        &db.meta,
        jobs::PROCESS_REPORT,
        "t--0000-0000-0000-0001--0000",
        r#"{"report": "not-a-report"}"#,
        0,
    )
    .await
    .unwrap();
    let mut now = 0;
    loop {
        let job = jobs::claim(&db.meta, db.backend, "w", now, SECOND)
            .await
            .unwrap()
            .unwrap();
        match jobs::fail(&db.meta, &job, "w", "the report row is gone", now)
            .await
            .unwrap()
        {
            AfterFailure::Retry { run_after } => now = run_after,
            AfterFailure::Dead => return id,
            AfterFailure::LostLease => panic!("the lease was ours"),
        }
    }
}

async fn job_state(app: &common::TestApp, id: i64) -> (String, i64) {
    let job = jobs::by_id(&app.state.db.meta, id).await.unwrap().unwrap();
    (job.state, job.attempts)
}

backends!(
    staff_retry_a_dead_job,
    spawn_idle,
    |app: common::TestApp| async move {
        app.create_user("staff@arch.io", true).await;
        app.create_user("someone@site.io", false).await;
        let id = dead_job(&app).await;
        let mut staff = Browser::sign_in(&app, "staff@arch.io").await;
        let mut someone = Browser::sign_in(&app, "someone@site.io").await;

        // Dead jobs with their reason, and the count of each state.
        let dead = staff.page("/jobs?state=dead").await;
        assert!(dead.body.contains("<h1>Job queue</h1>"));
        assert!(dead.body.contains("the report row is gone"));
        assert!(dead.body.contains(&format!("/jobs/{id}/retry")));
        assert!(dead
            .body
            .contains(r#"data-testid="jobs-dead">Dead <span class="badge">1</span>"#));
        let done = staff.get("/jobs?state=done").await;
        assert!(done.body.contains("No jobs here"));
        assert!(!done.body.contains("the report row is gone"));

        // Not staff: the page and the retry are refused, as the API's `/job/` is.
        assert_eq!(someone.get("/jobs").await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            someone.get(&format!("/jobs/{id}/retry")).await.status,
            StatusCode::FORBIDDEN
        );
        let refused = someone.post(&format!("/jobs/{id}/retry"), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(job_state(&app, id).await.0, "dead");

        // A form without its token is refused before anything happens.
        let forged = staff
            .post_without_token(&format!("/jobs/{id}/retry"), &[])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(job_state(&app, id).await.0, "dead");

        // The confirm page names the job and its reason; confirming queues it again.
        let ask = staff.page(&format!("/jobs/{id}/retry")).await;
        assert!(ask.body.contains(&format!("Retry job {id}?")));
        assert!(ask.body.contains("the report row is gone"));
        let done = staff.post(&format!("/jobs/{id}/retry"), &[]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let target = done.location.unwrap();
        assert_eq!(target, format!("/jobs/{id}"));
        assert_eq!(job_state(&app, id).await, ("queued".to_string(), 0));
        let shown = staff.page(&target).await;
        assert!(shown.body.contains(&format!("Job {id} is queued again.")));
        assert!(shown.body.contains(r#"data-testid="job-state">queued"#));
        // The message shows once.
        assert!(!staff.get(&target).await.body.contains("is queued again"));

        // Only a dead job is retried: the API's refusal, in words.
        let again = staff.post(&format!("/jobs/{id}/retry"), &[]).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert!(again.body.contains("Only a dead job can be retried"));
    }
);

/// An org whose owner made it, with a member (m1) and someone of another org.
struct Site {
    owner: String,
    org: String,
    project: Value,
    staff: String,
}

async fn site(app: &common::TestApp) -> Site {
    let staff = app.staff("staff@arch.io").await;
    let owner = app.user("owner@site.io").await;
    let (status, org) = app.post("org/", &owner, json!({"name": "Site"})).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let slug = org["slug"].as_str().unwrap().to_string();
    let member = app.create_user("member@site.io", false).await;
    let (status, body) = app
        .post(
            &format!("org/{slug}/register/"),
            &owner,
            json!({"user": member.slug, "role": "m1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let eve = app.user("eve@else.io").await;
    let (status, _) = app.post("org/", &eve, json!({"name": "Else"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, project) = app
        .post("project/", &owner, json!({"name": "P", "org": slug}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    Site {
        owner,
        org: slug,
        project,
        staff,
    }
}

async fn gateway_revoked(app: &common::TestApp, key_id: &str) -> bool {
    cloud::store::gateways::by_key_id(&app.state.db.meta, key_id)
        .await
        .unwrap()
        .unwrap()
        .revoked_on
        .is_some()
}

backends!(
    an_admin_makes_a_code_and_revokes_a_gateway,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let org = &s.org;
        let codes = format!("/org/{org}/gateways/codes");
        let mut owner = Browser::sign_in(&app, "owner@site.io").await;
        let mut member = Browser::sign_in(&app, "member@site.io").await;
        let mut eve = Browser::sign_in(&app, "eve@else.io").await;

        // The empty state says what to do.
        let empty = owner.page(&format!("/org/{org}/gateways")).await;
        assert!(empty.body.contains("No gateway is registered"));
        assert!(empty.body.contains("iotile-gateway register --code"));

        // A bad duration is the API's refusal, next to its field.
        owner.page(&codes).await;
        let bad = owner.post(&codes, &[("hours", "0")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            bad.field_error("hours").as_deref(),
            Some("Ensure this value is between 1 and 720.")
        );
        assert!(bad.body.contains(r#"aria-invalid="true""#));
        let bad = owner.post(&codes, &[("hours", "soon")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.field_error("hours").is_some());

        // A code is shown once, with its copy button, in the answer to the form.
        let made = owner.post(&codes, &[("hours", "2")]).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let code = made.text_of("new-code").unwrap();
        assert_eq!(code.len(), 24, "{code}");
        assert!(made.body.contains(r##"data-copy="#new-code" hidden"##));
        let later = owner.get(&codes).await;
        assert!(!later.body.contains(&code));
        assert!(later.body.contains("Open</span> until"));

        // Those who may not manage the org do not make codes, and do not see them.
        assert_eq!(member.get(&codes).await.status, StatusCode::FORBIDDEN);
        let refused = member.post(&codes, &[("hours", "2")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(!refused.body.contains("new-code"));
        // Another org's member gets the 404 page, by link and by form.
        let hidden = eve.get(&codes).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        let refused = eve.post(&codes, &[("hours", "2")]).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        assert!(!refused.body.contains("new-code"));
        // No form without its token.
        assert_eq!(
            owner
                .post_without_token(&codes, &[("hours", "2")])
                .await
                .status,
            StatusCode::FORBIDDEN
        );

        // A gateway registers with the code shown: the code reads as used.
        let secret = GatewaySecret::from_bytes(&[9; 32]);
        let reg = Registration::new(&secret, &code, Some("shed pi".into()));
        let (status, body) = app
            .call(
                Method::POST,
                "gateway/register/",
                None,
                Some(serde_json::to_value(&reg).unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let key = secret.public().key_id();
        assert!(owner.get(&codes).await.body.contains("Used</span>"));

        // The gateway with its key, never synced, active; members see it without actions.
        let list = owner.get(&format!("/org/{org}/gateways")).await;
        assert!(list.body.contains(&key));
        assert!(list.body.contains("shed pi"));
        assert!(list.body.contains(">never<"));
        let revoke = format!("/org/{org}/gateways/{key}/revoke");
        assert!(list.body.contains(&revoke));
        let seen = member.page(&format!("/org/{org}/gateways")).await;
        assert!(seen.body.contains(&key));
        assert!(!seen.body.contains(&revoke));
        let outside = eve.get(&format!("/org/{org}/gateways")).await;
        assert_eq!(outside.status, StatusCode::NOT_FOUND);
        assert!(!outside.body.contains(&key));

        // Revoking: refused to a member (403) and to another org (404), by link and form.
        assert_eq!(member.get(&revoke).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            member.post(&revoke, &[]).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(eve.get(&revoke).await.status, StatusCode::NOT_FOUND);
        assert_eq!(eve.post(&revoke, &[]).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            owner.post_without_token(&revoke, &[]).await.status,
            StatusCode::FORBIDDEN
        );
        assert!(!gateway_revoked(&app, &key).await);

        // The owner confirms and the gateway is revoked.
        let ask = owner.page(&revoke).await;
        assert!(ask.body.contains("Revoke this gateway?"));
        assert!(ask.body.contains("shed pi"));
        let done = owner.post(&revoke, &[]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert!(gateway_revoked(&app, &key).await);
        let after = owner.get(&done.location.unwrap()).await;
        assert!(after.body.contains(&format!("Gateway {key} is revoked.")));
        assert!(after.body.contains("Revoked</span>"));
        assert!(!after.body.contains(&revoke));
    }
);

const DEVICE: u32 = 0x55;

/// A hash-signed report of readings `ids` of `device` on stream 5001.
fn report(device: u32, ids: std::ops::RangeInclusive<u32>) -> Vec<u8> {
    let readings: Vec<Reading> = ids
        .clone()
        .map(|id| Reading {
            stream: 0x5001,
            reading_id: id,
            raw_time: id * 10,
            value: id,
        })
        .collect();
    let header = SignedListHeader {
        device_id: device,
        report_id: ids.end() + 1,
        sent_timestamp: 3000,
        streamer: 0,
        selector: 0x100B,
    };
    SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode()
}

/// Uploads a report as `token`; the new report's id once the worker processed it.
async fn uploaded(app: &common::TestApp, token: &str, bytes: Vec<u8>) -> String {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("report.bin");
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = app
        .client
        .post(app.url("streamer/report/?timestamp=2026-01-01T00:00:00"))
        .header("Authorization", format!("jwt {token}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let id = body["report"].as_str().unwrap().to_string();
    for _ in 0..300 {
        let r = app.ok(&format!("streamer/report/{id}/"), token).await;
        if r["status"] != "scheduled" {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("report {id} was not processed");
}

backends!(
    reports_show_their_processing,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        let slug = format!("d--0000-0000-0000-{DEVICE:04x}");
        let body = json!({"id": DEVICE, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        let (status, created) = app.post("device/?staff=1", &s.staff, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, claimed) = app
            .post(
                "device/claim/",
                &s.owner,
                json!({"device": slug, "project": s.project["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
        let mut owner = Browser::sign_in(&app, "owner@site.io").await;
        let mut eve = Browser::sign_in(&app, "eve@else.io").await;

        let empty = owner.page("/reports").await;
        assert!(empty.body.contains("No reports yet"));

        let id = uploaded(&app, &s.owner, report(DEVICE, 1..=40)).await;
        let list = owner.get("/reports").await;
        assert!(list.body.contains("<h1>Reports</h1>"));
        assert!(list.body.contains(&format!("/reports/{id}")));
        assert!(list.body.contains("Processed"));
        assert!(list.body.contains("1–40"));
        assert!(list.body.contains("40 new"));
        // Filters: by device and status; a malformed device is said so beside its field.
        let mine = owner.get(&format!("/reports?device={slug}")).await;
        assert!(mine.body.contains(&id));
        let failed = owner.get("/reports?status=failed").await;
        assert!(!failed.body.contains(&id));
        assert!(failed.body.contains("match these filters"));
        let bad = owner.get("/reports?device=pump-7").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad
            .field_error("device")
            .unwrap()
            .starts_with("Illegal device format."));
        let sorted = owner.get("/reports?sort=-readings").await;
        assert!(sorted.body.contains(r#"aria-sort="descending""#));

        // The report's page.
        let page = owner.page(&format!("/reports/{id}")).await;
        assert!(page
            .body
            .contains(r#"data-testid="report-status">Processed"#));
        assert!(page.body.contains(&slug));

        // Another org sees none of it.
        let outside = eve.get("/reports").await;
        assert!(!outside.body.contains(&id));
        let outside = eve.get(&format!("/reports?org={}", s.org)).await;
        assert!(!outside.body.contains(&id));
        let hidden = eve.get(&format!("/reports/{id}")).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert!(!hidden.body.contains(&slug));
        assert_eq!(
            eve.get("/reports/not-a-uuid").await.status,
            StatusCode::NOT_FOUND
        );
    }
);
