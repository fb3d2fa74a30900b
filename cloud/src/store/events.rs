//! Stream events (`stream_events`, in the data database): a summary (`extra_data`) and, when
//! there is one, the key of the raw JSON document in object storage (`raw_key`). Rows written
//! before documents moved to object storage keep the document in `raw_data`.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::data::{paged, RowQuery, Scope};
use super::flag;

#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub uuid: String,
    pub stream_slug: String,
    pub device_timestamp: Option<i64>,
    pub timestamp: i64,
    pub streamer_local_id: i64,
    pub dirty_ts: bool,
    pub status: String,
    pub ext: String,
    pub extra_data: String,
    pub has_raw_data: bool,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub stream_slug: String,
    pub device_slug: String,
    pub device_timestamp: Option<i64>,
    pub timestamp: i64,
    pub streamer_local_id: i64,
    /// Compact JSON object.
    pub extra_data: String,
    /// Object key of the raw document, stored before the row.
    pub raw_key: Option<String>,
}

/// Where an event's raw document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawDocument {
    /// In object storage under this key.
    Object(String),
    /// JSON text in the row (rows written before `raw_key`).
    Inline(String),
}

const COLUMNS: &str = "id, uuid, stream_slug, device_timestamp, timestamp, streamer_local_id, \
    dirty_ts, status, ext, extra_data, CASE WHEN raw_key IS NULL AND raw_data IS NULL THEN 0 ELSE 1 END AS has_raw";

fn from_row(row: &AnyRow) -> Result<Event, sqlx::Error> {
    Ok(Event {
        id: row.try_get("id")?,
        uuid: row.try_get("uuid")?,
        stream_slug: row.try_get("stream_slug")?,
        device_timestamp: row.try_get("device_timestamp")?,
        timestamp: row.try_get("timestamp")?,
        streamer_local_id: row.try_get("streamer_local_id")?,
        dirty_ts: flag(row, "dirty_ts")?,
        status: row.try_get("status")?,
        ext: row.try_get("ext")?,
        extra_data: row.try_get("extra_data")?,
        has_raw_data: flag(row, "has_raw")?,
    })
}

/// Events by stream, reading id and time, or the last `lastn` by time. Without
/// `with_errors`, events whose summary has an `error` key are left out: `extra_data` is
/// stored as compact JSON, where `"error":` can only be a key (inside strings the quotes
/// are escaped).
pub async fn list(
    pool: &AnyPool,
    scope: &Scope,
    q: &RowQuery,
    with_errors: bool,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Event>), sqlx::Error> {
    let mut w = q.conditions(scope);
    if !with_errors {
        w.text("extra_data NOT LIKE ?", "%\"error\":%");
    }
    let (count, rows) = paged(
        pool,
        "stream_events",
        COLUMNS,
        &w,
        q.lastn,
        scope.order("stream_slug, streamer_local_id, timestamp, id"),
        (offset, limit),
    )
    .await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<Event>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM stream_events WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// Where the raw document of an event is, if it has one.
pub async fn raw_document(pool: &AnyPool, id: i64) -> Result<Option<RawDocument>, sqlx::Error> {
    let row = sqlx::query("SELECT raw_key, raw_data FROM stream_events WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let key: Option<String> = row.try_get("raw_key")?;
    let inline: Option<String> = row.try_get("raw_data")?;
    Ok(key
        .map(RawDocument::Object)
        .or(inline.map(RawDocument::Inline)))
}

/// Inserts events in one transaction; returns them as stored.
pub async fn insert(pool: &AnyPool, events: &[NewEvent]) -> Result<Vec<Event>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let sql = format!(
            "INSERT INTO stream_events (uuid, stream_slug, device_slug, device_timestamp, \
             timestamp, streamer_local_id, extra_data, raw_key) VALUES ($1, $2, $3, $4, $5, $6, \
             $7, $8) RETURNING {COLUMNS}"
        );
        let row = bind_event(sqlx::query(&sql), e).fetch_one(&mut *tx).await?;
        out.push(from_row(&row)?);
    }
    tx.commit().await?;
    Ok(out)
}

/// Replaces an event's summary and, when given, its raw document's key (which supersedes a
/// document kept in the row). Returns the key it replaced, whose object is now unused.
pub async fn update(
    pool: &AnyPool,
    id: i64,
    extra_data: &str,
    raw_key: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let old: Option<String> = match raw_key {
        Some(_) => sqlx::query("SELECT raw_key FROM stream_events WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("raw_key"))
            .transpose()?
            .flatten(),
        None => None,
    };
    sqlx::query(
        "UPDATE stream_events SET extra_data = $2, raw_key = COALESCE($3, raw_key), \
         raw_data = CASE WHEN $3 IS NULL THEN raw_data ELSE NULL END WHERE id = $1",
    )
    .bind(id)
    .bind(extra_data)
    .bind(raw_key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(old.filter(|k| Some(k.as_str()) != raw_key))
}

/// Inserts events inside the caller's transaction (the ingest path).
pub async fn insert_batch(
    conn: &mut sqlx::AnyConnection,
    events: &[NewEvent],
) -> Result<(), sqlx::Error> {
    for e in events {
        let sql = "INSERT INTO stream_events (uuid, stream_slug, device_slug, device_timestamp, \
                   timestamp, streamer_local_id, extra_data, raw_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        bind_event(sqlx::query(sql), e).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Binds an event's values (with a fresh uuid) in the column order of the inserts above.
fn bind_event<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    e: &'q NewEvent,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&e.stream_slug)
        .bind(&e.device_slug)
        .bind(e.device_timestamp)
        .bind(e.timestamp)
        .bind(e.streamer_local_id)
        .bind(&e.extra_data)
        .bind(&e.raw_key)
}
