//! Streamers: one per (device, index), holding the highest reading id the cloud has
//! committed (`last_id`), which is what gateways read back as the acknowledgement.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use sync_protocol::ids::{DeviceId, StreamerSlug};

use super::filter::{page, Where};

#[derive(Debug, Clone)]
pub struct Streamer {
    pub id: i64,
    pub slug: String,
    pub device_id: i64,
    pub device_slug: String,
    pub index: i64,
    pub selector: Option<i64>,
    pub process_engine_ver: i64,
    pub last_id: i64,
    pub last_reboot_ts: Option<i64>,
}

const COLUMNS: &str = "t.id, t.slug, t.device_id, d.slug AS device_slug, t.idx, t.selector, \
     t.process_engine_ver, t.last_id, t.last_reboot_ts";
const FROM: &str = "streamers t JOIN devices d ON d.id = t.device_id";

fn from_row(row: &AnyRow) -> Result<Streamer, sqlx::Error> {
    Ok(Streamer {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        device_id: row.try_get("device_id")?,
        device_slug: row.try_get("device_slug")?,
        index: row.try_get("idx")?,
        selector: row.try_get("selector")?,
        process_engine_ver: row.try_get("process_engine_ver")?,
        last_id: row.try_get("last_id")?,
        last_reboot_ts: row.try_get("last_reboot_ts")?,
    })
}

/// The canonical slug of a device's streamer.
pub fn slug_of(device_id: i64, index: u16) -> String {
    let device = DeviceId::new(u64::try_from(device_id).unwrap_or_default()).unwrap_or_default();
    StreamerSlug::new(device, index).to_string()
}

/// Creates the streamer when missing; otherwise fills in the selector if it had none and
/// raises `last_id` to the given value if it is higher. Never lowers `last_id`.
pub async fn upsert(
    pool: &AnyPool,
    device_id: i64,
    index: u16,
    selector: Option<i64>,
    last_id: i64,
) -> Result<Streamer, sqlx::Error> {
    let slug = slug_of(device_id, index);
    sqlx::query(
        "INSERT INTO streamers (slug, device_id, idx, selector, last_id, created_on) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (device_id, idx) DO UPDATE SET \
         selector = COALESCE(streamers.selector, excluded.selector), \
         last_id = CASE WHEN excluded.last_id > streamers.last_id \
                        THEN excluded.last_id ELSE streamers.last_id END",
    )
    .bind(&slug)
    .bind(device_id)
    .bind(i64::from(index))
    .bind(selector)
    .bind(last_id)
    .bind(crate::time::now_micros())
    .execute(pool)
    .await?;
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE t.device_id = $1 AND t.idx = $2");
    let row = sqlx::query(&sql)
        .bind(device_id)
        .bind(i64::from(index))
        .fetch_one(pool)
        .await?;
    from_row(&row)
}

/// Which streamers a list or lookup may see.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// Orgs whose devices count; `None` for every device (staff).
    pub orgs: Option<Vec<String>>,
    /// Only this device (device tokens, or `?device=`).
    pub device_id: Option<i64>,
    pub selector: Option<i64>,
    pub slug: Option<String>,
}

/// The conditions of a scope, over `streamers t JOIN devices d` (report lists use it too).
pub(crate) fn where_of(scope: &Scope) -> Where {
    let mut w = Where::default();
    if let Some(orgs) = &scope.orgs {
        w.any_of("d.org_id", orgs);
        w.push("d.active = 1 AND d.claimed_by IS NOT NULL", []);
    }
    if let Some(id) = scope.device_id {
        w.int("t.device_id = ?", id);
    }
    if let Some(sel) = scope.selector {
        w.int("t.selector = ?", sel);
    }
    if let Some(slug) = &scope.slug {
        w.text("t.slug = ?", slug.clone());
    }
    w
}

/// One page of streamers by device then index, and the total.
pub async fn list(
    pool: &AnyPool,
    scope: &Scope,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Streamer>), sqlx::Error> {
    let w = where_of(scope);
    let order = "t.device_id, t.idx";
    let (count, rows) = page(pool, COLUMNS, FROM, &w, order, (offset, limit)).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// Every streamer of one device, by index.
pub async fn of_device(pool: &AnyPool, device_id: i64) -> Result<Vec<Streamer>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE t.device_id = $1 ORDER BY t.idx");
    let rows = sqlx::query(&sql).bind(device_id).fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<Streamer>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE t.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}
