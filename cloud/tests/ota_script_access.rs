//! Who reaches device scripts (spec 3.12): file links download without credentials until
//! they expire or the file changes; people without `can_manage_ota` write nothing, and other
//! orgs see nothing.

#![allow(clippy::unwrap_used)]

mod common;
mod ota_setup;

use cloud::auth::links::LinkSigner;
use cloud::http::ota_script_file::DOWNLOAD;
use ota_setup::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

backends!(
    file_links_work_without_credentials_until_they_expire,
    |app: common::TestApp| async move {
        let w = world(&app).await;
        let dev = &w.developer;
        let slug = create_script(&app, dev, &w.org, "linked", "3.1.4").await;
        upload(&app, dev, &slug, script_bytes(5)).await;

        // Unreleased: staff only.
        let (status, _) = app.get(&format!("ota/script/{slug}/file/"), dev).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let early = app.ok(&format!("ota/script/{slug}/file/"), &w.staff).await;
        let early_url = early["url"].as_str().unwrap().to_string();
        assert_eq!(plain_get(&early_url).await.0, StatusCode::OK);
        // A new file: links to the old one stop working.
        let bytes = script_bytes(6);
        upload(&app, dev, &slug, bytes.clone()).await;
        let (status, body) = plain_get(&early_url).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}",
            String::from_utf8_lossy(&body)
        );

        app.patch(
            &format!("org/{}/ota/", w.org),
            &w.owner,
            json!({"allow_unsigned": true}),
        )
        .await;
        assert_eq!(release(&app, dev, &slug).await.0, StatusCode::OK);
        let file = app.ok(&format!("ota/script/{slug}/file/"), &w.member).await;
        let url = file["url"].as_str().unwrap().to_string();
        assert_eq!(plain_get(&url).await, (StatusCode::OK, bytes.clone()));

        let detail = |body: Vec<u8>| -> String {
            serde_json::from_slice::<Value>(&body).unwrap()["detail"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let (base, query) = url.split_once('?').unwrap();
        let expires: i64 = query
            .split('&')
            .find_map(|p| p.strip_prefix("expires="))
            .unwrap()
            .parse()
            .unwrap();
        let sig = query
            .split('&')
            .find_map(|p| p.strip_prefix("sig="))
            .unwrap();
        let now = expires - 3600;
        assert!(
            (now - chrono::Utc::now().timestamp()).abs() < 60,
            "lifetime is an hour"
        );
        let mut flipped = sig.to_string();
        flipped.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
        for altered in [
            format!("{base}?expires={}&sig={sig}", expires + 3600),
            format!("{base}?expires={expires}&sig={flipped}"),
        ] {
            let (status, body) = plain_get(&altered).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{altered}");
            assert!(detail(body).contains("not valid"), "{altered}");
        }
        let (status, body) = plain_get(base).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(detail(body).contains("incomplete"));
        // Made by this server, but an hour old.
        let sha = hex::encode(Sha256::digest(&bytes));
        let old = now - 1;
        let links: &LinkSigner = &app.state.links;
        let stale = format!(
            "{base}?expires={old}&sig={}",
            links.sign(DOWNLOAD, &[&slug, &sha], old)
        );
        let (status, body) = plain_get(&stale).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(detail(body).contains("expired"));
        // A link is for one script only.
        let other = create_script(&app, dev, &w.org, "other", "1").await;
        let (status, _) = plain_get(&url.replace(&slug, &other)).await;
        assert_ne!(status, StatusCode::OK);
    }
);

backends!(
    only_ota_managers_write_and_other_orgs_see_nothing,
    |app: common::TestApp| async move {
        let w = world(&app).await;
        let slug = create_script(&app, &w.developer, &w.org, "guarded", "1").await;
        let key = secret(5);
        let key_id = add_key(&app, &w.developer, &w.org, &key).await;
        let bytes = script_bytes(1);
        upload(&app, &w.developer, &slug, bytes.clone()).await;
        let sig = signature(&key, &w.org, "guarded", "1", &bytes);

        // Members, admins and even owners lack can_manage_ota.
        for token in [&w.member, &w.admin, &w.owner] {
            let (status, _) = app
                .post(
                    "ota/script/",
                    token,
                    json!({"name": "n", "org": w.org, "version": "9"}),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(
                upload(&app, token, &slug, bytes.clone()).await.0,
                StatusCode::FORBIDDEN
            );
            for (path, body) in [
                (format!("ota/script/{slug}/signature/"), sig.clone()),
                (
                    format!("ota/script/{slug}/uploadurl/"),
                    json!({"name": "x"}),
                ),
                (format!("ota/key/{key_id}/revoke/"), json!({})),
                (
                    "ota/key/".to_string(),
                    json!({"org": w.org, "key": secret(6).public().key_id()}),
                ),
            ] {
                let (status, answer) = app.post(&path, token, body).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
            }
            assert_eq!(release(&app, token, &slug).await.0, StatusCode::FORBIDDEN);
            let (status, _) = app.delete(&format!("ota/script/{slug}/"), token).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        // ... but they read their org's scripts and keys.
        assert_eq!(
            app.ok(&format!("ota/script/{slug}/"), &w.member).await["slug"],
            slug.as_str()
        );
        assert_eq!(app.ok("ota/script/", &w.member).await["count"], 1);
        let listed = app.ok(&format!("ota/key/?org={}", w.org), &w.member).await;
        assert_eq!(listed["count"], 1);
        assert_eq!(listed["results"][0]["key"], key.public().key_id());
        app.ok(&format!("ota/key/{key_id}/"), &w.member).await;

        // Another org: not found, not listed, and no writes.
        let o = &w.outsider;
        for path in [
            format!("ota/script/{slug}/"),
            format!("ota/script/{slug}/file/"),
            format!("ota/key/{key_id}/"),
            format!("org/{}/ota/", w.org),
        ] {
            let (status, body) = app.get(&path, o).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        }
        for path in ["ota/script/".to_string(), format!("ota/key/?org={}", w.org)] {
            let body = app.ok(&path, o).await;
            assert_eq!(body["count"], 0, "{path}: {body}");
        }
        let (status, _) = app
            .post(
                "ota/script/",
                o,
                json!({"name": "n", "org": w.org, "version": "1"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            upload(&app, o, &slug, bytes.clone()).await.0,
            StatusCode::NOT_FOUND
        );
        let (status, _) = app
            .post(&format!("ota/script/{slug}/signature/"), o, sig.clone())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Released, it is still not another org's to see.
        app.post(&format!("ota/script/{slug}/signature/"), &w.developer, sig)
            .await;
        assert_eq!(release(&app, &w.developer, &slug).await.0, StatusCode::OK);
        let (status, _) = app.get(&format!("ota/script/{slug}/file/"), o).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // A key is the org's once.
        let (status, body) = app
            .post(
                "ota/key/",
                &w.developer,
                json!({"org": w.org, "key": key.public().key_id()}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = app
            .post(
                "ota/key/",
                &w.developer,
                json!({"org": w.org, "key": "rk--zz"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["key"][0].as_str().is_some());
    }
);
