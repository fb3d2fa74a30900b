//! The durable job queue (see `migrations/meta/0004_ingest.sql`).
//!
//! A job is taken by moving it to `running` with a lease; the worker extends the lease while
//! it works and finishes the job only if it still holds it. A job whose lease ran out (its
//! worker died or hung) is taken again by anyone. Jobs sharing a key run one at a time, in
//! queue order: a job is only eligible when no earlier job with its key is unfinished.
//! PostgreSQL takes jobs with `FOR UPDATE SKIP LOCKED`, so any number of worker processes
//! share the queue; SQLite has one writer at a time, which serialises the take by itself.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor, Row};

use crate::db::Backend;

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// A job as the API shows it.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: i64,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_on: i64,
    pub finished_on: Option<i64>,
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    Retry {
        run_after: i64,
    },
    Dead,
    /// The lease had passed to another worker; nothing was changed.
    LostLease,
}

pub const PROCESS_REPORT: &str = "process_report";

/// Queues a job, inside the caller's transaction.
pub async fn enqueue<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    kind: &str,
    key: &str,
    payload: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO jobs (kind, job_key, payload, state, attempts, run_after, created_on) \
         VALUES ($1, $2, $3, 'queued', 0, $4, $4) RETURNING id",
    )
    .bind(kind)
    .bind(key)
    .bind(payload)
    .bind(now)
    .fetch_one(executor)
    .await
}

/// Takes the next eligible job for `worker` with a lease until `now + lease`.
pub async fn claim(
    pool: &AnyPool,
    backend: Backend,
    worker: &str,
    now: i64,
    lease: i64,
) -> Result<Option<Job>, sqlx::Error> {
    Ok(claim_many(pool, backend, worker, now, lease, 1)
        .await?
        .pop())
}

/// Takes up to `max` eligible jobs at once, in queue order, each with a lease until
/// `now + lease`. At most one job per key is eligible at a time, so a batch never holds two
/// jobs of one key.
pub async fn claim_many(
    pool: &AnyPool,
    backend: Backend,
    worker: &str,
    now: i64,
    lease: i64,
    max: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, worker = $2 \
         WHERE id IN (SELECT j.id FROM jobs j \
             WHERE ((j.state = 'queued' AND j.run_after <= $3) OR (j.state = 'running' AND j.lease_until < $3)) \
             AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.job_key = j.job_key AND e.id < j.id \
                             AND e.state IN ('queued', 'running')) \
             ORDER BY j.id LIMIT $4 {lock}) \
         AND (state = 'queued' OR lease_until < $3) \
         RETURNING id, kind, job_key, payload, attempts, max_attempts"
    );
    let rows = sqlx::query(&sql)
        .bind(now + lease)
        .bind(worker)
        .bind(now)
        .bind(max)
        .fetch_all(pool)
        .await?;
    let mut jobs = rows
        .iter()
        .map(|r| {
            Ok(Job {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                key: r.try_get("job_key")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// Extends the lease; false when the job is no longer this worker's.
pub async fn heartbeat(
    pool: &AnyPool,
    id: i64,
    worker: &str,
    lease_until: i64,
) -> Result<bool, sqlx::Error> {
    heartbeat_many(pool, &[id], worker, lease_until).await
}

/// Extends the leases of a batch; false when any of its jobs is no longer this worker's.
pub async fn heartbeat_many(
    pool: &AnyPool,
    ids: &[i64],
    worker: &str,
    lease_until: i64,
) -> Result<bool, sqlx::Error> {
    let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "UPDATE jobs SET lease_until = $1 WHERE worker = $2 AND state = 'running' AND id IN ({})",
        list.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(lease_until).bind(worker);
    for id in ids {
        query = query.bind(*id);
    }
    let done = query.execute(pool).await?;
    Ok(done.rows_affected() == ids.len() as u64)
}

/// Marks the job done, inside the caller's transaction; false when the lease was lost.
pub async fn complete<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: i64,
    worker: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'done', finished_on = $1, lease_until = NULL, last_error = NULL \
         WHERE id = $2 AND worker = $3 AND state = 'running'",
    )
    .bind(now)
    .bind(id)
    .bind(worker)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt: back to the queue after a backoff, or dead once the attempts
/// are used up.
pub async fn fail(
    pool: &AnyPool,
    job: &Job,
    worker: &str,
    error: &str,
    now: i64,
) -> Result<AfterFailure, sqlx::Error> {
    let error: String = error.chars().take(2000).collect();
    if job.attempts >= job.max_attempts {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = $1, finished_on = $2, lease_until = NULL \
             WHERE id = $3 AND worker = $4 AND state = 'running'",
        )
        .bind(&error)
        .bind(now)
        .bind(job.id)
        .bind(worker)
        .execute(pool)
        .await?;
        return Ok(if done.rows_affected() == 1 {
            AfterFailure::Dead
        } else {
            AfterFailure::LostLease
        });
    }
    let run_after = now + backoff(job.attempts, job.id);
    let done = sqlx::query(
        "UPDATE jobs SET state = 'queued', last_error = $1, run_after = $2, lease_until = NULL \
         WHERE id = $3 AND worker = $4 AND state = 'running'",
    )
    .bind(&error)
    .bind(run_after)
    .bind(job.id)
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(if done.rows_affected() == 1 {
        AfterFailure::Retry { run_after }
    } else {
        AfterFailure::LostLease
    })
}

/// Exponential backoff in microseconds: 2 s, 4 s, 8 s … capped at 10 minutes, with a jitter
/// of up to a quarter, spread by job id so retries of many jobs do not arrive together.
pub fn backoff(attempts: i64, id: i64) -> i64 {
    let base = 2_000_000i64
        .saturating_mul(1 << attempts.clamp(0, 20).saturating_sub(1))
        .min(600_000_000);
    let jitter = (id.wrapping_mul(0x9E37_79B9).rem_euclid(1000)) * base / 4000;
    base + jitter
}

/// Puts a dead job back in the queue with fresh attempts; false when it is not dead.
pub async fn retry(pool: &AnyPool, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_after = $1, finished_on = NULL \
         WHERE id = $2 AND state = 'dead'",
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

const COLUMNS: &str = "id, kind, job_key, payload, state, attempts, max_attempts, run_after, \
                       lease_until, last_error, created_on, finished_on";

fn record(r: &AnyRow) -> Result<JobRecord, sqlx::Error> {
    Ok(JobRecord {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        key: r.try_get("job_key")?,
        payload: r.try_get("payload")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        run_after: r.try_get("run_after")?,
        lease_until: r.try_get("lease_until")?,
        last_error: r.try_get("last_error")?,
        created_on: r.try_get("created_on")?,
        finished_on: r.try_get("finished_on")?,
    })
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<JobRecord>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| record(&r))
        .transpose()
}

/// One page of jobs, newest first, optionally in one state; and the total.
pub async fn list(
    pool: &AnyPool,
    state: Option<&str>,
    window: (i64, i64),
) -> Result<(i64, Vec<JobRecord>), sqlx::Error> {
    list_sorted(pool, state, None, window).await
}

/// The orders a job list may be sorted in, by name.
pub const SORTS: &[(&str, &str)] = &[
    ("id", "id"),
    ("kind", "kind"),
    ("attempts", "attempts"),
    ("finished", "finished_on"),
];

/// [`list`] in a chosen order (newest first by default).
pub async fn list_sorted(
    pool: &AnyPool,
    state: Option<&str>,
    sort: Option<(&str, bool)>,
    window: (i64, i64),
) -> Result<(i64, Vec<JobRecord>), sqlx::Error> {
    let mut w = super::filter::Where::default();
    if let Some(state) = state {
        w.text("state = ?", state);
    }
    let order = super::filter::order_of(SORTS, sort, "id DESC", "id DESC");
    let (count, rows) = super::filter::page(pool, COLUMNS, "jobs", &w, &order, window).await?;
    Ok((count, rows.iter().map(record).collect::<Result<_, _>>()?))
}

/// How many jobs are in each state.
pub async fn counts(pool: &AnyPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state ORDER BY state")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = |a| backoff(a, 7) / 1_000_000;
        assert_eq!((s(1), s(2), s(3)), (2, 4, 8));
        assert!(backoff(30, 7) <= 750_000_000);
        assert!(backoff(1, 1) != backoff(1, 2), "jitter spreads jobs");
    }
}
