//! The gateway's OTA calls to the cloud, each signed with the gateway key (no user token
//! lives on the Pi): the deployment feed (asked with `If-None-Match`, so an idle gateway
//! costs one empty 304), script downloads, and the outcomes of updates.

use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use sync_protocol::ota::feed::{script_path, FEED_PATH};
use sync_protocol::ota::OtaFeed;

use crate::buffer::ota::PendingAction;
use crate::sync::{answer, now, SyncClient, SyncError};

/// The path outcomes are posted to.
pub const ACTION_PATH: &str = "/api/v1/gateway/ota/action/";

/// The feed, if it changed since `etag`.
#[derive(Debug)]
pub enum FeedAnswer {
    Unchanged,
    New {
        etag: Option<String>,
        body: String,
        feed: OtaFeed,
    },
}

impl SyncClient {
    pub async fn ota_feed(&self, etag: Option<&str>) -> Result<FeedAnswer, SyncError> {
        let mut request = self.signed(Method::GET, FEED_PATH, Vec::new(), now().0)?;
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let response = request.send().await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(FeedAnswer::Unchanged);
        }
        let response = answer(response).await?;
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.text().await?;
        let feed = serde_json::from_str(&body)
            .map_err(|e| SyncError::Answer(format!("the OTA feed does not parse: {e}")))?;
        Ok(FeedAnswer::New { etag, body, feed })
    }

    /// A script's bytes, checked against the SHA-256 the feed announced.
    pub async fn ota_script(&self, slug: &str, sha256: &str) -> Result<Vec<u8>, SyncError> {
        let path = script_path(slug);
        let request = self.signed(Method::GET, &path, Vec::new(), now().0)?;
        let bytes = answer(request.send().await?).await?.bytes().await?;
        checked_script(slug, sha256, &bytes)
    }

    /// Tells the cloud how an update went (`201`).
    pub async fn ota_action(&self, action: &PendingAction) -> Result<(), SyncError> {
        let body = serde_json::to_vec(&action_body(action))
            .map_err(|e| SyncError::Answer(e.to_string()))?;
        let request = self
            .signed(Method::POST, ACTION_PATH, body, now().0)?
            .header("Content-Type", "application/json");
        answer(request.send().await?).await?;
        Ok(())
    }
}

/// A downloaded script's bytes, if they hash to the SHA-256 the feed announced.
pub fn checked_script(slug: &str, sha256: &str, bytes: &[u8]) -> Result<Vec<u8>, SyncError> {
    if !hex::encode(Sha256::digest(bytes)).eq_ignore_ascii_case(sha256) {
        return Err(SyncError::Answer(format!(
            "script {slug} does not hash to the SHA-256 the feed announced"
        )));
    }
    Ok(bytes.to_vec())
}

/// An update's outcome as `ota/action/` takes it (the original's DeploymentAction).
pub fn action_body(action: &PendingAction) -> serde_json::Value {
    let when = chrono::DateTime::from_timestamp_micros(action.attempt_us)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    json!({
        "deployment": action.deployment,
        "device": action.device.to_string(),
        "attempt_successful": action.successful,
        "last_attempt_on": when,
        "log": action.log,
    })
}
