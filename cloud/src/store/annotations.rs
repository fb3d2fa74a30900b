//! Records attached to any target slug: properties, notes and device locations.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::filter::{page, page_or_lastn, Where};
use super::flag;

#[derive(Debug, Clone)]
pub struct Property {
    pub id: i64,
    pub target: String,
    pub name: String,
    pub value: String,
    pub kind: String,
    pub is_system: bool,
}

const PROPERTY_COLUMNS: &str = "id, target, name, value, type, is_system";

fn property_from_row(row: &AnyRow) -> Result<Property, sqlx::Error> {
    Ok(Property {
        id: row.try_get("id")?,
        target: row.try_get("target")?,
        name: row.try_get("name")?,
        value: row.try_get("value")?,
        kind: row.try_get("type")?,
        is_system: flag(row, "is_system")?,
    })
}

/// Properties of a target ordered by name; a page of them and the total.
pub async fn properties(
    pool: &AnyPool,
    target: &str,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Property>), sqlx::Error> {
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM properties WHERE target = $1")
        .bind(target)
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    let sql = format!(
        "SELECT {PROPERTY_COLUMNS} FROM properties WHERE target = $1 ORDER BY target, name \
         LIMIT {limit} OFFSET {offset}"
    );
    let rows = sqlx::query(&sql).bind(target).fetch_all(pool).await?;
    Ok((
        count,
        rows.iter()
            .map(property_from_row)
            .collect::<Result<_, _>>()?,
    ))
}

pub async fn property(pool: &AnyPool, id: i64) -> Result<Option<Property>, sqlx::Error> {
    let sql = format!("SELECT {PROPERTY_COLUMNS} FROM properties WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(property_from_row).transpose()
}

/// Inserts a property; a unique violation means the target already has that name.
pub async fn create_property(
    pool: &AnyPool,
    p: &Property,
    user: i64,
    now: i64,
) -> Result<Property, sqlx::Error> {
    let sql = format!(
        "INSERT INTO properties (target, name, value, type, is_system, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {PROPERTY_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(&p.target)
        .bind(&p.name)
        .bind(&p.value)
        .bind(&p.kind)
        .bind(p.is_system as i64)
        .bind(now)
        .bind(user)
        .fetch_one(pool)
        .await?;
    property_from_row(&row)
}

/// Creates the property or replaces its value.
pub async fn set_property(
    pool: &AnyPool,
    p: &Property,
    user: i64,
    now: i64,
) -> Result<Property, sqlx::Error> {
    let sql = format!(
        "INSERT INTO properties (target, name, value, type, is_system, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (target, name) DO UPDATE SET \
         value = excluded.value, type = excluded.type, is_system = excluded.is_system \
         RETURNING {PROPERTY_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(&p.target)
        .bind(&p.name)
        .bind(&p.value)
        .bind(&p.kind)
        .bind(p.is_system as i64)
        .bind(now)
        .bind(user)
        .fetch_one(pool)
        .await?;
    property_from_row(&row)
}

pub async fn update_property(pool: &AnyPool, p: &Property) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE properties SET name = $2, value = $3, type = $4, is_system = $5 WHERE id = $1",
    )
    .bind(p.id)
    .bind(&p.name)
    .bind(&p.value)
    .bind(&p.kind)
    .bind(p.is_system as i64)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_property(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM properties WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Time filters of note and location lists.
#[derive(Debug, Clone, Default)]
pub struct TimeQuery {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub lastn: Option<i64>,
}

impl TimeQuery {
    fn conditions(&self, column: &str, target: &str) -> Where {
        let mut w = Where::default();
        w.text(&format!("{column}target = ?"), target);
        if let Some(start) = self.start {
            w.int(&format!("{column}timestamp >= ?"), start);
        }
        if let Some(end) = self.end {
            w.int(&format!("{column}timestamp < ?"), end);
        }
        w
    }
}

#[derive(Debug, Clone)]
pub struct Note {
    pub id: i64,
    pub target: String,
    pub timestamp: i64,
    pub note: String,
    pub kind: String,
    pub username: Option<String>,
    pub user_slug: Option<String>,
    pub user_email: Option<String>,
}

const NOTE_COLUMNS: &str = "n.id, n.target, n.timestamp, n.note, n.type, u.username, \
    u.slug AS user_slug, u.email AS user_email";

fn note_from_row(row: &AnyRow) -> Result<Note, sqlx::Error> {
    Ok(Note {
        id: row.try_get("id")?,
        target: row.try_get("target")?,
        timestamp: row.try_get("timestamp")?,
        note: row.try_get("note")?,
        kind: row.try_get("type")?,
        username: row.try_get("username")?,
        user_slug: row.try_get("user_slug")?,
        user_email: row.try_get("user_email")?,
    })
}

/// Notes of a target by time; with `lastn`, the newest N in ascending order.
pub async fn notes(
    pool: &AnyPool,
    target: &str,
    q: &TimeQuery,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Note>), sqlx::Error> {
    let w = q.conditions("n.", target);
    let (count, rows) = page_or_lastn(
        pool,
        NOTE_COLUMNS,
        "notes n LEFT JOIN users u ON u.id = n.user_id",
        &w,
        q.lastn,
        "n.timestamp DESC, n.id DESC",
        "timestamp, id",
        (offset, limit),
    )
    .await?;
    Ok((
        count,
        rows.iter().map(note_from_row).collect::<Result<_, _>>()?,
    ))
}

pub async fn note(pool: &AnyPool, id: i64) -> Result<Option<Note>, sqlx::Error> {
    let sql = format!(
        "SELECT {NOTE_COLUMNS} FROM notes n LEFT JOIN users u ON u.id = n.user_id WHERE n.id = $1"
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(note_from_row).transpose()
}

#[derive(Debug, Clone)]
pub struct NewNote {
    pub target: String,
    pub timestamp: i64,
    pub note: String,
    pub kind: String,
}

/// Inserts notes in one transaction; returns their ids.
pub async fn create_notes(
    pool: &AnyPool,
    notes: &[NewNote],
    user: i64,
    now: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut ids = Vec::with_capacity(notes.len());
    for n in notes {
        let row = sqlx::query(
            "INSERT INTO notes (target, timestamp, note, type, user_id, created_on) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&n.target)
        .bind(n.timestamp)
        .bind(&n.note)
        .bind(&n.kind)
        .bind(user)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        ids.push(row.try_get(0)?);
    }
    tx.commit().await?;
    Ok(ids)
}

#[derive(Debug, Clone)]
pub struct Location {
    pub id: i64,
    pub target: String,
    pub timestamp: i64,
    pub lat: String,
    pub lon: String,
    pub user_slug: Option<String>,
}

fn location_from_row(row: &AnyRow) -> Result<Location, sqlx::Error> {
    Ok(Location {
        id: row.try_get("id")?,
        target: row.try_get("target")?,
        timestamp: row.try_get("timestamp")?,
        lat: row.try_get("lat")?,
        lon: row.try_get("lon")?,
        user_slug: row.try_get("user_slug")?,
    })
}

const LOCATION_COLUMNS: &str = "l.id, l.target, l.timestamp, l.lat, l.lon, u.slug AS user_slug";
const LOCATION_FROM: &str = "locations l LEFT JOIN users u ON u.id = l.user_id";

/// Locations of a target by time.
pub async fn locations(
    pool: &AnyPool,
    target: &str,
    q: &TimeQuery,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Location>), sqlx::Error> {
    let w = q.conditions("l.", target);
    let (count, rows) = page(
        pool,
        LOCATION_COLUMNS,
        LOCATION_FROM,
        &w,
        "l.timestamp, l.id",
        (offset, limit),
    )
    .await?;
    Ok((
        count,
        rows.iter()
            .map(location_from_row)
            .collect::<Result<_, _>>()?,
    ))
}

#[derive(Debug, Clone)]
pub struct NewLocation {
    pub timestamp: i64,
    pub lat: String,
    pub lon: String,
}

/// Inserts locations of one target in one transaction; returns them as stored.
pub async fn create_locations(
    pool: &AnyPool,
    target: &str,
    locations: &[NewLocation],
    user: i64,
) -> Result<Vec<Location>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut ids: Vec<i64> = Vec::with_capacity(locations.len());
    for l in locations {
        let row = sqlx::query(
            "INSERT INTO locations (target, timestamp, lat, lon, user_id) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(target)
        .bind(l.timestamp)
        .bind(&l.lat)
        .bind(&l.lon)
        .bind(user)
        .fetch_one(&mut *tx)
        .await?;
        ids.push(row.try_get(0)?);
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let sql = format!("SELECT {LOCATION_COLUMNS} FROM {LOCATION_FROM} WHERE l.id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await?;
        out.push(location_from_row(&row)?);
    }
    tx.commit().await?;
    Ok(out)
}

/// The newest location of a target.
pub async fn newest_location(
    pool: &AnyPool,
    target: &str,
) -> Result<Option<Location>, sqlx::Error> {
    let sql = format!(
        "SELECT {LOCATION_COLUMNS} FROM {LOCATION_FROM} WHERE l.target = $1 ORDER BY l.timestamp DESC, l.id DESC LIMIT 1"
    );
    let row = sqlx::query(&sql).bind(target).fetch_optional(pool).await?;
    row.as_ref().map(location_from_row).transpose()
}
