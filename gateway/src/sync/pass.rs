//! One sync pass: every pending report, oldest first, in batches bounded by count and bytes,
//! through an [`Uplink`]: the gateway's signed batches ([`SyncClient`]), or another way to
//! the cloud (the desktop app uploads each report under its user's token).
//!
//! What the cloud confirmed (accepted or duplicate) is marked synced; what it rejects for
//! good goes to quarantine with its reason; what it cannot take yet (a POD whose claim the
//! cloud has not seen) stays pending, and the pass moves on past it, so one held report
//! never keeps the others back. A failure of the uplink itself ends the pass with nothing
//! of that batch marked: the next pass sends it again, and the cloud knows duplicates.

use std::future::Future;
use std::sync::{Arc, Mutex};

use sync_protocol::gateway::{Backlog, BatchReport, ReportOutcome, StreamerProgress, SyncBatch};
use sync_protocol::ids::DeviceId;

use super::{now, SyncClient, SyncError};
use crate::buffer::{blocking, Buffer, PendingReport};

/// The limits of one upload.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub reports: usize,
    pub bytes: usize,
}

/// Where a pass sends reports.
pub trait Uplink: Sync {
    /// Whether a batch sent at `now_unix` may tell the cloud the backlog.
    fn sends_backlog(&self, now_unix: u64) -> bool;

    /// Sends one batch, with the backlog left once it is taken; one outcome per report, in
    /// order. An error means nothing of the batch is known to have arrived.
    fn send(
        &self,
        reports: &[PendingReport],
        backlog: Option<Backlog>,
        now_unix: u64,
    ) -> impl Future<Output = Result<Uploaded, SyncError>> + Send;
}

/// What the cloud said of one batch.
#[derive(Debug, Clone, Default)]
pub struct Uploaded {
    pub outcomes: Vec<Outcome>,
    /// Per device and streamer, the highest reading id the cloud holds.
    pub cloud_has: Vec<StreamerProgress>,
}

/// What became of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Duplicate,
    /// Refused for good: the report goes to quarantine with the reason.
    Rejected(String),
    /// Not taken now, for a reason that may pass (the POD is not claimed yet): it stays
    /// pending for the next pass.
    Held(String),
}

/// A report a pass left pending, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldReport {
    pub id: i64,
    pub device: DeviceId,
    pub reason: String,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    pub batches: usize,
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub held: Vec<HeldReport>,
    /// The backlog the cloud took with the pass's last batch, when it took one.
    pub backlog: Option<Backlog>,
}

/// Uploads every pending report once, unless an upload fails.
pub async fn sync_pending<U: Uplink>(
    buffer: &Arc<Mutex<Buffer>>,
    uplink: &U,
    limits: BatchLimits,
) -> Result<Pass, SyncError> {
    let mut pass = Pass::default();
    let mut after = 0;
    loop {
        let (pending, backlog): (Vec<PendingReport>, Backlog) = blocking(buffer, move |b| {
            let pending = b.pending_after(after, limits.reports, limits.bytes)?;
            let backlog = b.backlog(pending.last().map_or(0, |p| p.id))?;
            Ok((pending, backlog))
        })
        .await?;
        let Some(last) = pending.last() else {
            return Ok(pass);
        };
        after = last.id;
        let sent_at = now().0;
        let backlog = sendable(uplink, backlog, sent_at);
        let uploaded = uplink.send(&pending, backlog, sent_at).await?;
        if uploaded.outcomes.len() != pending.len() {
            return Err(SyncError::Answer(format!(
                "{} outcomes for {} reports",
                uploaded.outcomes.len(),
                pending.len()
            )));
        }
        pass.batches += 1;
        pass.backlog = backlog.filter(|_| uplink.sends_backlog(sent_at));
        let mut synced = Vec::new();
        let mut rejected = Vec::new();
        for (p, outcome) in pending.into_iter().zip(uploaded.outcomes) {
            match outcome {
                Outcome::Accepted => {
                    pass.accepted += 1;
                    synced.push(p.id);
                }
                Outcome::Duplicate => {
                    pass.duplicates += 1;
                    synced.push(p.id);
                }
                Outcome::Rejected(reason) => {
                    tracing::warn!(device = %p.report.device, report = p.report.report_id, %reason, "the cloud rejected a report; kept aside");
                    pass.rejected += 1;
                    rejected.push((p, reason));
                }
                Outcome::Held(reason) => {
                    tracing::info!(device = %p.report.device, report = p.report.report_id, %reason, "the cloud cannot take a report yet; it stays pending");
                    pass.held.push(HeldReport {
                        id: p.id,
                        device: p.report.device,
                        reason,
                    });
                }
            }
        }
        let progress = uploaded.cloud_has;
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

/// The backlog for a batch sent at `now_unix`, unless the uplink takes none or this one
/// does not add up (a clock before 1970 when a report was received): a backlog must never
/// keep reports from the cloud.
fn sendable<U: Uplink>(uplink: &U, backlog: Backlog, now_unix: u64) -> Option<Backlog> {
    if !uplink.sends_backlog(now_unix) {
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

impl Uplink for SyncClient {
    fn sends_backlog(&self, now_unix: u64) -> bool {
        SyncClient::sends_backlog(self, now_unix)
    }

    async fn send(
        &self,
        reports: &[PendingReport],
        backlog: Option<Backlog>,
        now_unix: u64,
    ) -> Result<Uploaded, SyncError> {
        let batch = SyncBatch {
            reports: reports
                .iter()
                .map(|p| BatchReport {
                    device: p.report.device,
                    streamer: p.report.streamer,
                    received_at_us: p.report.received_at_us,
                    raw: p.report.raw.clone(),
                })
                .collect(),
            backlog,
        };
        let answer = self.upload(&batch, now_unix).await?;
        Ok(Uploaded {
            outcomes: answer
                .results
                .into_iter()
                .map(|outcome| match outcome {
                    ReportOutcome::Accepted => Outcome::Accepted,
                    ReportOutcome::Duplicate => Outcome::Duplicate,
                    ReportOutcome::Rejected { reason } => Outcome::Rejected(reason),
                })
                .collect(),
            cloud_has: answer.cloud_has,
        })
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
