//! A technician's site in the real cloud, for the desktop app's tests: an org with a
//! project its admin (the technician) may claim into, and one POD registered by staff,
//! claimed by no one.

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::json;

use crate::common;

/// The POD's advertised id.
pub const POD: u32 = 0xB1;

pub struct Site {
    /// The technician's token.
    pub tech: String,
    pub email: String,
    /// The project's UUID.
    pub project: String,
    pub project_name: String,
}

pub async fn site(app: &common::TestApp) -> Site {
    let staff = app.staff("staff@arch.io").await;
    let email = "tech@water.example".to_string();
    let tech = app.user(&email).await;
    let (_, org) = app.post("org/", &tech, json!({"name": "Water Co"})).await;
    let (_, project) = app
        .post(
            "project/",
            &tech,
            json!({"name": "Basement meters", "org": org["slug"]}),
        )
        .await;
    let body = json!({"id": POD, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
    assert_eq!(
        app.post("device/?staff=1", &staff, body).await.0,
        StatusCode::CREATED
    );
    Site {
        tech,
        email,
        project: project["id"].as_str().unwrap_or_default().to_string(),
        project_name: "Basement meters".into(),
    }
}
