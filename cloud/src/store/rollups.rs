//! Rollups of stream data (`stream_rollups`, in the data database): per stream, tier
//! ([`TIERS`]) and epoch-aligned bucket, the count, min, max and sum of the rows' `value`s
//! and the first and last reading, so a chart over any range reads a few thousand rows
//! (see [`crate::charts`]). Rows without a value are not counted.
//!
//! They change with `stream_data` in the same transaction: every insert adds its rows
//! ([`add`]), every delete removes or recomputes the buckets it touched ([`forget_stream`],
//! [`forget_device`], [`rebuild`]).

use std::collections::BTreeMap;

use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::data::{statement_shape, NewDataRow};
use crate::charts::{bucket_of, Chart, Plan, Source, Summary, TIERS};
use crate::db::Db;

const SECOND: i64 = 1_000_000;

const COLUMNS: &str = "stream_slug, tier, bucket_start, count, min_value, max_value, sum_value, \
                       first_ts, first_value, last_ts, last_value";

/// Adds freshly inserted rows (in insertion order) to their buckets, inside the caller's
/// transaction.
pub async fn add(conn: &mut AnyConnection, rows: &[NewDataRow]) -> Result<(), sqlx::Error> {
    // Ordered keys: concurrent writers lock shared buckets in the same order.
    let mut buckets: BTreeMap<(&str, i64, i64), Summary> = BTreeMap::new();
    for r in rows {
        let Some(value) = r.value else { continue };
        let reading = Summary::reading(r.timestamp, value);
        for tier in TIERS {
            let start = bucket_of(r.timestamp, tier * SECOND);
            buckets
                .entry((r.stream_slug.as_str(), tier, start))
                .and_modify(|s| s.merge(&reading))
                .or_insert(Summary {
                    at: start,
                    ..reading
                });
        }
    }
    let buckets: Vec<_> = buckets.into_iter().collect();
    let (per_statement, numbered) = statement_shape(conn);
    let sqlite = !numbered;
    for chunk in buckets.chunks(per_statement) {
        let sql = upsert_sql(chunk.len(), numbered, sqlite);
        let mut query = sqlx::query(&sql);
        for ((stream, tier, _), s) in chunk {
            query = query
                .bind(*stream)
                .bind(*tier)
                .bind(s.at)
                .bind(s.count)
                .bind(s.min)
                .bind(s.max)
                .bind(s.sum)
                .bind(s.first.0)
                .bind(s.first.1)
                .bind(s.last.0)
                .bind(s.last.1);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A multi-row upsert that merges each row into its stored bucket as [`Summary::merge`]
/// does: SQLite's scalar `min()`/`max()` are PostgreSQL's `LEAST`/`GREATEST`.
fn upsert_sql(rows: usize, numbered: bool, sqlite: bool) -> String {
    use std::fmt::Write;
    const WIDTH: usize = 11;
    let mut sql = String::with_capacity(600 + rows * 60);
    let _ = write!(sql, "INSERT INTO stream_rollups ({COLUMNS}) VALUES ");
    for i in 0..rows {
        sql.push_str(if i > 0 { ",(" } else { "(" });
        for k in 1..=WIDTH {
            if k > 1 {
                sql.push(',');
            }
            if numbered {
                let _ = write!(sql, "${}", i * WIDTH + k);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    let (least, greatest) = if sqlite {
        ("min", "max")
    } else {
        ("LEAST", "GREATEST")
    };
    let _ = write!(
        sql,
        " ON CONFLICT (stream_slug, tier, bucket_start) DO UPDATE SET \
         count = stream_rollups.count + excluded.count, \
         min_value = {least}(stream_rollups.min_value, excluded.min_value), \
         max_value = {greatest}(stream_rollups.max_value, excluded.max_value), \
         sum_value = stream_rollups.sum_value + excluded.sum_value, \
         first_value = CASE WHEN excluded.first_ts < stream_rollups.first_ts \
         THEN excluded.first_value ELSE stream_rollups.first_value END, \
         first_ts = {least}(stream_rollups.first_ts, excluded.first_ts), \
         last_value = CASE WHEN excluded.last_ts >= stream_rollups.last_ts \
         THEN excluded.last_value ELSE stream_rollups.last_value END, \
         last_ts = {greatest}(stream_rollups.last_ts, excluded.last_ts)"
    );
    sql
}

/// Drops a stream's buckets (its rows are being deleted in the same transaction).
pub async fn forget_stream(conn: &mut AnyConnection, stream: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM stream_rollups WHERE stream_slug = $1")
        .bind(stream)
        .execute(conn)
        .await?;
    Ok(())
}

/// Drops the buckets of every stream with rows of `device_slug`; call it before deleting
/// those rows, in the same transaction.
pub async fn forget_device(conn: &mut AnyConnection, device_slug: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM stream_rollups WHERE stream_slug IN \
         (SELECT DISTINCT stream_slug FROM stream_data WHERE device_slug = $1)",
    )
    .bind(device_slug)
    .execute(conn)
    .await?;
    Ok(())
}

/// Recomputes the buckets of `stream` that meet `[from, to)` (microseconds) from the rows
/// stored now: the finest tier from `stream_data`, each coarser one from the tier below.
pub async fn rebuild(
    conn: &mut AnyConnection,
    stream: &str,
    from: i64,
    to: i64,
) -> Result<(), sqlx::Error> {
    let mut finer: Option<i64> = None;
    for tier in TIERS {
        let width = tier * SECOND;
        let (a, b) = (bucket_of(from, width), bucket_of(to - 1, width) + width);
        sqlx::query(
            "DELETE FROM stream_rollups WHERE stream_slug = $1 AND tier = $2 \
             AND bucket_start >= $3 AND bucket_start < $4",
        )
        .bind(stream)
        .bind(tier)
        .bind(a)
        .bind(b)
        .execute(&mut *conn)
        .await?;
        // Each statement binds exactly the parameters it names (PostgreSQL insists).
        let args = [a, b, width, finer.unwrap_or(0)];
        let (insert, update, insert_args, update_args) = match finer {
            None => (FROM_RAW, FIRST_LAST_FROM_RAW, 3, 2),
            Some(_) => (FROM_FINER, FIRST_LAST_FROM_FINER, 4, 4),
        };
        let insert = format!("INSERT INTO stream_rollups ({COLUMNS}) {insert}");
        for (sql, n) in [(insert.as_str(), insert_args), (update, update_args)] {
            let mut query = sqlx::query(sql).bind(stream).bind(tier);
            for v in &args[..n] {
                query = query.bind(*v);
            }
            query.execute(&mut *conn).await?;
        }
        finer = Some(tier);
    }
    Ok(())
}

// The statements of `rebuild`: $1 stream, $2 tier, [$3, $4) the tier-aligned range, $5 the
// tier's width in microseconds, $6 the finer tier. Bucket starts round down (`%` truncates).
const FROM_RAW: &str = "SELECT stream_slug, $2, \
    timestamp - ((timestamp % $5) + $5) % $5 AS b, COUNT(*), MIN(value), MAX(value), \
    SUM(value), MIN(timestamp), 0, MAX(timestamp), 0 FROM stream_data \
    WHERE stream_slug = $1 AND timestamp >= $3 AND timestamp < $4 AND value IS NOT NULL \
    GROUP BY stream_slug, b";

const FIRST_LAST_FROM_RAW: &str = "UPDATE stream_rollups SET \
    first_value = (SELECT d.value FROM stream_data d WHERE d.stream_slug = $1 \
    AND d.timestamp = stream_rollups.first_ts AND d.value IS NOT NULL ORDER BY d.id LIMIT 1), \
    last_value = (SELECT d.value FROM stream_data d WHERE d.stream_slug = $1 \
    AND d.timestamp = stream_rollups.last_ts AND d.value IS NOT NULL \
    ORDER BY d.id DESC LIMIT 1) \
    WHERE stream_slug = $1 AND tier = $2 AND bucket_start >= $3 AND bucket_start < $4";

const FROM_FINER: &str = "SELECT stream_slug, $2, \
    bucket_start - ((bucket_start % $5) + $5) % $5 AS b, SUM(count), MIN(min_value), \
    MAX(max_value), SUM(sum_value), MIN(first_ts), 0, MAX(last_ts), 0 FROM stream_rollups \
    WHERE stream_slug = $1 AND tier = $6 AND bucket_start >= $3 AND bucket_start < $4 \
    GROUP BY stream_slug, b";

/// The first reading of a bucket is the first of its earliest finer bucket.
const FIRST_LAST_FROM_FINER: &str = "UPDATE stream_rollups SET \
    first_value = (SELECT f.first_value FROM stream_rollups f WHERE f.stream_slug = $1 \
    AND f.tier = $6 AND f.bucket_start >= stream_rollups.bucket_start \
    AND f.bucket_start < stream_rollups.bucket_start + $5 ORDER BY f.bucket_start LIMIT 1), \
    last_value = (SELECT f.last_value FROM stream_rollups f WHERE f.stream_slug = $1 \
    AND f.tier = $6 AND f.bucket_start >= stream_rollups.bucket_start \
    AND f.bucket_start < stream_rollups.bucket_start + $5 \
    ORDER BY f.bucket_start DESC LIMIT 1) \
    WHERE stream_slug = $1 AND tier = $2 AND bucket_start >= $3 AND bucket_start < $4";

// The reads of a chart; parameters appear in order, as rusqlite binds them by position.
const RAW_ROWS: &str = "SELECT timestamp, value FROM stream_data WHERE stream_slug = $1 \
    AND timestamp >= $2 AND timestamp < $3 AND value IS NOT NULL ORDER BY timestamp, id";

const TIER_ROWS: &str = "SELECT bucket_start, count, min_value, max_value, sum_value, \
    first_ts, first_value, last_ts, last_value FROM stream_rollups WHERE stream_slug = $1 \
    AND tier = $2 AND bucket_start >= $3 AND bucket_start < $4 ORDER BY bucket_start";

/// The chart of `plan` for `stream`, read through the SQLite reader when the data database
/// has one.
pub async fn chart(db: &Db, stream: &str, plan: Plan) -> Result<Chart, sqlx::Error> {
    let mut chart = Chart::new(plan);
    if let Some(reader) = &db.data_rows {
        let stream = stream.to_string();
        return reader
            .read(move |conn| chart_blocking(conn, &stream, chart))
            .await;
    }
    let mut conn = db.data.acquire().await?;
    let pieces = chart.plan().pieces.clone();
    for piece in pieces {
        match piece.source {
            Source::Raw => {
                let mut rows = sqlx::query(RAW_ROWS)
                    .bind(stream)
                    .bind(piece.from)
                    .bind(piece.to)
                    .fetch(&mut *conn);
                while let Some(row) = rows.try_next().await? {
                    chart.add(&Summary::reading(row.try_get(0)?, row.try_get(1)?));
                }
            }
            Source::Tier(tier) => {
                let mut rows = sqlx::query(TIER_ROWS)
                    .bind(stream)
                    .bind(tier)
                    .bind(piece.from)
                    .bind(piece.to)
                    .fetch(&mut *conn);
                while let Some(row) = rows.try_next().await? {
                    chart.add(&tier_row(&row)?);
                }
            }
        }
    }
    Ok(chart)
}

fn tier_row(row: &AnyRow) -> Result<Summary, sqlx::Error> {
    Ok(Summary {
        at: row.try_get(0)?,
        count: row.try_get(1)?,
        min: row.try_get(2)?,
        max: row.try_get(3)?,
        sum: row.try_get(4)?,
        first: (row.try_get(5)?, row.try_get(6)?),
        last: (row.try_get(7)?, row.try_get(8)?),
    })
}

fn chart_blocking(
    conn: &rusqlite::Connection,
    stream: &str,
    mut chart: Chart,
) -> rusqlite::Result<Chart> {
    let pieces = chart.plan().pieces.clone();
    for piece in pieces {
        match piece.source {
            Source::Raw => {
                let mut stmt = conn.prepare_cached(RAW_ROWS)?;
                let mut rows = stmt.query(rusqlite::params![stream, piece.from, piece.to])?;
                while let Some(row) = rows.next()? {
                    chart.add(&Summary::reading(row.get(0)?, row.get(1)?));
                }
            }
            Source::Tier(tier) => {
                let mut stmt = conn.prepare_cached(TIER_ROWS)?;
                let mut rows = stmt.query(rusqlite::params![stream, tier, piece.from, piece.to])?;
                while let Some(row) = rows.next()? {
                    chart.add(&Summary {
                        at: row.get(0)?,
                        count: row.get(1)?,
                        min: row.get(2)?,
                        max: row.get(3)?,
                        sum: row.get(4)?,
                        first: (row.get(5)?, row.get(6)?),
                        last: (row.get(7)?, row.get(8)?),
                    });
                }
            }
        }
    }
    Ok(chart)
}
