//! Exactly-once bookkeeping of ingest, kept in the stream-data database so that it commits in
//! the same transaction as the rows it describes (see `migrations/data/1002_ingest_log.sql`;
//! the held intervals themselves are in `held`).

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

/// What processing a report stored, as logged when it committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    pub first_id: i64,
    pub last_id: i64,
    pub new_count: i64,
    pub dup_count: i64,
}

/// `$first, $first+1, … ` for `n` parameters.
fn params(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Takes the progress rows of `streamers` (distinct) for this transaction and returns each
/// one's `last_id` (the highest id held), in one statement. The row is the streamer's lock:
/// its held intervals (`store::held`) are written only while it is taken.
///
/// The statement is a write, so on SQLite the transaction holds the write lock before it
/// reads, and on PostgreSQL the rows stay locked until commit: two attempts at the same
/// streamer's reports can never both read the same `last_id`. Rows are taken in slug order,
/// so two transactions never wait on each other crosswise.
pub async fn lock_progress(
    conn: &mut AnyConnection,
    streamers: &[&str],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    if streamers.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sorted = streamers.to_vec();
    sorted.sort_unstable();
    let values: Vec<String> = (1..=sorted.len()).map(|i| format!("(${i}, 0)")).collect();
    let sql = format!(
        "INSERT INTO streamer_progress (streamer_slug, last_id) VALUES {} \
         ON CONFLICT (streamer_slug) DO UPDATE SET last_id = streamer_progress.last_id \
         RETURNING streamer_slug, last_id",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for slug in &sorted {
        query = query.bind(*slug);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("streamer_slug")?, r.try_get("last_id")?)))
        .collect()
}

/// A streamer's highest held reading id as committed now (0 when it has none), read without
/// locking: it can only grow.
pub async fn progress(pool: &sqlx::AnyPool, streamer: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT last_id FROM streamer_progress WHERE streamer_slug = $1")
        .bind(streamer)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(row) => row.try_get("last_id")?,
        None => 0,
    })
}

/// The logged outcomes of those of `reports` that were processed before, with the version
/// readings each stored (JSON text).
pub async fn logged(
    conn: &mut AnyConnection,
    reports: &[&str],
) -> Result<HashMap<String, (Logged, String)>, sqlx::Error> {
    if reports.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT report_id, first_id, last_id, new_count, dup_count, versions FROM ingest_log \
         WHERE report_id IN ({})",
        params(1, reports.len())
    );
    let mut query = sqlx::query(&sql);
    for id in reports {
        query = query.bind(*id);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("report_id")?,
                (
                    Logged {
                        first_id: r.try_get("first_id")?,
                        last_id: r.try_get("last_id")?,
                        new_count: r.try_get("new_count")?,
                        dup_count: r.try_get("dup_count")?,
                    },
                    r.try_get("versions")?,
                ),
            ))
        })
        .collect()
}

/// A report's outcome to log.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub report: &'a str,
    pub streamer: &'a str,
    pub outcome: Logged,
    /// The version readings stored, as JSON text.
    pub versions: &'a str,
    /// The highest id the streamer holds with this report.
    pub held_to: i64,
}

/// Logs the outcomes and moves each streamer's progress up to its `held_to` (never down),
/// in two statements. Each streamer appears at most once in `entries`.
pub async fn record(
    conn: &mut AnyConnection,
    entries: &[Entry<'_>],
    now: i64,
) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..entries.len())
        .map(|i| format!("({}, ${})", params(i * 6 + 2, 6), 1))
        .collect();
    let sql = format!(
        "INSERT INTO ingest_log (report_id, first_id, last_id, new_count, dup_count, versions, \
         processed) \
         VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(now);
    for e in entries {
        query = query
            .bind(e.report)
            .bind(e.outcome.first_id)
            .bind(e.outcome.last_id)
            .bind(e.outcome.new_count)
            .bind(e.outcome.dup_count)
            .bind(e.versions);
    }
    query.execute(&mut *conn).await?;
    let mut sorted = entries.to_vec();
    sorted.sort_unstable_by_key(|e| e.streamer);
    let values: Vec<String> = (0..sorted.len())
        .map(|i| format!("({})", params(i * 2 + 1, 2)))
        .collect();
    let sql = format!(
        "INSERT INTO streamer_progress (streamer_slug, last_id) VALUES {} \
         ON CONFLICT (streamer_slug) DO UPDATE SET last_id = CASE \
             WHEN excluded.last_id > streamer_progress.last_id THEN excluded.last_id \
             ELSE streamer_progress.last_id END",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for e in &sorted {
        query = query.bind(e.streamer).bind(e.held_to);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
