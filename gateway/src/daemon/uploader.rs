//! The uploader: every few seconds, when the buffer holds pending reports, it syncs them in
//! signed batches, each telling the cloud the backlog left; with none pending it tells the
//! backlog alone when it is due ([`super::backlog`]). After a transient failure it backs off
//! with jitter, and when the cloud refuses the gateway itself it says so loudly and waits
//! long. Once an hour it prunes reports the cloud confirmed more than the retention ago. It
//! also watches the budget, so that collectors stop while the buffer is full and resume once
//! it has room. At shutdown, once collection has ended, it makes one last pass within
//! [`LAST_PASS`]: what it cannot send by then stays in the buffer for the next start.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backlog::Told;
use super::Shared;
use crate::buffer::{Buffer, BufferError, Stats};
use crate::sync::{
    backoff, report_backlog, sync_pending, BatchLimits, Pass, SyncClient, SyncError,
};

/// The wait after the cloud refused this gateway (revoked, unknown key, clock far off).
pub const REFUSED_WAIT: Duration = Duration::from_secs(30 * 60);
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// At shutdown: how long the last pass waits for collection to end, and how long it may take.
/// Both together stay well inside a service manager's stop timeout (systemd: 90 s).
const COLLECTION_END: Duration = Duration::from_secs(3);
pub const LAST_PASS: Duration = Duration::from_secs(5);

pub(crate) struct Settings {
    pub limits: BatchLimits,
    /// How often the buffer is looked at when all is well.
    pub interval: Duration,
    pub backoff_max: Duration,
    /// How long reports the cloud confirmed stay in the buffer.
    pub retention: Duration,
}

pub(crate) async fn run(
    client: SyncClient,
    settings: Settings,
    shared: Shared,
    collected: CancellationToken,
) {
    let mut failures = 0u32;
    let mut told = Told::default();
    let mut next_prune = Instant::now();
    loop {
        let wait = tokio::select! {
            () = shared.shutdown.cancelled() => break,
            wait = tick(&client, &settings, &shared, &mut failures, &mut told) => wait,
        };
        if Instant::now() >= next_prune {
            next_prune = Instant::now() + PRUNE_INTERVAL;
            prune(&shared, settings.retention).await;
        }
        tokio::select! {
            () = shared.shutdown.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    // A report stored by a visit that was ending must be in the last pass.
    let _ = tokio::time::timeout(COLLECTION_END, collected.cancelled()).await;
    last_pass(&client, &settings, &shared).await;
    tracing::info!("uploader stopped");
}

/// Syncs what is pending, within [`LAST_PASS`].
async fn last_pass(client: &SyncClient, settings: &Settings, shared: &Shared) {
    let pending = match with_buffer(shared, |b| b.stats()).await {
        Ok(stats) => stats.pending_reports,
        Err(error) => {
            tracing::warn!(%error, "the buffer cannot be read for the last sync");
            return;
        }
    };
    if pending == 0 {
        return;
    }
    let pass = tokio::time::timeout(
        LAST_PASS,
        sync_pending(&shared.buffer, client, settings.limits),
    )
    .await;
    let left = with_buffer(shared, |b| b.stats())
        .await
        .map_or(pending, |s| s.pending_reports);
    match pass {
        Ok(Ok(pass)) => tracing::info!(
            accepted = pass.accepted,
            duplicates = pass.duplicates,
            rejected = pass.rejected,
            left,
            "last sync before stopping"
        ),
        Ok(Err(error)) => tracing::warn!(%error, left,
            "the last sync before stopping failed; the reports stay in the buffer"),
        Err(_) => tracing::warn!(deadline = ?LAST_PASS, left,
            "the last sync before stopping ran out of time; the rest stays in the buffer"),
    }
}

/// One look at the buffer and, when something is pending, one sync pass, or else the
/// backlog alone when it is due; returns the wait before the next.
async fn tick(
    client: &SyncClient,
    settings: &Settings,
    shared: &Shared,
    failures: &mut u32,
    told: &mut Told,
) -> Duration {
    let stats = match with_buffer(shared, make_room).await {
        Ok(stats) => stats,
        Err(error) => {
            tracing::error!(%error, "the buffer cannot be read");
            *failures = failures.saturating_add(1);
            return backoff(*failures, settings.backoff_max, random());
        }
    };
    watch_budget(shared, &stats);
    let result = if stats.pending_reports > 0 {
        sync_pending(&shared.buffer, client, settings.limits).await
    } else {
        match backlog_if_due(client, shared, told).await {
            Some(result) => result,
            None => return settings.interval,
        }
    };
    if let Err(error) = &result {
        super::status::update(&shared.board, |b| {
            b.last_sync_error = Some(error.to_string());
        });
    }
    match result {
        Ok(pass) => {
            *failures = 0;
            if let Some(backlog) = pass.backlog {
                told.record(backlog, Instant::now());
            }
            super::status::update(&shared.board, |b| {
                b.last_sync_us = Some(super::status::now_us());
                b.last_sync_error = None;
                b.synced_reports += (pass.accepted + pass.duplicates) as u64;
                b.rejected_reports += pass.rejected as u64;
            });
            if pass.accepted + pass.duplicates + pass.rejected > 0 {
                tracing::info!(
                    batches = pass.batches,
                    accepted = pass.accepted,
                    duplicates = pass.duplicates,
                    rejected = pass.rejected,
                    "synced"
                );
            } else {
                tracing::debug!(backlog = ?pass.backlog, "backlog told");
            }
            settings.interval
        }
        Err(error @ SyncError::Refused { .. }) => {
            tracing::error!(%error, wait = ?REFUSED_WAIT, "the cloud refuses this gateway; reports are kept");
            REFUSED_WAIT
        }
        Err(error) => {
            *failures = failures.saturating_add(1);
            let wait = backoff(*failures, settings.backoff_max, random());
            if error.is_transient() {
                tracing::warn!(%error, ?wait, "sync failed; retrying");
            } else {
                tracing::error!(%error, ?wait, "sync failed; retrying");
            }
            wait
        }
    }
}

/// With nothing pending: tells the cloud the backlog when it is due, as a pass of one
/// empty batch; None when it is not due (or cannot be read, which the next tick retries).
async fn backlog_if_due(
    client: &SyncClient,
    shared: &Shared,
    told: &Told,
) -> Option<Result<Pass, SyncError>> {
    if !client.sends_backlog(crate::sync::now().0) {
        return None;
    }
    let current = match with_buffer(shared, |b| b.backlog(0)).await {
        Ok(current) => current,
        Err(error) => {
            tracing::warn!(%error, "the backlog cannot be counted");
            return None;
        }
    };
    // A backlog that does not add up is left out of batches (with a warning there), and
    // is not worth an empty one.
    if !told.due(&current, Instant::now()) || current.check().is_err() {
        return None;
    }
    Some(
        report_backlog(&shared.buffer, client)
            .await
            .map(|backlog| Pass {
                batches: 1,
                backlog,
                ..Pass::default()
            }),
    )
}

/// The buffer's figures, after pruning every synced report if the buffer is over budget:
/// the budget is for what the cloud does not have yet, so the retention of what it has
/// gives way first.
fn make_room(buffer: &mut Buffer) -> Result<Stats, BufferError> {
    let stats = buffer.stats()?;
    if !stats.over_budget || stats.synced_reports == 0 {
        return Ok(stats);
    }
    let pruned = buffer.prune_synced(i64::MAX)?;
    tracing::info!(
        pruned,
        "the buffer is over budget: synced reports pruned before their retention"
    );
    buffer.stats()
}

fn watch_budget(shared: &Shared, stats: &Stats) {
    let detail = format!(
        "{} bytes used of {}, {} reports pending",
        stats.file_bytes, stats.budget, stats.pending_reports
    );
    shared.set_over_budget(stats.over_budget, &detail);
}

async fn prune(shared: &Shared, retention: Duration) {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let cutoff = now_us.saturating_sub(retention.as_micros());
    let cutoff = i64::try_from(cutoff).unwrap_or(i64::MAX);
    match with_buffer(shared, move |b| b.prune_synced(cutoff)).await {
        Ok(0) => {}
        Ok(pruned) => tracing::info!(pruned, "pruned synced reports past retention"),
        Err(error) => tracing::warn!(%error, "pruning failed"),
    }
}

/// Runs `f` on the shared buffer on the blocking pool.
async fn with_buffer<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce(&mut Buffer) -> Result<T, BufferError> + Send + 'static,
) -> Result<T, String> {
    crate::buffer::blocking(&shared.buffer, f)
        .await
        .map_err(|e| e.to_string())
}

/// Jitter for the backoff; a constant when the system has no randomness to give.
fn random() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_or(0, |()| u64::from_le_bytes(bytes))
}
