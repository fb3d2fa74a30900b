//! Devices: the physical PODs, keyed by their factory serial number.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::filter::{page, Arg, Where};
use super::flag;

#[derive(Debug, Clone)]
pub struct Device {
    pub id: i64,
    pub slug: String,
    pub label: String,
    pub active: bool,
    pub external_id: String,
    pub sg: Option<String>,
    pub template: Option<String>,
    pub org_id: Option<String>,
    pub org_slug: Option<String>,
    pub project_id: Option<String>,
    pub lat: Option<String>,
    pub lon: Option<String>,
    pub state: String,
    pub created_on: i64,
    pub created_by: Option<i64>,
    pub claimed_by: Option<i64>,
    pub claimed_by_slug: Option<String>,
    pub claimed_on: Option<i64>,
}

impl Device {
    /// Resetting or archiving: no claim changes until the job is done.
    pub fn busy(&self) -> bool {
        self.state.starts_with('B')
    }
}

const COLUMNS: &str = "d.id, d.slug, d.label, d.active, d.external_id, d.sg, d.template, \
     d.org_id, o.slug AS org_slug, d.project_id, d.lat, d.lon, d.state, d.created_on, \
     d.created_by, d.claimed_by, cu.slug AS claimed_by_slug, d.claimed_on";
const FROM: &str =
    "devices d LEFT JOIN orgs o ON o.id = d.org_id LEFT JOIN users cu ON cu.id = d.claimed_by";

fn from_row(row: &AnyRow) -> Result<Device, sqlx::Error> {
    Ok(Device {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        label: row.try_get("label")?,
        active: flag(row, "active")?,
        external_id: row.try_get("external_id")?,
        sg: row.try_get("sg")?,
        template: row.try_get("template")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        project_id: row.try_get("project_id")?,
        lat: row.try_get("lat")?,
        lon: row.try_get("lon")?,
        state: row.try_get("state")?,
        created_on: row.try_get("created_on")?,
        created_by: row.try_get("created_by")?,
        claimed_by: row.try_get("claimed_by")?,
        claimed_by_slug: row.try_get("claimed_by_slug")?,
        claimed_on: row.try_get("claimed_on")?,
    })
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<Device>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE d.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// What a device list is narrowed to.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Orgs to look in; `None` for every device (staff).
    pub orgs: Option<Vec<String>>,
    /// Only this device (device tokens).
    pub only: Option<i64>,
    pub project_id: Option<String>,
    pub project_gid: Option<i64>,
    pub org_slug: Option<String>,
    pub sg: Option<String>,
    pub template: Option<String>,
    pub external_id: Option<String>,
    pub claimed: Option<bool>,
    pub include_inactive: bool,
    /// Text found in the slug, label or external id (case-insensitive).
    pub search: Option<String>,
    /// The order of the list, one of [`ORDERS`]; by id when `None`.
    pub order: Option<&'static str>,
}

/// The orders a device list may be sorted in (what the web pages' column headers offer).
pub const ORDERS: &[(&str, &str, &str)] = &[
    ("id", "d.id", "d.id DESC"),
    (
        "label",
        "LOWER(d.label), d.id",
        "LOWER(d.label) DESC, d.id DESC",
    ),
    ("org", "o.slug, d.id", "o.slug DESC, d.id DESC"),
    (
        "claimed",
        "d.claimed_on, d.id",
        "d.claimed_on DESC, d.id DESC",
    ),
];

/// The `ORDER BY` of a sort column and direction, if the column is one of [`ORDERS`].
pub fn order(column: &str, descending: bool) -> Option<&'static str> {
    ORDERS
        .iter()
        .find(|(name, _, _)| *name == column)
        .map(|(_, asc, desc)| if descending { *desc } else { *asc })
}

/// One page of devices by id, and the total.
pub async fn list(
    pool: &AnyPool,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Device>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(orgs) = &filter.orgs {
        w.any_of("d.org_id", orgs);
    }
    if let Some(id) = filter.only {
        w.int("d.id = ?", id);
    }
    if let Some(p) = &filter.project_id {
        w.text("d.project_id = ?", p.clone());
    }
    if let Some(gid) = filter.project_gid {
        w.int(
            "d.project_id IN (SELECT id FROM projects WHERE gid = ?)",
            gid,
        );
    }
    if let Some(s) = &filter.org_slug {
        w.text("o.slug = ?", s.clone());
    }
    if let Some(s) = &filter.sg {
        w.text("d.sg = ?", s.clone());
    }
    if let Some(s) = &filter.template {
        w.text("d.template = ?", s.clone());
    }
    if let Some(s) = &filter.external_id {
        w.text("d.external_id = ?", s.clone());
    }
    match filter.claimed {
        Some(true) => w.push("d.project_id IS NOT NULL", []),
        Some(false) => w.push("d.project_id IS NULL", []),
        None => {}
    }
    if !filter.include_inactive {
        w.push("d.active = 1", []);
    }
    if let Some(text) = filter.search.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", super::like_escape(&text.to_lowercase()));
        w.push(
            "(LOWER(d.slug) LIKE ? ESCAPE '\\' OR LOWER(d.label) LIKE ? ESCAPE '\\' \
             OR LOWER(d.external_id) LIKE ? ESCAPE '\\')",
            [
                Arg::Text(pattern.clone()),
                Arg::Text(pattern.clone()),
                Arg::Text(pattern),
            ],
        );
    }
    let order = filter.order.unwrap_or("d.id");
    let (count, rows) = page(pool, COLUMNS, FROM, &w, order, (offset, limit)).await?;
    let devices = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok((count, devices))
}

/// A device to register.
#[derive(Debug, Clone)]
pub struct NewDevice<'a> {
    pub id: i64,
    pub slug: &'a str,
    pub label: &'a str,
    pub external_id: &'a str,
    pub sg: Option<&'a str>,
    pub template: &'a str,
    pub created_by: i64,
}

/// Registers a device; a unique violation when the id is taken.
pub async fn create(pool: &AnyPool, d: &NewDevice<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO devices (id, slug, label, external_id, sg, template, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(d.id)
    .bind(d.slug)
    .bind(d.label)
    .bind(d.external_id)
    .bind(d.sg)
    .bind(d.template)
    .bind(now)
    .bind(d.created_by)
    .execute(pool)
    .await?;
    Ok(())
}

/// The id after the highest registered one (1 on an empty table).
pub async fn next_id(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM devices")
        .fetch_one(pool)
        .await?;
    Ok(max.unwrap_or(0) + 1)
}

/// Deletes a device and what hangs off it in the metadata database.
pub async fn delete(pool: &AnyPool, id: i64, slug: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "DELETE FROM streamer_reports WHERE streamer_id IN (SELECT id FROM streamers WHERE device_id = $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    for sql in [
        "DELETE FROM streamers WHERE device_id = $1",
        "DELETE FROM streams WHERE device_id = $1",
        "DELETE FROM device_keys WHERE device_id = $1",
        "DELETE FROM devices WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    for table in ["properties", "notes", "locations"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE target = $1"))
            .bind(slug)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// The writable fields of a device, all set at once (the caller merges the patch).
#[derive(Debug, Clone)]
pub struct Changes {
    pub label: String,
    pub active: bool,
    pub external_id: String,
    pub sg: Option<String>,
    pub template: Option<String>,
    pub lat: Option<String>,
    pub lon: Option<String>,
    pub state: String,
    pub project_id: Option<String>,
    pub org_id: Option<String>,
}

pub async fn update(pool: &AnyPool, id: i64, c: &Changes) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE devices SET label = $1, active = $2, external_id = $3, sg = $4, template = $5, \
         lat = $6, lon = $7, state = $8, project_id = $9, org_id = $10 WHERE id = $11",
    )
    .bind(&c.label)
    .bind(c.active as i64)
    .bind(&c.external_id)
    .bind(&c.sg)
    .bind(&c.template)
    .bind(&c.lat)
    .bind(&c.lon)
    .bind(&c.state)
    .bind(&c.project_id)
    .bind(&c.org_id)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// What deciding access to a device needs. A device with no org falls back to its
/// project's org.
#[derive(Debug, Clone)]
pub struct DeviceOwner {
    pub id: i64,
    pub slug: String,
    pub active: bool,
    pub project_id: Option<String>,
    pub project_gid: Option<i64>,
    pub org_id: Option<String>,
}

pub async fn owner(pool: &AnyPool, id: i64) -> Result<Option<DeviceOwner>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT d.id, d.slug, d.active, d.project_id, p.gid, COALESCE(d.org_id, p.org_id) AS org_id \
         FROM devices d LEFT JOIN projects p ON p.id = d.project_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(DeviceOwner {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            active: flag(&row, "active")?,
            project_id: row.try_get("project_id")?,
            project_gid: row.try_get("gid")?,
            org_id: row.try_get("org_id")?,
        })
    })
    .transpose()
}

/// Copies a location to the device row.
pub async fn set_location(
    pool: &AnyPool,
    id: i64,
    lat: &str,
    lon: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE devices SET lat = $2, lon = $3 WHERE id = $1")
        .bind(id)
        .bind(lat)
        .bind(lon)
        .execute(pool)
        .await?;
    Ok(())
}

/// Stored row counts per stream slug of one device, from the stream data database.
pub async fn row_counts(
    data: &AnyPool,
    device_slug: &str,
) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>), sqlx::Error> {
    let count = |table: &'static str| async move {
        let sql = format!(
            "SELECT stream_slug, COUNT(*) AS n FROM {table} WHERE device_slug = $1 GROUP BY stream_slug"
        );
        let rows = sqlx::query(&sql).bind(device_slug).fetch_all(data).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("stream_slug")?, r.try_get("n")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
    };
    Ok((count("stream_data").await?, count("stream_events").await?))
}

/// Slugs of the device's own streams (not data-block streams).
pub async fn stream_slugs(pool: &AnyPool, device_id: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT slug FROM streams WHERE device_id = $1 AND block IS NULL ORDER BY slug",
    )
    .bind(device_id)
    .fetch_all(pool)
    .await
}
