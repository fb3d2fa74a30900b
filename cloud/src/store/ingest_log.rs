//! Exactly-once bookkeeping of ingest, kept in the stream-data database so that it commits in
//! the same transaction as the rows it describes (see `migrations/data/1002_ingest_log.sql`).

use sqlx::{AnyConnection, Row};

/// What processing a report stored, as logged when it committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    pub first_id: i64,
    pub last_id: i64,
    pub new_count: i64,
    pub dup_count: i64,
}

/// Takes the streamer's progress row for this transaction and returns its `last_id`.
///
/// The first statement is a write, so on SQLite the transaction holds the write lock before
/// it reads, and on PostgreSQL the row stays locked until commit: two attempts at the same
/// streamer's reports can never both read the same `last_id`.
pub async fn lock_progress(conn: &mut AnyConnection, streamer: &str) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO streamer_progress (streamer_slug, last_id) VALUES ($1, 0) \
         ON CONFLICT (streamer_slug) DO UPDATE SET last_id = streamer_progress.last_id",
    )
    .bind(streamer)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("SELECT last_id FROM streamer_progress WHERE streamer_slug = $1")
        .bind(streamer)
        .fetch_one(&mut *conn)
        .await
}

/// The logged outcome of a report that was processed before.
pub async fn logged(conn: &mut AnyConnection, report: &str) -> Result<Option<Logged>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT first_id, last_id, new_count, dup_count FROM ingest_log WHERE report_id = $1",
    )
    .bind(report)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Logged {
            first_id: r.try_get("first_id")?,
            last_id: r.try_get("last_id")?,
            new_count: r.try_get("new_count")?,
            dup_count: r.try_get("dup_count")?,
        })
    })
    .transpose()
}

/// Logs a report's outcome and moves the streamer's progress up to `last_id` (never down).
pub async fn record(
    conn: &mut AnyConnection,
    report: &str,
    streamer: &str,
    outcome: Logged,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ingest_log (report_id, first_id, last_id, new_count, dup_count, processed) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(report)
    .bind(outcome.first_id)
    .bind(outcome.last_id)
    .bind(outcome.new_count)
    .bind(outcome.dup_count)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE streamer_progress SET last_id = CASE WHEN last_id < $1 THEN $1 ELSE last_id END \
         WHERE streamer_slug = $2",
    )
    .bind(outcome.last_id)
    .bind(streamer)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
