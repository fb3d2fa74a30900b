//! The OTA pages over HTTP, on both backends: scripts with the release check's verdict,
//! release keys revoked through a confirm page (and the verdict following), fleets and their
//! devices, and a deployment released, halted, resumed and completed from its page with
//! each device's standing; refused to roles without `can_manage_ota` and invisible to other
//! orgs, as the API answers.

#![allow(clippy::unwrap_used)]

mod common;
mod ota_deploy_setup;

use reqwest::StatusCode;
use serde_json::json;
use sync_protocol::ota::release::{ReleaseSecret, ScriptTarget};

use common::web::Browser;
use ota_deploy_setup::*;

async fn key_revoked(app: &common::TestApp, id: i64) -> bool {
    cloud::store::release_keys::by_id(&app.state.db.meta, id)
        .await
        .unwrap()
        .unwrap()
        .revoked_on
        .is_some()
}

backends!(scripts_keys_and_fleets, |app: common::TestApp| async move {
    let s = site(&app).await;
    let mut dev = Browser::sign_in(&app, "dev@acme.io").await;
    let mut owner = Browser::sign_in(&app, "owner@acme.io").await;
    let mut eve = Browser::sign_in(&app, "eve@other.io").await;

    // Empty states name the commands to use.
    let none = dev.page(&format!("/org/{ORG}/ota/scripts")).await;
    assert!(none.body.contains("No script yet"));
    assert!(none.body.contains("iotile-fw script sign"));

    // A release key, and a script signed with it; another unsigned one.
    let secret = ReleaseSecret::from_bytes(&[5; 32]);
    let (status, key) = app
        .post(
            "ota/key/",
            &s.dev,
            json!({"org": ORG, "key": secret.public().key_id(), "label": "build server"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let key_id = key["id"].as_i64().unwrap();
    let signed = script(&app, &s.org_id, 2, false).await;
    let target = ScriptTarget::new(ORG, "script 2", "v1.2.0").unwrap();
    let signature = serde_json::to_value(secret.sign(&target, &script_bytes(2))).unwrap();
    let (status, body) = app
        .post(
            &format!("ota/script/{signed}/signature/"),
            &s.dev,
            signature,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let unsigned = script(&app, &s.org_id, 3, false).await;

    let list = dev.get(&format!("/org/{ORG}/ota/scripts")).await;
    assert!(list.body.contains("<h1>Scripts of Acme</h1>"));
    assert!(list.body.contains(&signed) && list.body.contains(&unsigned));
    assert!(list.body.contains(r#"data-reason="">Verified"#));
    assert!(list.body.contains(r#"data-reason="unsigned">Unsigned"#));
    assert!(list.body.contains("Not released"));
    let sorted = dev
        .get(&format!("/org/{ORG}/ota/scripts?sort=-version"))
        .await;
    assert!(sorted.body.contains(r#"aria-sort="descending""#));

    // Keys: the developer may revoke, the owner (no can_manage_ota) sees no way to.
    let revoke = format!("/org/{ORG}/ota/keys/{key_id}/revoke");
    let keys = dev.get(&format!("/org/{ORG}/ota/keys")).await;
    assert!(keys.body.contains(&secret.public().key_id()));
    assert!(keys.body.contains("build server"));
    assert!(keys.body.contains(&revoke));
    let seen = owner.page(&format!("/org/{ORG}/ota/keys")).await;
    assert!(seen.body.contains("build server"));
    assert!(!seen.body.contains(&revoke));
    assert_eq!(owner.get(&revoke).await.status, StatusCode::FORBIDDEN);
    assert_eq!(owner.post(&revoke, &[]).await.status, StatusCode::FORBIDDEN);
    // Another org: nothing of acme's OTA, by link or by form.
    let hidden = eve.get(&format!("/org/{ORG}/ota/keys")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert!(!hidden.body.contains("build server"));
    assert_eq!(
        eve.get(&format!("/org/{ORG}/ota")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(eve.post(&revoke, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        dev.post_without_token(&revoke, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(!key_revoked(&app, key_id).await);

    let ask = dev.page(&revoke).await;
    assert!(ask.body.contains("Revoke this release key?"));
    let done = dev.post(&revoke, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(key_revoked(&app, key_id).await);
    let after = dev.get(&done.location.unwrap()).await;
    assert!(after.body.contains("is revoked."));
    assert!(after.body.contains("Revoked</span>"));
    // The signature now fails the release check, and says why.
    let list = dev.get(&format!("/org/{ORG}/ota/scripts")).await;
    assert!(list
        .body
        .contains(r#"data-reason="revoked_key">Revoked key"#));

    // Fleets and their devices.
    devices(&app, &s.org_id, &[0x61, 0x62]).await;
    let fleet = fleet(&app, &s, "North", &[0x61]).await;
    let fleets = dev.get(&format!("/org/{ORG}/ota/fleets")).await;
    assert!(fleets.body.contains("North"));
    assert!(fleets
        .body
        .contains(&format!("/org/{ORG}/ota/fleets/{fleet}")));
    let page = owner.page(&format!("/org/{ORG}/ota/fleets/{fleet}")).await;
    assert!(page.body.contains(&slug(0x61)));
    assert!(!page.body.contains(&slug(0x62)));
    let hidden = eve.get(&format!("/org/{ORG}/ota/fleets/{fleet}")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert!(!hidden.body.contains(&slug(0x61)));
    // The overview counts them.
    let overview = dev.get(&format!("/org/{ORG}/ota")).await;
    assert!(overview.body.contains("<h1>OTA of Acme</h1>"));
    assert!(overview.body.contains("Signature required"));
});

backends!(
    a_deployment_from_release_to_completion,
    |app: common::TestApp| async move {
        let s = site(&app).await;
        devices(&app, &s.org_id, &[0x61, 0x62]).await;
        let z = script(&app, &s.org_id, 1, true).await;
        let north = fleet(&app, &s, "North", &[0x61, 0x62]).await;
        let created = request(&app, &s, json!({"script": z, "org": ORG, "fleet": north})).await;
        let id = created["id"].as_i64().unwrap();
        let page = format!("/org/{ORG}/ota/deployments/{id}");
        let mut dev = Browser::sign_in(&app, "dev@acme.io").await;
        let mut member = Browser::sign_in(&app, "member@acme.io").await;
        let mut eve = Browser::sign_in(&app, "eve@other.io").await;

        let list = dev.get(&format!("/org/{ORG}/ota/deployments")).await;
        assert!(list.body.contains(&format!(r##"{page}">#{id}</a>"##)));
        assert!(list.body.contains(">draft<"));
        let draft = dev.get(&page).await;
        assert!(draft
            .body
            .contains(r#"data-testid="deployment-state">draft"#));
        assert!(draft.body.contains("A draft has no targets yet"));
        assert!(draft.body.contains(&format!("{page}/release")));
        // A member reads it but is offered no change, and is refused one.
        let seen = member.page(&page).await;
        assert!(!seen.body.contains(&format!("{page}/release")));
        assert_eq!(
            member.get(&format!("{page}/release")).await.status,
            StatusCode::FORBIDDEN
        );
        let refused = member.post(&format!("{page}/release"), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        // Another org sees nothing.
        let hidden = eve.get(&page).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert!(!hidden.body.contains(&z));
        assert_eq!(
            eve.post(&format!("{page}/release"), &[]).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            dev.post_without_token(&format!("{page}/release"), &[])
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            dev.get(&format!("{page}/explode")).await.status,
            StatusCode::NOT_FOUND
        );

        // Released through its confirm page: two devices waiting.
        let ask = dev.page(&format!("{page}/release")).await;
        assert!(ask.body.contains(&format!("Release deployment {id}?")));
        assert!(ask.body.contains(&north));
        let done = dev.post(&format!("{page}/release"), &[]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let running = dev.get(&done.location.unwrap()).await;
        assert!(running
            .body
            .contains(&format!("Deployment {id} is running.")));
        assert!(running
            .body
            .contains(r#"data-testid="deployment-state">running"#));
        assert_eq!(
            running.body.matches(r#"data-testid="target-row""#).count(),
            2
        );

        // One device fails: it stands failed with its log, the other waits.
        action(
            &app,
            &s,
            json!({"deployment": id, "device": slug(0x61), "attempt_successful": false,
               "log": "flash write failed"}),
        )
        .await;
        let failed = dev.get(&format!("{page}?standing=failed")).await;
        assert_eq!(
            failed.body.matches(r#"data-testid="target-row""#).count(),
            1
        );
        assert!(failed.body.contains(&slug(0x61)));
        assert!(failed.body.contains("flash write failed"));
        let waiting = dev.get(&format!("{page}?standing=waiting")).await;
        assert!(waiting.body.contains(&slug(0x62)) && !waiting.body.contains(&slug(0x61)));
        let bad = dev.get(&format!("{page}?standing=lost")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            bad.field_error("standing").as_deref(),
            Some("Select a valid choice.")
        );

        // Halt, resume and complete, each through its confirm page.
        for (action, state) in [
            ("halt", "halted"),
            ("resume", "running"),
            ("complete", "completed"),
        ] {
            let url = format!("{page}/{action}");
            assert!(dev.get(&page).await.body.contains(&url), "{action} offered");
            dev.page(&url).await;
            dev.submit(&url, &[]).await;
            let now = app.ok(&format!("ota/request/{id}/"), &s.dev).await;
            assert_eq!(now["state"], state);
        }
        // A completed deployment offers no change; one asked anyway is the API's refusal.
        let done = dev.page(&page).await;
        assert!(!done.body.contains(&format!("{page}/halt")));
        let again = dev.post(&format!("{page}/halt"), &[]).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert!(again.body.contains("not running"));
    }
);
