//! The OTA task of the daemon: it keeps the feed fresh (a signed GET with `If-None-Match`
//! every `ota.poll`, or sooner when an update finished), downloads the scripts the feed
//! names into the buffer, fails updates whose POD never came back from its reset (counting
//! only the time the gateway ran), and tells the cloud every outcome, keeping each until the
//! cloud has it.
//!
//! The feed is kept in the buffer, so a gateway restarted while the cloud is down still
//! updates PODs with what it knew (the daemon loads it with [`Updates::load`] at start).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_protocol::ota::OtaFeed;
use tokio_util::sync::CancellationToken;

use super::client::FeedAnswer;
use super::runner::{now_us, UpdateError};
use super::updates::Updates;
use crate::buffer::{blocking, Buffer, BufferError};
use crate::sync::{SyncClient, SyncError};

/// Outcomes posted per pass at most.
const ACTIONS_PER_PASS: usize = 100;

pub(crate) async fn run(
    client: SyncClient,
    updates: Arc<Updates>,
    buffer: Arc<Mutex<Buffer>>,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let started_us = now_us();
    loop {
        // A pass stuck on a cloud that hangs must not hold the gateway's stop; cutting it
        // short is harmless (each buffer write is whole, and an outcome is marked sent only
        // after the cloud took it).
        tokio::select! {
            () = shutdown.cancelled() => break,
            done = pass(&client, &updates, &buffer, started_us) => if let Err(error) = done {
                tracing::warn!(%error, "OTA: the pass stopped; trying again later");
            },
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(poll) => {}
            () = updates.finished.notified() => {}
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Update(#[from] UpdateError),
    #[error(transparent)]
    Buffer(#[from] BufferError),
}

async fn refresh(updates: &Updates, buffer: &Arc<Mutex<Buffer>>) -> Result<(), PassError> {
    let jobs = blocking(buffer, |b| b.ota_job_states()).await?;
    updates.set_jobs(jobs);
    Ok(())
}

/// The slugs of the feed's scripts whose bytes the buffer holds.
async fn downloaded(
    buffer: &Arc<Mutex<Buffer>>,
    feed: &OtaFeed,
) -> Result<HashSet<String>, PassError> {
    let wanted: Vec<(String, String)> = feed
        .deployments
        .iter()
        .map(|d| (d.script.slug.clone(), d.script.sha256.clone()))
        .collect();
    Ok(blocking(buffer, move |b| {
        let mut have = HashSet::new();
        for (slug, sha) in wanted {
            if b.ota_script(&slug, &sha)?.is_some() {
                have.insert(slug);
            }
        }
        Ok(have)
    })
    .await?)
}

/// `started_us`: when this gateway started. A POD reset before then was not watched while
/// the gateway was down, so its time to come back counts from the start: the sweep of lost
/// reboots waits until the gateway has run for the whole limit. (Failing at once would tell
/// the cloud a false failure for every POD that came back during a power cut.)
async fn pass(
    client: &SyncClient,
    updates: &Updates,
    buffer: &Arc<Mutex<Buffer>>,
    started_us: i64,
) -> Result<(), PassError> {
    let limit_us = i64::try_from(updates.options.come_back_within.as_micros()).unwrap_or(i64::MAX);
    let now = now_us();
    let lost = if now.saturating_sub(started_us) > limit_us {
        blocking(buffer, move |b| b.fail_lost_reboots(limit_us, now)).await?
    } else {
        Vec::new()
    };
    for job in &lost {
        tracing::error!(device = %job.device, deployment = job.deployment,
            "OTA: the POD did not come back after its reset");
    }
    // Outcomes first: they matter even when the feed cannot be fetched.
    post_actions(client, buffer).await?;

    let etag = blocking(buffer, |b| Ok(b.ota_feed()?.and_then(|(etag, _)| etag))).await?;
    let feed = match client.ota_feed(etag.as_deref()).await? {
        FeedAnswer::Unchanged => None,
        FeedAnswer::New { etag, body, feed } => {
            blocking(buffer, move |b| {
                b.save_ota_feed(etag.as_deref(), &body, now_us())
            })
            .await?;
            tracing::info!(
                deployments = feed.deployments.len(),
                "OTA: the feed changed"
            );
            Some(feed)
        }
    };
    let feed = feed.unwrap_or_else(|| (*updates.feed()).clone());
    for d in &feed.deployments {
        let (slug, sha) = (d.script.slug.clone(), d.script.sha256.clone());
        let have = {
            let (slug, sha) = (slug.clone(), sha.clone());
            blocking(buffer, move |b| Ok(b.ota_script(&slug, &sha)?.is_some())).await?
        };
        if have {
            continue;
        }
        let bytes = client.ota_script(&slug, &sha).await?;
        tracing::info!(script = %slug, bytes = bytes.len(), deployment = d.id,
            "OTA: script downloaded");
        blocking(buffer, move |b| b.save_ota_script(&slug, &sha, &bytes)).await?;
    }
    let keep: Vec<String> = feed
        .deployments
        .iter()
        .map(|d| d.script.slug.clone())
        .collect();
    blocking(buffer, move |b| b.prune_ota_scripts(&keep)).await?;
    let have = downloaded(buffer, &feed).await?;
    updates.set_feed(feed, have);
    refresh(updates, buffer).await
}

/// Posts the outcomes the cloud does not have yet, oldest first. One the cloud refuses for
/// good (its deployment deleted, say) is logged and dropped: sending it again cannot help.
async fn post_actions(client: &SyncClient, buffer: &Arc<Mutex<Buffer>>) -> Result<(), PassError> {
    let pending = blocking(buffer, |b| b.pending_ota_actions(ACTIONS_PER_PASS)).await?;
    for action in pending {
        match client.ota_action(&action).await {
            Ok(()) => {
                tracing::info!(device = %action.device, deployment = action.deployment,
                    successful = action.successful, "OTA: outcome sent");
            }
            Err(SyncError::Refused { status, detail }) => {
                tracing::error!(device = %action.device, deployment = action.deployment,
                    status, %detail, "OTA: the cloud refused the outcome; dropped");
            }
            Err(error) => return Err(error.into()),
        }
        let id = action.id;
        blocking(buffer, move |b| b.mark_ota_action_posted(id, now_us())).await?;
    }
    Ok(())
}
