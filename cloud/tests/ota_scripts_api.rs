//! Device scripts, their files, release signatures and release keys (spec 3.12): a
//! developer creates, uploads (in one step or the original's two), signs and releases; every
//! bad signature is refused with its reason; unsigned scripts wait for the org's consent.
//! Links and permissions are in `ota_script_access.rs`.

#![allow(clippy::unwrap_used)]

mod common;
mod ota_setup;

use ota_setup::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

backends!(
    a_script_is_created_uploaded_signed_and_released,
    |app: common::TestApp| async move {
        let w = world(&app).await;
        let dev = &w.developer;
        let (status, created) = app
            .post(
                "ota/script/",
                dev,
                json!({"name": "meter app", "org": w.org, "version": "1.2"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(
            keys(&created),
            [
                "created_on",
                "file",
                "gid",
                "name",
                "org",
                "released",
                "released_on",
                "signature",
                "signed",
                "slug",
                "version"
            ]
        );
        assert_eq!(created["version"], "v1.2.0");
        assert_eq!(created["org"], w.org.as_str());
        assert_eq!(created["released"], false);
        assert!(created["file"].is_null() && created["released_on"].is_null());
        let slug = created["slug"].as_str().unwrap().to_string();
        assert!(slug.starts_with("z--"), "{slug}");
        assert_eq!(
            slug,
            format!("z--0000-{:04x}", created["gid"].as_i64().unwrap())
        );

        // (org, name, version) is unique, however the version is spelled.
        let (status, body) = app
            .post(
                "ota/script/",
                dev,
                json!({"name": "meter app", "org": w.org, "major_version": 1, "minor_version": 2}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let msg = body["non_field_errors"][0].as_str().unwrap();
        assert!(msg.contains("meter app") && msg.contains("v1.2.0"), "{msg}");
        let (status, body) = app
            .post(
                "ota/script/",
                dev,
                json!({"name": "meter app", "org": w.org, "major_version": 1, "minor_version": 3}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["version"], "v1.3.0");
        for bad in [
            json!({"name": "x", "org": w.org, "version": "one"}),
            json!({"name": "x", "org": w.org}),
            json!({"name": " ", "org": w.org, "version": "1"}),
            json!({"name": "x", "org": "no-such-org", "version": "1"}),
        ] {
            let (status, body) = app.post("ota/script/", dev, bad.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }

        // Whatever is not an update script is refused, saying why.
        let refused = upload(&app, dev, &slug, b"not a script".to_vec()).await;
        assert_refused(&refused, "not_a_script", "garbage upload");
        let bytes = script_bytes(2);
        let (status, uploaded) = upload(&app, dev, &slug, bytes.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{uploaded}");
        assert_eq!(uploaded["file"]["name"], "update.trub");
        assert_eq!(uploaded["file"]["size"], bytes.len());
        assert_eq!(
            uploaded["file"]["sha256"],
            hex::encode(Sha256::digest(&bytes))
        );
        assert_eq!(uploaded["signed"], false);

        // Signed with a key of the org, for this target and these bytes.
        let secret = secret(1);
        add_key(&app, dev, &w.org, &secret).await;
        let sig = signature(&secret, &w.org, "meter app", "v1.2.0", &bytes);
        let (status, signed) = app
            .post(&format!("ota/script/{slug}/signature/"), dev, sig)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{signed}");
        assert_eq!(signed["signed"], true);
        assert_eq!(signed["signature"], secret.public().key_id());

        let (status, released) = release(&app, dev, &slug).await;
        assert_eq!(status, StatusCode::OK, "{released}");
        assert_eq!(released["released"], true);
        let day = released["released_on"].as_str().unwrap();
        assert!(
            day.len() == 10 && day.as_bytes()[4] == b'-',
            "released_on is a date: {day}"
        );

        // Released: bytes, name and release state stay as they are.
        let (status, body) = upload(&app, dev, &slug, script_bytes(3)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, _) = app
            .post(
                &format!("ota/script/{slug}/uploadurl/"),
                dev,
                json!({"name": "x.trub"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = app
            .patch(
                &format!("ota/script/{slug}/"),
                dev,
                json!({"name": "other"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = app
            .patch(
                &format!("ota/script/{slug}/"),
                dev,
                json!({"released": false}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);

        // The file as coretools reads it, then downloaded with no credentials.
        let file = app.ok(&format!("ota/script/{slug}/file/"), &w.member).await;
        assert_eq!(
            keys(&file),
            [
                "key",
                "major_version",
                "minor_version",
                "name",
                "patch_version",
                "url"
            ]
        );
        assert_eq!(
            (
                &file["major_version"],
                &file["minor_version"],
                &file["patch_version"]
            ),
            (&json!(1), &json!(2), &json!(0))
        );
        let url = file["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!(
                "http://{}/api/v1/ota/script/{slug}/download/?",
                app.addr
            )),
            "{url}"
        );
        assert_eq!(plain_get(url).await, (StatusCode::OK, bytes.clone()));

        // Lists: the developer's orgs, staff everything, filtered by version and org.
        let list = app.ok("ota/script/", dev).await;
        assert_eq!(list["count"], 2);
        let list = app.ok("ota/script/?version=1.2", dev).await;
        assert_eq!(list["count"], 1);
        assert_eq!(list["results"][0]["slug"], slug.as_str());
        let list = app.ok("ota/script/?version=1.2.1", &w.staff).await;
        assert_eq!(list["count"], 0);
        let list = app
            .ok(&format!("ota/script/?org={}", w.org), &w.staff)
            .await;
        assert_eq!(list["count"], 2);
        let (status, _) = app.get("ota/script/?version=x.y", dev).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // A script a deployment request uses is kept; another one goes.
        let other = list["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["slug"] != slug.as_str())
            .unwrap()["slug"]
            .as_str()
            .unwrap()
            .to_string();
        let org_id: String = sqlx::query_scalar("SELECT id FROM orgs WHERE slug = $1")
            .bind(&w.org)
            .fetch_one(&app.state.db.meta)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO deployment_requests (script_id, org_id, created_on) VALUES ($1, $2, 0)",
        )
        .bind(released["gid"].as_i64().unwrap())
        .bind(&org_id)
        .execute(&app.state.db.meta)
        .await
        .unwrap();
        let (status, body) = app.delete(&format!("ota/script/{slug}/"), dev).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["detail"].as_str().unwrap().contains("deployment"));
        let (status, _) = app.delete(&format!("ota/script/{other}/"), dev).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("ota/script/{other}/"), dev).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

backends!(
    the_two_step_upload_posts_without_credentials,
    |app: common::TestApp| async move {
        let w = world(&app).await;
        let dev = &w.developer;
        let slug = create_script(&app, dev, &w.org, "two step", "2.0.0").await;
        let (status, start) = app
            .post(
                &format!("ota/script/{slug}/uploadurl/"),
                dev,
                json!({"name": "two.trub"}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{start}");
        assert_eq!(keys(&start), ["fields", "url", "uuid"]);
        let url = start["url"].as_str().unwrap().to_string();
        assert!(
            url.starts_with(&format!("http://{}/api/v1/", app.addr)),
            "{url}"
        );
        let uuid = start["uuid"].as_str().unwrap().to_string();
        let post = |fields: Value, bytes: Vec<u8>| {
            let url = url.clone();
            async move {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in fields.as_object().unwrap() {
                    form = form.text(k.clone(), v.as_str().unwrap().to_string());
                }
                let part = reqwest::multipart::Part::bytes(bytes).file_name("two.trub");
                let response = reqwest::Client::new()
                    .post(&url)
                    .multipart(form.part("file", part))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                (
                    status,
                    response.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        };
        let bytes = script_bytes(4);

        // Nothing posted yet: nothing to attach.
        let (status, _) = app
            .post(
                &format!("ota/script/{slug}/uploadsuccess/"),
                dev,
                json!({"name": "two.trub", "uuid": uuid}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // An altered token, or a token for another upload, is refused.
        let mut altered = start["fields"].clone();
        altered["expires"] =
            json!((altered["expires"].as_str().unwrap().parse::<i64>().unwrap() + 60).to_string());
        let (status, body) = post(altered, bytes.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("not valid"),
            "{body}"
        );
        let mut other = start["fields"].clone();
        other["uuid"] = json!(uuid::Uuid::new_v4().to_string());
        assert_eq!(post(other, bytes.clone()).await.0, StatusCode::FORBIDDEN);
        let (status, body) = post(json!({}), bytes.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let refused = post(start["fields"].clone(), b"garbage".to_vec()).await;
        assert_refused(&refused, "not_a_script", "two-step garbage");

        let (status, body) = post(start["fields"].clone(), bytes.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, _) = app
            .post(
                &format!("ota/script/{slug}/uploadsuccess/"),
                dev,
                json!({"name": "other.trub", "uuid": uuid}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, done) = app
            .post(
                &format!("ota/script/{slug}/uploadsuccess/"),
                dev,
                json!({"name": "two.trub", "uuid": uuid}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{done}");
        assert_eq!(
            keys(&done),
            [
                "created_by",
                "created_on",
                "file_type",
                "id",
                "title",
                "url"
            ]
        );
        assert_eq!(done["id"], uuid.as_str());
        assert_eq!(done["title"], "two.trub");
        // The member cannot fetch an unreleased file, but the link in hand works.
        assert_eq!(
            plain_get(done["url"].as_str().unwrap()).await,
            (StatusCode::OK, bytes.clone())
        );
        let script = app.ok(&format!("ota/script/{slug}/"), dev).await;
        assert_eq!(script["file"]["name"], "two.trub");
        assert_eq!(
            script["file"]["sha256"],
            hex::encode(Sha256::digest(&bytes))
        );
        // Used once: a second success, or a post after it, is refused.
        let (status, _) = app
            .post(
                &format!("ota/script/{slug}/uploadsuccess/"),
                dev,
                json!({"name": "two.trub", "uuid": uuid}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = post(start["fields"].clone(), script_bytes(5)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
);

backends!(
    every_bad_signature_is_refused_with_its_reason,
    |app: common::TestApp| async move {
        let w = world(&app).await;
        let dev = &w.developer;
        let (org, name) = (w.org.as_str(), "pump app");
        let slug = create_script(&app, dev, org, name, "1.0.0").await;
        let bytes = script_bytes(1);
        upload(&app, dev, &slug, bytes.clone()).await;
        let good = secret(1);
        let revoked = secret(2);
        let stranger = secret(3);
        add_key(&app, dev, org, &good).await;
        let revoked_id = add_key(&app, dev, org, &revoked).await;
        let sign_path = format!("ota/script/{slug}/signature/");
        let sign = |body: Value| app.post(&sign_path, dev, body);

        let tampered = signature(&good, org, name, "1.0.0", &script_bytes(9));
        assert_refused(&sign(tampered).await, "script_changed", "other bytes");
        let unknown = signature(&stranger, org, name, "1.0.0", &bytes);
        assert_refused(&sign(unknown).await, "unknown_key", "unknown key");
        let other_name = signature(&good, org, "other app", "1.0.0", &bytes);
        assert_refused(&sign(other_name).await, "wrong_target", "other name");
        let other_version = signature(&good, org, name, "1.0.1", &bytes);
        assert_refused(&sign(other_version).await, "wrong_target", "other version");
        let other_org = signature(&good, &w.other_org, name, "1.0.0", &bytes);
        assert_refused(&sign(other_org).await, "wrong_target", "other org");
        let mut forged = signature(&good, org, name, "1.0.0", &bytes);
        forged["signature"] = json!("ab".repeat(64));
        assert_refused(&sign(forged).await, "bad_signature", "forged");
        let (status, _) = sign(json!({"key": "rk--12"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let script = app.ok(&format!("ota/script/{slug}/"), dev).await;
        assert!(script["signature"].is_null(), "nothing refused was kept");

        // Signed by a key that is revoked before the release.
        let by_revoked = signature(&revoked, org, name, "1.0.0", &bytes);
        assert_eq!(sign(by_revoked.clone()).await.0, StatusCode::CREATED);
        let (status, key) = app
            .post(&format!("ota/key/{revoked_id}/revoke/"), dev, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{key}");
        assert_eq!(key["revoked"], true);
        assert_refused(&release(&app, dev, &slug).await, "revoked_key", "release");
        assert_refused(&sign(by_revoked).await, "revoked_key", "sign");
        // Revoking again changes nothing.
        let (status, again) = app
            .post(&format!("ota/key/{revoked_id}/revoke/"), dev, json!({}))
            .await;
        assert_eq!(
            (status, &again["revoked_on"]),
            (StatusCode::OK, &key["revoked_on"])
        );

        // Bytes replaced after signing: shown unsigned, and the release says they changed.
        assert_eq!(
            sign(signature(&good, org, name, "1.0.0", &bytes)).await.0,
            StatusCode::CREATED
        );
        let (status, replaced) = upload(&app, dev, &slug, script_bytes(2)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(replaced["signed"], false);
        assert_refused(
            &release(&app, dev, &slug).await,
            "script_changed",
            "replaced",
        );
        // Renamed after signing: the signature names another target.
        upload(&app, dev, &slug, bytes.clone()).await;
        app.patch(
            &format!("ota/script/{slug}/"),
            dev,
            json!({"name": "renamed"}),
        )
        .await;
        assert_refused(&release(&app, dev, &slug).await, "wrong_target", "renamed");
        app.patch(&format!("ota/script/{slug}/"), dev, json!({"name": name}))
            .await;

        // Bytes changed in the object store behind the API's back.
        let file = app.ok(&format!("ota/script/{slug}/file/"), &w.staff).await;
        let path = app
            .dir
            .path()
            .join("objects")
            .join(file["key"].as_str().unwrap());
        std::fs::write(&path, script_bytes(7)).unwrap();
        assert_refused(&release(&app, dev, &slug).await, "script_changed", "store");
        std::fs::write(&path, &bytes).unwrap();
        let (status, body) = release(&app, dev, &slug).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
);

backends!(
    unsigned_scripts_wait_for_the_orgs_consent,
    |app: common::TestApp| async move {
        let w = world(&app).await;
        let dev = &w.developer;
        let slug = create_script(&app, dev, &w.org, "plain", "1").await;
        assert_refused(&release(&app, dev, &slug).await, "no_file", "no file");
        upload(&app, dev, &slug, script_bytes(1)).await;
        assert_refused(&release(&app, dev, &slug).await, "unsigned", "unsigned");

        let policy = app.ok(&format!("org/{}/ota/", w.org), &w.member).await;
        assert_eq!(policy["allow_unsigned"], false);
        let allow = json!({"allow_unsigned": true});
        // An org setting: owners, admins and developers change it; members do not.
        let (status, _) = app
            .patch(&format!("org/{}/ota/", w.org), &w.member, allow.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .patch(&format!("org/{}/ota/", w.org), &w.outsider, allow.clone())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, policy) = app
            .patch(&format!("org/{}/ota/", w.org), &w.owner, allow)
            .await;
        assert_eq!(status, StatusCode::OK, "{policy}");
        assert_eq!(policy["allow_unsigned"], true);

        // A bad signature is refused even so.
        let bad = create_script(&app, dev, &w.org, "badly signed", "1").await;
        let bytes = script_bytes(2);
        upload(&app, dev, &bad, bytes.clone()).await;
        let key = secret(4);
        add_key(&app, dev, &w.org, &key).await;
        let sig = signature(&key, &w.org, "badly signed", "1", &bytes);
        app.post(&format!("ota/script/{bad}/signature/"), dev, sig)
            .await;
        upload(&app, dev, &bad, script_bytes(3)).await;
        assert_refused(&release(&app, dev, &bad).await, "script_changed", "bad");

        let (status, body) = release(&app, dev, &slug).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["released"], true);
    }
);
