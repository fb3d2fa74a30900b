//! The sync client: registration with a one-time code, and uploads of pending reports in
//! signed batches (`sync_protocol::gateway`), each request signed with the gateway key and a
//! fresh nonce. [`pass`] walks the buffer through any [`Uplink`], this client being one.
//!
//! Each batch tells the cloud the backlog the gateway holds once the batch is accepted
//! ([`Buffer::backlog`]); [`report_backlog`] tells it with no report. A cloud older than the
//! backlog refuses such a batch; the batch then goes again without it, and batches leave it
//! out for [`OLD_CLOUD_RECHECK`] before trying again (the cloud may have been upgraded).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sync_protocol::gateway::backlog::REFUSED_BY_OLD_CLOUD;
use sync_protocol::gateway::{self, GatewaySecret, Registration, SyncAnswer, SyncBatch};

use crate::buffer::BufferError;

pub mod pass;
pub use pass::{
    report_backlog, sync_pending, BatchLimits, HeldReport, Outcome, Pass, Uplink, Uploaded,
};

/// The path of the signed upload, with the final slash the API uses.
pub const SYNC_PATH: &str = "/api/v1/gateway/sync/";
const REGISTER_PATH: &str = "/api/v1/gateway/register/";
/// How long batches leave the backlog out after a cloud refused it as unknown.
pub const OLD_CLOUD_RECHECK: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the cloud cannot be reached: {0}")]
    Network(#[from] reqwest::Error),
    /// The cloud refused the gateway itself (unknown or revoked key, bad signature, clock
    /// too far off): retrying will not help until someone acts.
    #[error("the cloud refused this gateway ({status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("the cloud answered {status}: {detail}")]
    Server { status: u16, detail: String },
    #[error("the cloud's answer does not match the batch: {0}")]
    Answer(String),
    #[error(transparent)]
    Buffer(#[from] BufferError),
    #[error("the buffer task failed: {0}")]
    Task(String),
}

impl SyncError {
    /// Whether waiting and trying again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Network(_)
                | SyncError::Server { .. }
                | SyncError::Task(_)
                | SyncError::Buffer(BufferError::Unavailable(_))
        )
    }
}

/// What registration answered.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Registered {
    /// The gateway key id.
    pub id: String,
    /// The org's slug.
    pub org: String,
}

pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    secret: GatewaySecret,
    /// Unix seconds when the cloud last refused a backlog as unknown; 0 for never.
    backlog_refused_at: AtomicU64,
}

impl SyncClient {
    pub fn new(
        cloud_url: &str,
        secret: GatewaySecret,
        timeout: Duration,
    ) -> Result<Self, SyncError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("iotile-gateway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(SyncClient {
            http,
            base: cloud_url.trim_end_matches('/').to_string(),
            secret,
            backlog_refused_at: AtomicU64::new(0),
        })
    }

    /// Binds this gateway's key to the org of `code`.
    pub async fn register(
        &self,
        code: &str,
        name: Option<String>,
    ) -> Result<Registered, SyncError> {
        let body = Registration::new(&self.secret, code.trim(), name);
        let response = self
            .http
            .post(format!("{}{REGISTER_PATH}", self.base))
            .json(&body)
            .send()
            .await?;
        Ok(answer(response).await?.json().await?)
    }

    /// Whether batches sent at `now_unix` carry the backlog: not within
    /// [`OLD_CLOUD_RECHECK`] of the cloud refusing it.
    pub fn sends_backlog(&self, now_unix: u64) -> bool {
        let refused = self.backlog_refused_at.load(Ordering::Relaxed);
        refused == 0 || now_unix >= refused.saturating_add(OLD_CLOUD_RECHECK.as_secs())
    }

    /// Uploads one batch, signed. A cloud that refuses the batch's backlog as an unknown
    /// field gets the batch again without it.
    pub async fn upload(&self, batch: &SyncBatch, now_unix: u64) -> Result<SyncAnswer, SyncError> {
        match self.post_batch(batch, now_unix).await {
            Err(SyncError::Refused {
                status: 400,
                detail,
            }) if batch.backlog.is_some() && detail.contains(REFUSED_BY_OLD_CLOUD) => {
                tracing::warn!(recheck = ?OLD_CLOUD_RECHECK,
                    "the cloud predates backlog reports; batches go without the backlog");
                self.backlog_refused_at
                    .store(now_unix.max(1), Ordering::Relaxed);
                let plain = SyncBatch {
                    reports: batch.reports.clone(),
                    backlog: None,
                };
                self.post_batch(&plain, now_unix).await
            }
            other => other,
        }
    }

    async fn post_batch(&self, batch: &SyncBatch, now_unix: u64) -> Result<SyncAnswer, SyncError> {
        let body = serde_json::to_vec(batch).map_err(|e| SyncError::Answer(e.to_string()))?;
        let request = self
            .signed(reqwest::Method::POST, SYNC_PATH, body, now_unix)?
            .header("Content-Type", "application/json");
        let answer: SyncAnswer = answer(request.send().await?).await?.json().await?;
        if answer.results.len() != batch.reports.len() {
            return Err(SyncError::Answer(format!(
                "{} results for {} reports",
                answer.results.len(),
                batch.reports.len()
            )));
        }
        Ok(answer)
    }
}

impl SyncClient {
    /// A request to `path` (with its query) signed with the gateway key and a fresh nonce.
    pub(crate) fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        now_unix: u64,
    ) -> Result<reqwest::RequestBuilder, SyncError> {
        let mut nonce = [0u8; 16];
        getrandom::getrandom(&mut nonce).map_err(|e| SyncError::Task(e.to_string()))?;
        let headers = gateway::sign(&self.secret, method.as_str(), path, &body, now_unix, nonce);
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body);
        for (name, value) in headers.to_pairs() {
            request = request.header(name, value);
        }
        Ok(request)
    }
}

/// The response when it is a success; otherwise the error it stands for.
pub async fn answer(response: reqwest::Response) -> Result<reqwest::Response, SyncError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let detail = response.text().await.unwrap_or_default();
    Err(error_for(status.as_u16(), detail))
}

/// The error an unsuccessful answer stands for: a 4xx is the cloud refusing (but for a
/// timeout or throttling, which pass), anything else a failure that may pass.
pub fn error_for(status: u16, detail: String) -> SyncError {
    let detail: String = detail.chars().take(500).collect();
    match status {
        400..=499 if status != 408 && status != 429 => SyncError::Refused { status, detail },
        _ => SyncError::Server { status, detail },
    }
}

pub(crate) fn now() -> (u64, i64) {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (
        since.as_secs(),
        i64::try_from(since.as_micros()).unwrap_or(i64::MAX),
    )
}

/// The wait before retry `attempt` (1, 2, …): exponential from one second up to `max`,
/// with full jitter from `random` so that many gateways coming back after an outage do not
/// arrive together.
pub fn backoff(attempt: u32, max: Duration, random: u64) -> Duration {
    let ceiling = Duration::from_secs(1u64 << attempt.clamp(1, 20).saturating_sub(1)).min(max);
    let millis = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(millis / 2 + random % (millis / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let max = Duration::from_secs(300);
        for attempt in 1..30 {
            for random in [0, 7, u64::MAX] {
                let wait = backoff(attempt, max, random);
                let ceiling = Duration::from_secs(1u64 << (attempt.min(20) - 1)).min(max);
                assert!(wait <= ceiling, "{attempt}: {wait:?} > {ceiling:?}");
                assert!(
                    wait >= ceiling / 2,
                    "{attempt}: {wait:?} < half of {ceiling:?}"
                );
            }
        }
        assert_eq!(backoff(30, max, 0), Duration::from_secs(150));
    }
}
