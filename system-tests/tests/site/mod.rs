//! A site in the real cloud for the system tests: an admin's org and project with device
//! 0xA1 claimed into it, and device 0xA2 registered but claimed by no one.

use reqwest::StatusCode;
use serde_json::json;

use crate::common;

pub const DEVICE: u32 = 0xA1;
pub const STRANGER: u32 = 0xA2;

pub struct Site {
    pub admin: String,
    pub org: String,
    /// The claimed device's stream 5001.
    pub stream: String,
}

pub async fn site(app: &common::TestApp) -> Site {
    let staff = app.staff("staff@arch.io").await;
    let admin = app.user("admin@site.io").await;
    let (_, org) = app.post("org/", &admin, json!({"name": "Site"})).await;
    let org = org["slug"].as_str().unwrap().to_string();
    let (_, project) = app
        .post("project/", &admin, json!({"name": "P", "org": org}))
        .await;
    for id in [DEVICE, STRANGER] {
        let body = json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        assert_eq!(
            app.post("device/?staff=1", &staff, body).await.0,
            StatusCode::CREATED
        );
    }
    let (status, claimed) = app
        .post(
            "device/claim/",
            &admin,
            json!({"device": "d--0000-0000-0000-00a1", "project": project["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
    let gid = &claimed["project"].as_str().unwrap()[3..];
    Site {
        admin,
        org,
        stream: format!("s--{gid}--0000-0000-0000-00a1--5001"),
    }
}
