//! The gateway's signed OTA endpoints, on both backends: the feed in `OtaFeed`'s exact shape
//! for the gateway's org only (current release keys, the unsigned switch, running deployments
//! with their script, signature and devices), its strong ETag and 304; requests refused when
//! unsigned, replayed, tampered with or from a revoked gateway; script bytes only for the
//! org's deployed scripts, and never once altered in the object store; signed actions only
//! for the org's deployments and devices.

#![allow(clippy::unwrap_used)]

mod common;
mod ota_deploy_setup;

use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use sync_protocol::gateway::sign;
use sync_protocol::ota::{OtaFeed, ReleaseSecret, ScriptTarget};

use ota_deploy_setup::*;

async fn release_key(app: &common::TestApp, org_id: &str, secret: &ReleaseSecret, revoked: bool) {
    sqlx::query(
        "INSERT INTO release_keys (org_id, key_id, label, created_on, revoked_on) \
         VALUES ($1, $2, 'test', $3, $4)",
    )
    .bind(org_id)
    .bind(secret.public().key_id())
    .bind(cloud::time::now_micros())
    .bind(revoked.then(cloud::time::now_micros))
    .execute(&app.state.db.meta)
    .await
    .unwrap();
}

backends!(the_signed_feed, |app: common::TestApp| async move {
    let s = site(&app).await;
    devices(&app, &s.org_id, &[0x71, 0x72]).await;
    devices(&app, &s.other_org_id, &[0x81]).await;
    let z = script(&app, &s.org_id, 1, true).await;
    let foreign_z = script(&app, &s.other_org_id, 2, true).await;
    let key = ReleaseSecret::from_bytes(&[3; 32]);
    release_key(&app, &s.org_id, &key, false).await;
    release_key(&app, &s.org_id, &ReleaseSecret::from_bytes(&[4; 32]), true).await;
    let target = ScriptTarget::new(ORG, "script 1", "v1.2.0").unwrap();
    let signature = key.sign(&target, &script_bytes(1));
    sqlx::query("UPDATE device_scripts SET signature = $1 WHERE id = 1")
        .bind(serde_json::to_string(&signature).unwrap())
        .execute(&app.state.db.meta)
        .await
        .unwrap();

    let mine = request(
        &app,
        &s,
        json!({"script": z, "org": ORG, "selection_criteria": ["app_version:gte:1.0"]}),
    )
    .await;
    // A draft is not in the feed.
    request(&app, &s, json!({"script": z, "org": ORG})).await;
    let mine_id = mine["id"].clone();
    // Targets are chosen at release: give both devices an app version first.
    for d in [0x71, 0x72] {
        version(&app, d, "app", 1027, 1, 1).await;
    }
    let running = release(&app, &s, &mine_id).await;
    assert_eq!(running["progress"]["targeted"], 2);
    let (status, theirs) = app
        .post(
            "ota/request/",
            &s.staff,
            json!({"script": foreign_z, "org": "other", "released_on": "2026-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");

    // The feed: this org's running deployment only, in OtaFeed's shape.
    let gw = gateway(&app, &s, 9).await;
    let (status, etag, body) = feed(&app, &gw, 1, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body_of_first_feed = body.clone();
    let parsed: OtaFeed = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(parsed.release_keys, [key.public()]);
    assert!(!parsed.allow_unsigned);
    assert_eq!(parsed.deployments.len(), 1);
    let d = &parsed.deployments[0];
    assert_eq!(serde_json::json!(d.id), mine_id);
    assert_eq!(d.selection_criteria, ["app_version:gteq:1.0.0"]);
    assert_eq!(d.released_on, running["released_on"].as_str().unwrap());
    assert_eq!(d.devices, [0x71, 0x72]);
    assert_eq!(d.script.slug, z);
    assert_eq!(d.script.target, target);
    assert_eq!(d.script.size, script_bytes(1).len() as u64);
    assert_eq!(
        d.script.sha256,
        hex::encode(Sha256::digest(script_bytes(1)))
    );
    let sig = d.script.signature.as_ref().unwrap();
    sig.verify(&script_bytes(1), &target, &parsed.release_keys)
        .unwrap();

    // A strong ETag over the body; asking with it gives 304 and no body.
    let etag = etag.unwrap();
    assert_eq!(etag.len(), 66);
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let (status, again, body) = feed(&app, &gw, 2, Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.as_deref(), Some(etag.as_str()));
    assert!(body.is_null());
    let (status, _, _) = feed(&app, &gw, 3, Some("\"something else\"")).await;
    assert_eq!(status, StatusCode::OK);

    // A person's agent gets the same feed for an org they belong to, with the same tag.
    for user in [&s.member, &s.dev] {
        let response = app
            .client
            .get(app.url(&format!("ota/feed/?org={ORG}")))
            .header("Authorization", format!("JWT {user}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["etag"].to_str().unwrap(),
            etag,
            "the same feed as the gateway's"
        );
        let theirs: serde_json::Value = response.json().await.unwrap();
        assert_eq!(theirs, body_of_first_feed);
    }
    let response = app
        .client
        .get(app.url(&format!("ota/feed/?org={ORG}")))
        .header("Authorization", format!("JWT {}", s.member))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    let (status, _) = app.get(&format!("ota/feed/?org={ORG}"), &s.outsider).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an org the caller cannot see"
    );
    let (status, body) = app.get("ota/feed/", &s.member).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["org"][0], "This field is required.");
    let response = app
        .client
        .get(app.url(&format!("ota/feed/?org={ORG}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A change makes a new tag.
    sqlx::query(
        "INSERT INTO org_ota_settings (org_id, allow_unsigned, updated_on) VALUES ($1, 1, 0)",
    )
    .bind(&s.org_id)
    .execute(&app.state.db.meta)
    .await
    .unwrap();
    let (status, changed, body) = feed(&app, &gw, 4, Some(&etag)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(changed.unwrap(), etag);
    assert_eq!(body["allow_unsigned"], true);

    // Refused: unsigned, with a user token, replayed, signed for another path.
    let (status, _) = app.get("gateway/ota/", &s.owner).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let response = app
        .client
        .get(app.url("gateway/ota/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, _, _) = feed(&app, &gw, 4, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replayed nonce");
    let now = u64::try_from(cloud::time::now_micros() / 1_000_000).unwrap();
    let headers = sign(&gw, "GET", "/api/v1/gateway/ota/?all=1", b"", now, [5; 16]);
    let mut tampered = app.client.get(app.url("gateway/ota/"));
    for (name, value) in headers.to_pairs() {
        tampered = tampered.header(name, value);
    }
    assert_eq!(
        tampered.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Script bytes, for this org's deployed scripts only.
    let response = signed(
        &app,
        &gw,
        Method::GET,
        &format!("gateway/ota/script/{z}/"),
        b"",
        10,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), script_bytes(1));
    for (path, nonce) in [
        (format!("gateway/ota/script/{foreign_z}/"), 11),
        ("gateway/ota/script/z--0000-0099/".to_string(), 12),
        ("gateway/ota/script/nonsense/".to_string(), 13),
    ] {
        let response = signed(&app, &gw, Method::GET, &path, b"", nonce)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Bytes changed in the object store behind the cloud's back are refused, not served.
    app.state
        .blobs
        .put(
            &format!("test/scripts/{z}.trub"),
            bytes::Bytes::from(script_bytes(2)),
        )
        .await
        .unwrap();
    let response = signed(
        &app,
        &gw,
        Method::GET,
        &format!("gateway/ota/script/{z}/"),
        b"",
        14,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let refusal: serde_json::Value = response.json().await.unwrap();
    assert!(
        refusal["detail"].as_str().unwrap().contains("SHA-256"),
        "{refusal}"
    );

    // Signed actions, for this org's deployments and devices only.
    let post = |body: serde_json::Value, nonce: u128| {
        let bytes = serde_json::to_vec(&body).unwrap();
        let request = signed(
            &app,
            &gw,
            Method::POST,
            "gateway/ota/action/",
            &bytes,
            nonce,
        )
        .header("Content-Type", "application/json");
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let body = |deployment: &serde_json::Value, device: i64| {
        json!({"deployment": deployment, "device": slug(device), "attempt_successful": true,
               "last_attempt_on": "2026-02-01T00:00:00Z", "log": "by the gateway"})
    };
    let (status, created) = post(body(&mine_id, 0x71), 20).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["device"], slug(0x71));
    assert_eq!(created["device_confirmation"], false);
    let (status, _) = post(body(&theirs["id"], 0x81), 21).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(body(&mine_id, 0x81), 22).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(json!({"deployment": "x"}), 23).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A revoked gateway is refused at its next request.
    let (status, _) = app
        .post(
            &format!("gateway/{}/revoke/", gw.public().key_id()),
            &s.owner,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = feed(&app, &gw, 30, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
});
