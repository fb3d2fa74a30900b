//! Sending what waits, in the order the cloud needs it: claims first (a report of a POD
//! claimed on site is accepted only once its claim is), then update outcomes (the report
//! carrying a POD's new version confirms the outcome told before it; told after, the cloud
//! would have made one of its own), then reports, then a fresh offline copy. Each step records what went up and what failed in
//! the sync log. No network ends the pass quietly: everything stays queued, and the
//! background loop tries again.

use std::sync::atomic::{AtomicU64, Ordering};

use gateway::buffer::{blocking, PendingReport};
use gateway::sync::{sync_pending, BatchLimits, SyncError, Uplink, Uploaded};
use serde::Serialize;

use crate::cloud::{ClaimAnswer, CloudApi};
use crate::collect::lock;
use crate::error::CoreError;
use crate::events::Events;
use crate::nearby::slug;
use crate::profile::Profile;
use crate::session::{self, now};
use crate::store::ClaimState;

/// Reports per request batch of a pass (each still goes up as its own upload).
const LIMITS: BatchLimits = BatchLimits {
    reports: 50,
    bytes: 4 << 20,
};

/// What waits to go up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Waiting {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub claims: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reports: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub readings: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub bytes: u64,
    /// Update outcomes not yet told to the cloud.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub actions: u64,
    /// Reports kept aside (failed their check, or refused by the cloud for good).
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub quarantined: u64,
}

/// How the reports' upload stands, told after each report the cloud answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SyncProgress {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reports_sent: u64,
    /// The reports waiting when the pass began.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reports: u64,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SyncSummary {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub claims_accepted: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub claims_refused: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reports_sent: u64,
    /// Reports the cloud cannot take yet, each with why.
    pub reports_held: Vec<String>,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reports_rejected: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub actions_sent: u64,
    pub copy_refreshed: bool,
    /// Why the pass stopped early, if it did.
    pub stopped: Option<String>,
    /// The user must sign in again for anything more to go up.
    pub sign_in_again: bool,
}

pub fn waiting(profile: &Profile) -> Result<Waiting, CoreError> {
    let claims = profile.store()?.pending_claims()?.len() as u64;
    let buffer = lock(&profile.buffer)?;
    let stats = buffer.stats()?;
    Ok(Waiting {
        claims,
        reports: stats.pending_reports,
        readings: stats.pending_readings,
        bytes: stats.pending_bytes,
        actions: buffer.unsent_ota_actions()?,
        quarantined: stats.quarantined,
    })
}

/// One pass.
pub async fn sync_now(profile: &Profile, events: &dyn Events) -> SyncSummary {
    let mut summary = SyncSummary::default();
    if let Err(error) = pass(profile, events, &mut summary).await {
        summary.sign_in_again = matches!(error, CoreError::SignInAgain | CoreError::SignedOut);
        if matches!(error, CoreError::SignInAgain) {
            let _ = session::expired(profile);
        }
        summary.stopped = Some(error.to_string());
        if !error.is_offline() {
            tracing::warn!(%error, "sync stopped");
        }
    }
    summary
}

async fn pass(
    profile: &Profile,
    events: &dyn Events,
    summary: &mut SyncSummary,
) -> Result<(), CoreError> {
    session::usable_token(profile).await?;
    send_claims(profile, summary).await?;
    send_actions(profile, summary).await?;
    send_reports(profile, events, summary).await?;
    session::refresh_copy(profile).await?;
    summary.copy_refreshed = true;
    Ok(())
}

async fn send_claims(profile: &Profile, summary: &mut SyncSummary) -> Result<(), CoreError> {
    let pending = profile.store()?.pending_claims()?;
    for claim in pending {
        let device = slug(claim.device);
        match profile.api.claim(&device, &claim.project).await {
            Ok(ClaimAnswer::Accepted) => {
                let store = profile.store()?;
                store.settle_claim(claim.id, ClaimState::Accepted, None, now())?;
                store.log("claim", &device, true, "claimed", now())?;
                summary.claims_accepted += 1;
            }
            Ok(ClaimAnswer::Refused(reason)) => {
                let store = profile.store()?;
                store.settle_claim(claim.id, ClaimState::Refused, Some(&reason), now())?;
                store.log("claim", &device, false, &reason, now())?;
                summary.claims_refused += 1;
            }
            Err(error) => {
                let error = CoreError::from(error);
                profile
                    .store()?
                    .claim_attempt_failed(claim.id, &error.to_string())?;
                return Err(error);
            }
        }
    }
    Ok(())
}

/// The cloud as the sync pass sees it: each report goes up on its own through
/// `streamer/report/`, the screen told as the cloud answers it (on a slow network a pass
/// takes minutes).
struct Telling<'a> {
    api: &'a CloudApi,
    events: &'a dyn Events,
    sent: AtomicU64,
    reports: u64,
}

impl Uplink for Telling<'_> {
    /// The backlog is a gateway's report to its org; a user's laptop keeps its own.
    fn sends_backlog(&self, _now_unix: u64) -> bool {
        false
    }

    async fn send(
        &self,
        reports: &[PendingReport],
        _backlog: Option<sync_protocol::gateway::Backlog>,
        _now_unix: u64,
    ) -> Result<Uploaded, SyncError> {
        let mut uploaded = Uploaded::default();
        for report in reports {
            uploaded
                .outcomes
                .push(self.api.upload_report(report).await?);
            let sent = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
            self.events.sync_progress(&SyncProgress {
                reports_sent: sent,
                reports: self.reports.max(sent),
            });
        }
        Ok(uploaded)
    }
}

async fn send_reports(
    profile: &Profile,
    events: &dyn Events,
    summary: &mut SyncSummary,
) -> Result<(), CoreError> {
    let reports = blocking(&profile.buffer, |b| b.stats())
        .await?
        .pending_reports;
    let uplink = Telling {
        api: &profile.api,
        events,
        sent: AtomicU64::new(0),
        reports,
    };
    let pass = sync_pending(&profile.buffer, &uplink, LIMITS).await;
    let pass = match pass {
        Ok(pass) => pass,
        Err(error) => {
            let error = CoreError::from(error);
            if !error.is_offline() {
                profile
                    .store()?
                    .log("reports", "upload", false, &error.to_string(), now())?;
            }
            return Err(error);
        }
    };
    let store = profile.store()?;
    let sent = (pass.accepted + pass.duplicates) as u64;
    summary.reports_sent += sent;
    summary.reports_rejected += pass.rejected as u64;
    if sent > 0 {
        store.log(
            "reports",
            &format!("{sent} reports"),
            true,
            "uploaded",
            now(),
        )?;
    }
    if pass.rejected > 0 {
        store.log(
            "reports",
            &format!("{} reports", pass.rejected),
            false,
            "refused by the cloud; kept aside",
            now(),
        )?;
    }
    let mut held: Vec<(String, String)> = pass
        .held
        .iter()
        .map(|h| (h.device.to_string(), h.reason.clone()))
        .collect();
    held.sort();
    held.dedup();
    for (device, reason) in held {
        store.log(
            "reports",
            &device,
            false,
            &format!("waiting: {reason}"),
            now(),
        )?;
        summary.reports_held.push(format!("{device}: {reason}"));
    }
    Ok(())
}

async fn send_actions(profile: &Profile, summary: &mut SyncSummary) -> Result<(), CoreError> {
    let actions = blocking(&profile.buffer, |b| b.pending_ota_actions(100)).await?;
    for action in actions {
        profile.api.ota_action(&action).await?;
        blocking(&profile.buffer, move |b| {
            b.mark_ota_action_posted(action.id, now() * 1_000_000)
        })
        .await?;
        profile.store()?.log(
            "update",
            &action.device.to_string(),
            action.successful,
            "outcome told to the cloud",
            now(),
        )?;
        summary.actions_sent += 1;
    }
    Ok(())
}
