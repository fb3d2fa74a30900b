//! Job workers: they take jobs from the queue (`store::jobs`), keep their lease alive while
//! they work, and record how each attempt ended. They run inside `iotile-cloud serve` by
//! default and on their own as `iotile-cloud worker`; any number of processes may share one
//! PostgreSQL queue.
//!
//! A handler finishes its job itself, in the same transaction as its effects, so a job is
//! never marked done without them nor its effects applied twice (see `report`).

mod report;

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

async fn worker_loop(
    state: AppState,
    name: String,
    options: WorkerOptions,
    shutdown: CancellationToken,
) {
    let lease = i64::try_from(options.lease.as_micros()).unwrap_or(i64::MAX);
    tracing::info!(worker = %name, "worker started");
    while !shutdown.is_cancelled() {
        match jobs::claim(&state.db.meta, state.db.backend, &name, now_micros(), lease).await {
            Ok(Some(job)) => execute(&state, &job, &name, options.lease).await,
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(options.idle_poll) => {}
                    _ = state.jobs_ready.notified() => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "taking a job failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    tracing::info!(worker = %name, "worker stopped");
}

/// One attempt at a job, with a heartbeat that extends the lease every third of it. If the
/// lease is lost (this worker stalled and another took the job), the attempt is abandoned.
async fn execute(state: &AppState, job: &Job, name: &str, lease: Duration) {
    let lease_micros = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX);
    let heartbeat = async {
        loop {
            tokio::time::sleep(lease / 3).await;
            match jobs::heartbeat(&state.db.meta, job.id, name, now_micros() + lease_micros).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(job = job.id, error = %e, "heartbeat failed"),
            }
        }
    };
    let outcome = tokio::select! {
        result = handle(state, job, name) => result,
        _ = heartbeat => {
            tracing::warn!(job = job.id, worker = name, "lease lost; abandoning the attempt");
            return;
        }
    };
    let Err(error) = outcome else {
        return;
    };
    let (message, permanent) = match &error {
        JobError::Retry(m) => (m.clone(), false),
        JobError::Permanent(m) => (m.clone(), true),
    };
    let mut failing = job.clone();
    if permanent {
        failing.attempts = failing.max_attempts;
    }
    match jobs::fail(&state.db.meta, &failing, name, &message, now_micros()).await {
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

async fn handle(state: &AppState, job: &Job, name: &str) -> Result<(), JobError> {
    match job.kind.as_str() {
        jobs::PROCESS_REPORT => report::process(state, job, name).await,
        other => Err(JobError::Permanent(format!("unknown job kind {other:?}"))),
    }
}
