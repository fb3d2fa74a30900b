//! The sync client: registration with a one-time code, and uploads of pending reports in
//! signed batches (`sync_protocol::gateway`).
//!
//! A pass takes the oldest pending reports in batches bounded by count and bytes (so memory
//! stays bounded however deep the backlog), signs each request with the gateway key and a
//! fresh nonce, and marks what the cloud confirmed (accepted or duplicate) as synced. A
//! report the cloud rejects for good is moved to quarantine with the cloud's reason. A
//! network failure or a server error ends the pass with nothing marked: the next pass sends
//! the same reports again, which the cloud recognises as duplicates.
//!
//! Each batch tells the cloud the backlog the gateway holds once the batch is accepted
//! ([`Buffer::backlog`]); [`report_backlog`] tells it with no report. A cloud older than the
//! backlog refuses such a batch; the batch then goes again without it, and batches leave it
//! out for [`OLD_CLOUD_RECHECK`] before trying again (the cloud may have been upgraded).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_protocol::gateway::backlog::REFUSED_BY_OLD_CLOUD;
use sync_protocol::gateway::{
    self, Backlog, BatchReport, GatewaySecret, Registration, ReportOutcome, SyncAnswer, SyncBatch,
};

use crate::buffer::{blocking, Buffer, BufferError, PendingReport};

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

/// The limits of one upload.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub reports: usize,
    pub bytes: usize,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub batches: usize,
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// The backlog the cloud took with the pass's last batch, when it took one.
    pub backlog: Option<Backlog>,
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
pub(crate) async fn answer(response: reqwest::Response) -> Result<reqwest::Response, SyncError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let detail = response.text().await.unwrap_or_default();
    let detail: String = detail.chars().take(500).collect();
    let status = status.as_u16();
    Err(match status {
        400..=499 if status != 408 && status != 429 => SyncError::Refused { status, detail },
        _ => SyncError::Server { status, detail },
    })
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

/// Uploads pending reports until none is left or an upload fails.
pub async fn sync_pending(
    buffer: &Arc<Mutex<Buffer>>,
    client: &SyncClient,
    limits: BatchLimits,
) -> Result<Pass, SyncError> {
    let mut pass = Pass::default();
    loop {
        let (pending, backlog): (Vec<PendingReport>, Backlog) = blocking(buffer, move |b| {
            let pending = b.pending(limits.reports, limits.bytes)?;
            let backlog = b.backlog(pending.last().map_or(0, |p| p.id))?;
            Ok((pending, backlog))
        })
        .await?;
        if pending.is_empty() {
            return Ok(pass);
        }
        let sent_at = now().0;
        let batch = SyncBatch {
            reports: pending
                .iter()
                .map(|p| BatchReport {
                    device: p.report.device,
                    streamer: p.report.streamer,
                    received_at_us: p.report.received_at_us,
                    raw: p.report.raw.clone(),
                })
                .collect(),
            backlog: sendable(client, backlog, sent_at),
        };
        let answer = client.upload(&batch, sent_at).await?;
        pass.batches += 1;
        pass.backlog = batch.backlog.filter(|_| client.sends_backlog(sent_at));
        let mut synced = Vec::new();
        let mut rejected = Vec::new();
        for (p, outcome) in pending.into_iter().zip(answer.results) {
            match outcome {
                ReportOutcome::Accepted => {
                    pass.accepted += 1;
                    synced.push(p.id);
                }
                ReportOutcome::Duplicate => {
                    pass.duplicates += 1;
                    synced.push(p.id);
                }
                ReportOutcome::Rejected { reason } => {
                    tracing::warn!(device = %p.report.device, report = p.report.report_id, %reason, "the cloud rejected a report; kept aside");
                    pass.rejected += 1;
                    rejected.push((p, reason));
                }
            }
        }
        let progress = answer.cloud_has;
        blocking(buffer, move |b| {
            let now_us = now().1;
            for (p, reason) in &rejected {
                b.quarantine(
                    &p.report.raw,
                    &format!("rejected by the cloud: {reason}"),
                    now_us,
                )?;
                synced.push(p.id);
            }
            b.mark_synced(&synced, now_us)?;
            for s in progress {
                b.record_cloud_has(s.device, s.streamer, s.last_id)?;
            }
            Ok(())
        })
        .await?;
    }
}

/// The backlog for a batch sent at `now_unix`, unless the cloud refuses backlogs or this one
/// does not add up (a clock before 1970 when a report was received): a backlog must never
/// keep reports from the cloud.
fn sendable(client: &SyncClient, backlog: Backlog, now_unix: u64) -> Option<Backlog> {
    if !client.sends_backlog(now_unix) {
        return None;
    }
    match backlog.check() {
        Ok(()) => Some(backlog),
        Err(error) => {
            tracing::warn!(%error, "the backlog is left out of the batch");
            None
        }
    }
}

/// Tells the cloud the backlog in a batch without reports. Returns what the cloud took:
/// None when it takes no backlog (it predates them, or this one does not add up).
pub async fn report_backlog(
    buffer: &Arc<Mutex<Buffer>>,
    client: &SyncClient,
) -> Result<Option<Backlog>, SyncError> {
    let sent_at = now().0;
    if !client.sends_backlog(sent_at) {
        return Ok(None);
    }
    let backlog = blocking(buffer, |b| b.backlog(0)).await?;
    let Some(backlog) = sendable(client, backlog, sent_at) else {
        return Ok(None);
    };
    let batch = SyncBatch {
        reports: Vec::new(),
        backlog: Some(backlog),
    };
    client.upload(&batch, sent_at).await?;
    Ok(client.sends_backlog(sent_at).then_some(backlog))
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
