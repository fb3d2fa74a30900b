//! The reading ids the cloud holds per streamer, as disjoint intervals (`streamer_held`, see
//! `migrations/data/1005_held_ranges.sql`): ingest's duplicate filter. It lives in the
//! stream-data database and is written in the transaction that writes the rows, so the ids
//! held are always exactly those whose report is stored.
//!
//! Rows are read around a window of ids and written as the difference between the intervals
//! read and the intervals after merging, so a batch of reports costs one read and usually at
//! most two writes, however many intervals its streamers have.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use crate::ingest::IdRanges;

/// The ids of one streamer a report may touch: `[first, last]`.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    pub streamer: &'a str,
    pub first: u64,
    pub last: u64,
}

fn to_sql(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn from_sql(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

/// For each window's streamer, the held intervals that overlap or touch the window (and
/// possibly a few more), in one statement. Windows name distinct streamers.
///
/// Intervals are disjoint and apart, so besides those starting inside `[first - 1, last + 1]`
/// only the one starting last before it can reach into the window: each is found through the
/// primary key, however many intervals the streamer has.
pub async fn around(
    conn: &mut AnyConnection,
    windows: &[Window<'_>],
) -> Result<HashMap<String, IdRanges>, sqlx::Error> {
    let mut held: HashMap<String, IdRanges> = windows
        .iter()
        .map(|w| (w.streamer.to_string(), IdRanges::new()))
        .collect();
    if windows.is_empty() {
        return Ok(held);
    }
    let parts: Vec<String> = (0..windows.len())
        .map(|i| {
            let (s, lo, hi) = (i * 3 + 1, i * 3 + 2, i * 3 + 3);
            format!(
                "SELECT streamer_slug, first_id, last_id FROM streamer_held \
                 WHERE streamer_slug = ${s} AND first_id >= ${lo} AND first_id <= ${hi} \
                 UNION ALL SELECT * FROM (SELECT streamer_slug, first_id, last_id \
                 FROM streamer_held WHERE streamer_slug = ${s} AND first_id < ${lo} \
                 ORDER BY first_id DESC LIMIT 1) AS before_{i}"
            )
        })
        .collect();
    let sql = parts.join(" UNION ALL ");
    let mut query = sqlx::query(&sql);
    for w in windows {
        query = query
            .bind(w.streamer)
            .bind(to_sql(w.first.saturating_sub(1)))
            .bind(to_sql(w.last.saturating_add(1)));
    }
    for row in query.fetch_all(&mut *conn).await? {
        let slug: String = row.try_get("streamer_slug")?;
        let first: i64 = row.try_get("first_id")?;
        let last: i64 = row.try_get("last_id")?;
        if let Some(set) = held.get_mut(&slug) {
            set.insert(from_sql(first), from_sql(last));
        }
    }
    Ok(held)
}

/// One streamer's held intervals before and after a transaction's reports.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub streamer: &'a str,
    /// The intervals read by [`around`].
    pub before: &'a IdRanges,
    /// The same after adding what the reports cover.
    pub after: &'a IdRanges,
}

/// Intervals per statement: few for a signed list report, but a dictionary report with
/// scattered ids makes many, and SQLite binds numbered parameters at a cost that grows with
/// their number.
const PER_STATEMENT: usize = 200;

/// Writes the changes: the intervals that were merged away are deleted and the new ones
/// upserted (an interval that grew keeps its first id, so it is updated in place), usually in
/// at most two statements. Each streamer appears at most once.
pub async fn write(conn: &mut AnyConnection, changes: &[Change<'_>]) -> Result<(), sqlx::Error> {
    let mut gone: Vec<(&str, u64)> = Vec::new();
    let mut new: Vec<(&str, u64, u64)> = Vec::new();
    for c in changes {
        let changes = c.before.changes_to(c.after);
        for (first, _) in changes.removed {
            if !changes.added.iter().any(|a| a.0 == first) {
                gone.push((c.streamer, first));
            }
        }
        new.extend(changes.added.into_iter().map(|(f, l)| (c.streamer, f, l)));
    }
    for chunk in gone.chunks(PER_STATEMENT) {
        let conditions: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(streamer_slug = ${} AND first_id = ${})",
                    i * 2 + 1,
                    i * 2 + 2
                )
            })
            .collect();
        let sql = format!(
            "DELETE FROM streamer_held WHERE {}",
            conditions.join(" OR ")
        );
        let mut query = sqlx::query(&sql);
        for (streamer, first) in chunk {
            query = query.bind(*streamer).bind(to_sql(*first));
        }
        query.execute(&mut *conn).await?;
    }
    for chunk in new.chunks(PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", i * 3 + 1, i * 3 + 2, i * 3 + 3))
            .collect();
        let sql = format!(
            "INSERT INTO streamer_held (streamer_slug, first_id, last_id) VALUES {} \
             ON CONFLICT (streamer_slug, first_id) DO UPDATE SET last_id = excluded.last_id",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (streamer, first, last) in chunk {
            query = query
                .bind(*streamer)
                .bind(to_sql(*first))
                .bind(to_sql(*last));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
