//! Shared setup of the device tests: orgs with members and a project, a registered or
//! claimed device, and device-token requests.

#![allow(dead_code, clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common;
use cloud::store::orgs;
use cloud::time::now_micros;

pub const SG: &str = "water-meter-v1-1-0";
pub const DT: &str = "internaltestingtemplate-v0-1-0";

/// An org with an owner (a0), a member (m1) and an operator (r1), and one project
/// (gid 1) in it.
pub struct Org {
    pub owner: String,
    pub owner_slug: String,
    pub member: String,
    pub operator: String,
    pub project: String,
}

pub async fn org(app: &common::TestApp, slug: &str) -> Org {
    let pool = &app.state.db.meta;
    let owner_user = app
        .create_user(&format!("owner-{slug}@{slug}.io"), false)
        .await;
    let owner = app.login(&format!("owner-{slug}@{slug}.io")).await;
    let now = now_micros();
    let org_id = orgs::create(pool, slug, slug, "", owner_user.id, now)
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for role in ["m1", "r1"] {
        let email = format!("{role}-{slug}@{slug}.io");
        let user = app.create_user(&email, false).await;
        orgs::add_member(pool, user.id, &org_id, role, now)
            .await
            .unwrap();
        tokens.push(app.login(&email).await);
    }
    let gid: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects")
        .fetch_one(pool)
        .await
        .unwrap();
    let project = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO projects (id, gid, name, org_id, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&project)
    .bind(gid + 1)
    .bind(format!("{slug} project"))
    .bind(&org_id)
    .bind(now)
    .bind(owner_user.id)
    .execute(pool)
    .await
    .unwrap();
    let operator = tokens.pop().unwrap();
    let member = tokens.pop().unwrap();
    Org {
        owner,
        owner_slug: owner_user.slug,
        member,
        operator,
        project,
    }
}

pub async fn count(app: &common::TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&app.state.db.meta)
        .await
        .unwrap()
}

/// A GET with `Authorization: a-jwt <key>`.
pub async fn get_as_device(app: &common::TestApp, path: &str, key: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url(path))
        .header("Authorization", format!("a-jwt {key}"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub struct World {
    pub staff: String,
    pub acme: Org,
    pub other: Org,
}

/// Staff registers device 10 (`d--000a`); nobody has claimed it yet.
pub async fn registered(app: &common::TestApp) -> World {
    let staff = app.staff("staff@arch.io").await;
    let acme = org(app, "acme").await;
    let other = org(app, "other").await;
    let (status, body) = app
        .post(
            "device/?staff=1",
            &staff,
            json!({"template": DT, "sg": SG, "id": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    World { staff, acme, other }
}

/// Device 10, claimed by acme's owner into acme's project (`p--0000-0001`).
pub async fn claimed(app: &common::TestApp) -> World {
    let world = registered(app).await;
    let claim = json!({"device": "d--0000-0000-0000-000a", "project": "p--0000-0001"});
    let (status, body) = app.post("device/claim/", &world.acme.owner, claim).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    world
}

pub const VARS: &str = "SELECT COUNT(*) FROM variables WHERE project_id = $1";
pub const STREAM: &str = "s--0000-0001--0000-0000-0000-000a--5001";
