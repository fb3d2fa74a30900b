//! Job workers: they take jobs from the queue (`store::jobs`), keep their lease alive while
//! they work, and record how each attempt ended. They run inside `iotile-cloud serve` by
//! default and on their own as `iotile-cloud worker`; any number of processes may share one
//! PostgreSQL queue.
//!
//! A handler finishes its job itself, in the same transaction as its effects, so a job is
//! never marked done without them nor its effects applied twice (see `report`).

mod ota_confirm;
mod report;
mod stream_settings;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::state::AppState;
use crate::store::jobs::{self, AfterFailure, Job};
use crate::time::now_micros;

/// How the workers of one process behave.
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    /// Concurrent workers in this process; 0 runs none.
    pub workers: usize,
    /// How long a taken job stays ours without a heartbeat.
    pub lease: Duration,
    /// How long an idle worker waits before looking again (a local enqueue wakes it sooner).
    pub idle_poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            workers: 1,
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_millis(500),
        }
    }
}

/// Why an attempt did not finish its job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (a database or storage hiccup).
    #[error("{0}")]
    Retry(String),
    /// No attempt can succeed; the job goes straight to the dead state.
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> JobError {
        JobError::Retry(format!("database: {e}"))
    }
}

/// Runs the workers until `shutdown` is cancelled; a job in hand is finished first.
pub async fn run(state: AppState, options: WorkerOptions, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_string());
    for i in 0..options.workers {
        let name = format!("{host}-{}-{i}", std::process::id());
        tracker.spawn(worker_loop(state.clone(), name, options, shutdown.clone()));
    }
    tracker.close();
    tracker.wait().await;
}

/// Jobs a worker takes at once; their writes share transactions (see `report`).
const BATCH: i64 = 32;

async fn worker_loop(
    state: AppState,
    name: String,
    options: WorkerOptions,
    shutdown: CancellationToken,
) {
    let lease = i64::try_from(options.lease.as_micros()).unwrap_or(i64::MAX);
    tracing::info!(worker = %name, "worker started");
    while !shutdown.is_cancelled() {
        let db = &state.db;
        match jobs::claim_many(
            &db.meta_writes,
            db.backend,
            &name,
            now_micros(),
            lease,
            BATCH,
        )
        .await
        {
            Ok(batch) if !batch.is_empty() => execute(&state, &batch, &name, options.lease).await,
            Ok(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(options.idle_poll) => {}
                    _ = state.jobs_ready.notified() => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "taking jobs failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    tracing::info!(worker = %name, "worker stopped");
}

/// One attempt at a batch of jobs, with a heartbeat that extends their leases every third of
/// the lease. If a lease is lost (this worker stalled and another took a job), the attempt is
/// abandoned; the batch's other jobs are taken again when their leases run out.
async fn execute(state: &AppState, batch: &[Job], name: &str, lease: Duration) {
    let lease_micros = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX);
    let ids: Vec<i64> = batch.iter().map(|j| j.id).collect();
    let heartbeat = async {
        loop {
            tokio::time::sleep(lease / 3).await;
            let until = now_micros() + lease_micros;
            match jobs::heartbeat_many(&state.db.meta_writes, &ids, name, until).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(jobs = ?ids, error = %e, "heartbeat failed"),
            }
        }
    };
    let outcomes = tokio::select! {
        outcomes = handle(state, batch, name) => outcomes,
        _ = heartbeat => {
            tracing::warn!(jobs = ?ids, worker = name, "lease lost; abandoning the attempt");
            return;
        }
    };
    for (job, outcome) in batch.iter().zip(outcomes) {
        if let Err(error) = outcome {
            record_failure(state, job, name, &error).await;
        }
    }
}

async fn record_failure(state: &AppState, job: &Job, name: &str, error: &JobError) {
    let (message, permanent) = match error {
        JobError::Retry(m) => (m.as_str(), false),
        JobError::Permanent(m) => (m.as_str(), true),
    };
    let mut failing = job.clone();
    if permanent {
        failing.attempts = failing.max_attempts;
    }
    match jobs::fail(&state.db.meta_writes, &failing, name, message, now_micros()).await {
        Ok(AfterFailure::Retry { .. }) => {
            tracing::warn!(job = job.id, error = %message, "job failed; will retry")
        }
        Ok(AfterFailure::Dead) => {
            tracing::error!(job = job.id, error = %message, "job failed for good")
        }
        Ok(AfterFailure::LostLease) => {
            tracing::warn!(job = job.id, "job failed after its lease was lost")
        }
        Err(e) => tracing::error!(job = job.id, error = %e, "recording a failure failed"),
    }
}

/// Runs a batch, kind by kind; the results follow the order of `batch`.
async fn handle(state: &AppState, batch: &[Job], name: &str) -> Vec<Result<(), JobError>> {
    let reports: Vec<Job> = batch
        .iter()
        .filter(|j| j.kind == jobs::PROCESS_REPORT)
        .cloned()
        .collect();
    let mut processed = report::process(state, &reports, name).await.into_iter();
    batch
        .iter()
        .map(|job| match job.kind.as_str() {
            jobs::PROCESS_REPORT => processed
                .next()
                .unwrap_or_else(|| Err(JobError::Retry("no result for the job".into()))),
            other => Err(JobError::Permanent(format!("unknown job kind {other:?}"))),
        })
        .collect()
}
