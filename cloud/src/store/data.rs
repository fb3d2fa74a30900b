//! Stream data rows (`stream_data`, in the data database). Rows are found by stream slug,
//! device slug or a variable's slug pattern; who may read them is decided on the metadata
//! side first, so nothing here joins metadata tables.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::aliases::Slice;
use super::filter::{page_or_lastn, page_or_lastn_blocking, Arg, Where};
use super::{flag, rollups};
use crate::db::Db;

/// Which rows: one stream, every stream of a device or data block, every stream of a
/// variable (a `LIKE` pattern over stream slugs), or an alias's slices of streams.
#[derive(Debug, Clone)]
pub enum Scope {
    Stream(String),
    Device(String),
    StreamPattern(String),
    Slices(Vec<Slice>),
}

impl Scope {
    /// The order a list of these rows takes, given the usual one: an alias's rows come from
    /// several streams whose reading ids do not compare, so they go by time, as one
    /// stream's would.
    pub fn order<'a>(&self, usual: &'a str) -> &'a str {
        match self {
            Scope::Slices(_) => "timestamp, id",
            _ => usual,
        }
    }
}

/// The filters of `/data/` and `/event/`.
#[derive(Debug, Clone, Default)]
pub struct RowQuery {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub streamer_min: Option<i64>,
    pub streamer_max: Option<i64>,
    pub id_min: Option<i64>,
    pub id_max: Option<i64>,
    /// The last N rows by timestamp, returned in ascending order.
    pub lastn: Option<i64>,
}

impl RowQuery {
    pub fn conditions(&self, scope: &Scope) -> Where {
        let mut w = Where::default();
        match scope {
            Scope::Stream(slug) => w.text("stream_slug = ?", slug.clone()),
            Scope::Device(slug) => w.text("device_slug = ?", slug.clone()),
            Scope::StreamPattern(p) => w.text("stream_slug LIKE ? ESCAPE '\\'", p.clone()),
            Scope::Slices(slices) if slices.is_empty() => w.never(),
            Scope::Slices(slices) => {
                let mut sql = Vec::with_capacity(slices.len());
                let mut args = Vec::new();
                for slice in slices {
                    args.push(Arg::Text(slice.stream.clone()));
                    args.push(Arg::Int(slice.from));
                    match slice.until {
                        Some(until) => {
                            sql.push("(stream_slug = ? AND timestamp >= ? AND timestamp < ?)");
                            args.push(Arg::Int(until));
                        }
                        None => sql.push("(stream_slug = ? AND timestamp >= ?)"),
                    }
                }
                w.push(&format!("({})", sql.join(" OR ")), args);
            }
        }
        let bounds = [
            ("timestamp >= ?", self.start),
            ("timestamp < ?", self.end),
            ("streamer_local_id >= ?", self.streamer_min),
            ("streamer_local_id <= ?", self.streamer_max),
            ("id >= ?", self.id_min),
            ("id <= ?", self.id_max),
        ];
        for (cond, value) in bounds {
            if let Some(v) = value {
                w.int(cond, v);
            }
        }
        w
    }
}

/// Rows of `table` under `w`: ordered by `order`, or the last `lastn` by timestamp.
pub(crate) async fn paged(
    pool: &AnyPool,
    table: &str,
    columns: &str,
    w: &Where,
    lastn: Option<i64>,
    order: &str,
    window: (i64, i64),
) -> Result<(i64, Vec<AnyRow>), sqlx::Error> {
    let newest_first = "timestamp DESC, id DESC";
    page_or_lastn(pool, columns, table, w, lastn, newest_first, order, window).await
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataRow {
    pub id: i64,
    pub stream_slug: String,
    pub device_timestamp: Option<i64>,
    pub timestamp: i64,
    pub streamer_local_id: i64,
    pub dirty_ts: bool,
    pub status: String,
    pub kind: String,
    pub value: Option<f64>,
    pub int_value: Option<i64>,
}

/// A row to insert.
#[derive(Debug, Clone)]
pub struct NewDataRow {
    pub stream_slug: String,
    pub device_slug: String,
    pub device_timestamp: Option<i64>,
    pub timestamp: i64,
    pub streamer_local_id: i64,
    pub dirty_ts: bool,
    /// `unk`, `cln`, `drt` or `utc`.
    pub status: String,
    pub kind: String,
    pub value: Option<f64>,
    pub int_value: Option<i64>,
}

const COLUMNS: &str = "id, stream_slug, device_timestamp, timestamp, streamer_local_id, dirty_ts, \
                       status, type, value, int_value";

fn from_row(row: &AnyRow) -> Result<DataRow, sqlx::Error> {
    Ok(DataRow {
        id: row.try_get("id")?,
        stream_slug: row.try_get("stream_slug")?,
        device_timestamp: row.try_get("device_timestamp")?,
        timestamp: row.try_get("timestamp")?,
        streamer_local_id: row.try_get("streamer_local_id")?,
        dirty_ts: flag(row, "dirty_ts")?,
        status: row.try_get("status")?,
        kind: row.try_get("type")?,
        value: row.try_get("value")?,
        int_value: row.try_get("int_value")?,
    })
}

/// [`from_row`] for rusqlite (`Db::data_rows`), by the column positions of [`COLUMNS`].
fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DataRow> {
    Ok(DataRow {
        id: row.get(0)?,
        stream_slug: row.get(1)?,
        device_timestamp: row.get(2)?,
        timestamp: row.get(3)?,
        streamer_local_id: row.get(4)?,
        dirty_ts: row.get::<_, i64>(5)? != 0,
        status: row.get(6)?,
        kind: row.get(7)?,
        value: row.get(8)?,
        int_value: row.get(9)?,
    })
}

/// A page of `stream_data` rows under `w` (see [`paged`]), through the SQLite reader when
/// the data database has one.
async fn data_page(
    db: &Db,
    w: &Where,
    lastn: Option<i64>,
    order: &str,
    window: (i64, i64),
) -> Result<(i64, Vec<DataRow>), sqlx::Error> {
    if let Some(reader) = &db.data_rows {
        let (w, order) = (w.clone(), order.to_string());
        return reader
            .read(move |conn| {
                page_or_lastn_blocking(
                    conn,
                    COLUMNS,
                    "stream_data",
                    &w,
                    lastn,
                    "timestamp DESC, id DESC",
                    &order,
                    window,
                    from_sqlite_row,
                )
            })
            .await;
    }
    let (count, rows) = paged(&db.data, "stream_data", COLUMNS, w, lastn, order, window).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// Rows of `/data/`: by reading id, stream and time unless `lastn` is given.
pub async fn list(
    db: &Db,
    scope: &Scope,
    q: &RowQuery,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<DataRow>), sqlx::Error> {
    let w = q.conditions(scope);
    let order = scope.order("streamer_local_id, stream_slug, timestamp, id");
    data_page(db, &w, q.lastn, order, (offset, limit)).await
}

/// Rows of one stream ordered by time (`stream/{slug}/data/`).
pub async fn of_stream(
    db: &Db,
    stream: &str,
    q: &RowQuery,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<DataRow>), sqlx::Error> {
    let w = q.conditions(&Scope::Stream(stream.to_string()));
    data_page(db, &w, q.lastn, "timestamp, id", (offset, limit)).await
}

/// Inserts rows and their rollups in one transaction; returns the stored rows.
pub async fn insert(pool: &AnyPool, rows: &[NewDataRow]) -> Result<Vec<DataRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let sql = format!(
            "INSERT INTO stream_data (stream_slug, device_slug, device_timestamp, timestamp, \
             streamer_local_id, dirty_ts, status, type, value, int_value) VALUES ($1, $2, $3, \
             $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
        );
        let row = bind_row(sqlx::query(&sql), r).fetch_one(&mut *tx).await?;
        out.push(from_row(&row)?);
    }
    rollups::add(&mut tx, rows).await?;
    tx.commit().await?;
    Ok(out)
}

/// Deletes a stream's data and events; returns the object keys of the deleted events'
/// documents, for the caller to remove.
pub async fn delete_stream(pool: &AnyPool, stream: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let keys = sqlx::query(
        "DELETE FROM stream_events WHERE stream_slug = $1 AND raw_key IS NOT NULL RETURNING raw_key",
    )
    .bind(stream)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.try_get("raw_key"))
    .collect::<Result<Vec<String>, _>>()?;
    sqlx::query("DELETE FROM stream_data WHERE stream_slug = $1")
        .bind(stream)
        .execute(&mut *tx)
        .await?;
    rollups::forget_stream(&mut tx, stream).await?;
    sqlx::query("DELETE FROM stream_events WHERE stream_slug = $1")
        .bind(stream)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(keys)
}

/// Deletes every data row of a device (or data block) and the rollups of its streams.
pub async fn delete_device(pool: &AnyPool, device_slug: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    rollups::forget_device(&mut tx, device_slug).await?;
    sqlx::query("DELETE FROM stream_data WHERE device_slug = $1")
        .bind(device_slug)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a stream's rows in `[start, end)` and recomputes the rollup buckets they were in;
/// returns how many rows went.
pub async fn delete_range(
    pool: &AnyPool,
    stream: &str,
    start: i64,
    end: i64,
) -> Result<u64, sqlx::Error> {
    if end <= start {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query(
        "DELETE FROM stream_data WHERE stream_slug = $1 AND timestamp >= $2 AND timestamp < $3",
    )
    .bind(stream)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    rollups::rebuild(&mut tx, stream, start, end).await?;
    tx.commit().await?;
    Ok(deleted)
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<DataRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM stream_data WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// Rows per multi-row `INSERT` (10 values each), and how its parameters are written. SQLite
/// looks a numbered parameter (`$7`) up by name with a linear scan, so binding a large
/// statement costs the square of its size there; anonymous `?` parameters bind by position,
/// so one statement can carry a whole report. PostgreSQL takes `$N` and prefers few round
/// trips as well.
pub(super) fn statement_shape(conn: &sqlx::AnyConnection) -> (usize, bool) {
    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
        (1000, false)
    } else {
        (500, true)
    }
}

/// Inserts rows and their rollups inside the caller's transaction, many rows per statement
/// (the ingest path).
pub async fn insert_batch(
    conn: &mut sqlx::AnyConnection,
    rows: &[NewDataRow],
) -> Result<(), sqlx::Error> {
    use std::fmt::Write;
    let (per_statement, numbered) = statement_shape(conn);
    for chunk in rows.chunks(per_statement) {
        let mut sql = String::with_capacity(160 + chunk.len() * 48);
        sql.push_str(
            "INSERT INTO stream_data (stream_slug, device_slug, device_timestamp, timestamp, \
             streamer_local_id, dirty_ts, status, type, value, int_value) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            if numbered {
                let b = i * 10;
                sql.push('(');
                for k in 1..=10 {
                    let sep = if k < 10 { "," } else { ")" };
                    let _ = write!(sql, "${}{sep}", b + k);
                }
            } else {
                sql.push_str("(?,?,?,?,?,?,?,?,?,?)");
            }
        }
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query = bind_row(query, r);
        }
        query.execute(&mut *conn).await?;
    }
    rollups::add(conn, rows).await
}

/// Binds a row's ten values in the column order of the inserts above.
fn bind_row<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    r: &'q NewDataRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(&r.stream_slug)
        .bind(&r.device_slug)
        .bind(r.device_timestamp)
        .bind(r.timestamp)
        .bind(r.streamer_local_id)
        .bind(r.dirty_ts as i64)
        .bind(&r.status)
        .bind(&r.kind)
        .bind(r.value)
        .bind(r.int_value)
}
