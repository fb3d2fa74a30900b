//! The cloud's REST API under the user's own token (`Authorization: JWT …`), as the
//! original phone app used it: sign-in and token refresh, the lists the offline copy is
//! made of, claims, report uploads (`streamer/report/`, one report per request, driven by
//! the gateway library's sync pass in `sync`), and OTA scripts and outcomes.
//!
//! Failures are the gateway's [`SyncError`]: a network failure or a 5xx may pass; a 401
//! means the user must sign in again; other 4xx are the cloud's answer about the request.

use std::sync::Mutex;
use std::time::Duration;

use gateway::buffer::ota::PendingAction;
use gateway::buffer::PendingReport;
use gateway::ota::client::{action_body, checked_script};
use gateway::sync::{Outcome, SyncError};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sync_protocol::ota::OtaFeed;

use crate::store::{Copy, CopyDevice, CopyOrg, CopyProject};

/// The most rows one list request asks for.
const PAGE_SIZE: u32 = 1000;

pub struct CloudApi {
    http: reqwest::Client,
    base: String,
    token: Mutex<Option<String>>,
}

/// What a password sign-in answered.
#[derive(Debug, Clone, Deserialize)]
pub struct SignedIn {
    pub username: String,
    pub email: String,
    pub jwt: String,
}

/// The cloud's verdict on a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimAnswer {
    Accepted,
    Refused(String),
}

#[derive(Deserialize)]
struct ListPage<T> {
    results: Vec<T>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Device {
    id: u64,
    slug: String,
    #[serde(default)]
    label: String,
    project: Option<String>,
    org: Option<String>,
}

impl CloudApi {
    pub fn new(base: &str, timeout: Duration) -> Result<CloudApi, SyncError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("iotile-desktop/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(CloudApi {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: Mutex::new(None),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn set_token(&self, token: Option<String>) {
        if let Ok(mut held) = self.token.lock() {
            *held = token;
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}/api/v1/{path}", self.base));
        let token = self.token.lock().ok().and_then(|t| t.clone());
        match token {
            Some(token) => request.header("Authorization", format!("JWT {token}")),
            None => request,
        }
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<SignedIn, SyncError> {
        let response = self
            .http
            .post(format!("{}/api/v1/auth/login/", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        Ok(gateway::sync::answer(response).await?.json().await?)
    }

    /// A new token for the one held, which must not have expired.
    pub async fn refresh(&self, token: &str) -> Result<String, SyncError> {
        #[derive(Deserialize)]
        struct Fresh {
            token: String,
        }
        let response = self
            .http
            .post(format!("{}/api/v1/auth/api-jwt-refresh/", self.base))
            .json(&json!({"token": token}))
            .send()
            .await?;
        let fresh: Fresh = gateway::sync::answer(response).await?.json().await?;
        Ok(fresh.token)
    }

    /// Every row of a list, page by page.
    async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, SyncError> {
        let mut rows = Vec::new();
        let join = if path.contains('?') { '&' } else { '?' };
        for page in 1.. {
            let response = self
                .request(
                    Method::GET,
                    &format!("{path}{join}page_size={PAGE_SIZE}&page={page}"),
                )
                .send()
                .await?;
            let body: ListPage<T> = gateway::sync::answer(response).await?.json().await?;
            rows.extend(body.results);
            if body.next.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    /// Everything the offline copy holds, fetched now.
    pub async fn copy(&self) -> Result<Copy, SyncError> {
        let orgs: Vec<CopyOrg> = self.list("org/").await?;
        let projects: Vec<CopyProject> = self.list("project/").await?;
        let devices: Vec<Device> = self.list("device/").await?;
        let mut feeds = Vec::new();
        for org in &orgs {
            if let Some(feed) = self.feed(&org.slug).await? {
                feeds.push((org.slug.clone(), feed));
            }
        }
        Ok(Copy {
            orgs,
            projects,
            devices: devices
                .into_iter()
                .map(|d| CopyDevice {
                    id: d.id,
                    slug: d.slug,
                    label: d.label,
                    project: d.project,
                    org: d.org,
                })
                .collect(),
            feeds,
        })
    }

    /// The org's OTA feed; None where the user may not see the org's deployments.
    async fn feed(&self, org: &str) -> Result<Option<OtaFeed>, SyncError> {
        let response = self
            .request(Method::GET, "ota/feed/")
            .query(&[("org", org)])
            .send()
            .await?;
        if matches!(
            response.status(),
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ) {
            return Ok(None);
        }
        let body = gateway::sync::answer(response).await?.text().await?;
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| SyncError::Answer(format!("the OTA feed of {org} does not parse: {e}")))
    }

    /// Claims `device` (its `d--` slug) into `project` (its UUID).
    pub async fn claim(&self, device: &str, project: &str) -> Result<ClaimAnswer, SyncError> {
        let response = self
            .request(Method::POST, "device/claim/")
            .json(&json!({"device": device, "project": project}))
            .send()
            .await?;
        match gateway::sync::answer(response).await {
            Ok(_) => Ok(ClaimAnswer::Accepted),
            Err(SyncError::Refused { status, detail }) if status != 401 => {
                Ok(ClaimAnswer::Refused(reason(&detail)))
            }
            Err(other) => Err(other),
        }
    }

    /// One report, as `streamer/report/` takes it from the phone app.
    pub async fn upload_report(&self, report: &PendingReport) -> Result<Outcome, SyncError> {
        let received = chrono::DateTime::from_timestamp_micros(report.report.received_at_us)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let part = reqwest::multipart::Part::bytes(report.report.raw.clone())
            .file_name("report.bin")
            .mime_str("application/octet-stream")?;
        let response = self
            .request(Method::POST, "streamer/report/")
            .query(&[("timestamp", received)])
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            return Ok(if body["duplicate"] == true {
                Outcome::Duplicate
            } else {
                Outcome::Accepted
            });
        }
        let detail = reason(&response.text().await.unwrap_or_default());
        Ok(match status {
            // The POD's claim may not have reached the cloud yet, or the user may gain
            // the right later: the report waits.
            StatusCode::NOT_FOUND => Outcome::Held("the cloud does not know this POD yet".into()),
            StatusCode::FORBIDDEN => Outcome::Held(format!("not allowed to upload: {detail}")),
            StatusCode::BAD_REQUEST if detail.contains("has not been claimed") => {
                Outcome::Held("the POD is not claimed yet".into())
            }
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => Outcome::Rejected(detail),
            _ => {
                return Err(gateway::sync::error_for(status.as_u16(), detail));
            }
        })
    }

    /// A script's bytes, checked against the SHA-256 the feed announced.
    pub async fn ota_script(&self, slug: &str, sha256: &str) -> Result<Vec<u8>, SyncError> {
        #[derive(Deserialize)]
        struct Link {
            url: String,
        }
        let response = self
            .request(Method::GET, &format!("ota/script/{slug}/file/"))
            .send()
            .await?;
        let link: Link = gateway::sync::answer(response).await?.json().await?;
        let response = self.http.get(&link.url).send().await?;
        let bytes = gateway::sync::answer(response).await?.bytes().await?;
        checked_script(slug, sha256, &bytes)
    }

    /// Tells the cloud how an update went (`POST ota/action/`, 201).
    pub async fn ota_action(&self, action: &PendingAction) -> Result<(), SyncError> {
        let response = self
            .request(Method::POST, "ota/action/")
            .json(&action_body(action))
            .send()
            .await?;
        gateway::sync::answer(response).await?;
        Ok(())
    }
}

/// The human part of an API error body: `{"detail": …}`, `{"error": …}`, `["…"]` or a
/// field map, else the text itself.
pub fn reason(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return body.trim().chars().take(300).collect();
    };
    let text = match &value {
        Value::Object(map) => map
            .get("detail")
            .or_else(|| map.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                map.iter()
                    .map(|(field, v)| format!("{field}: {}", first_text(v)))
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
        other => first_text(other),
    };
    text.chars().take(300).collect()
}

fn first_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.first().map(first_text).unwrap_or_default(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn reasons_read_every_error_shape_of_the_api() {
        assert_eq!(
            reason(r#"{"detail":"Device is not claimable"}"#),
            "Device is not claimable"
        );
        assert_eq!(
            reason(r#"{"error":"missing timestamp argument"}"#),
            "missing timestamp argument"
        );
        assert_eq!(
            reason(r#"["Streamer Report ID must be a UUID"]"#),
            "Streamer Report ID must be a UUID"
        );
        assert_eq!(
            reason(r#"{"project":["Not found."]}"#),
            "project: Not found."
        );
        assert_eq!(reason("Bad Gateway\n"), "Bad Gateway");
    }
}
