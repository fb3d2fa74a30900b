//! Fleets and their members.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::filter::{page, Where};
use super::flag;

#[derive(Debug, Clone)]
pub struct Fleet {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub org_id: String,
    pub org_slug: String,
    pub description: String,
    pub is_network: bool,
    pub created_on: i64,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub device_slug: String,
    pub always_on: bool,
    pub is_access_point: bool,
}

const COLUMNS: &str = "f.id, f.slug, f.name, f.org_id, o.slug AS org_slug, f.description, \
     f.is_network, f.created_on, u.slug AS created_by";
const FROM: &str =
    "fleets f JOIN orgs o ON o.id = f.org_id LEFT JOIN users u ON u.id = f.created_by";

fn from_row(row: &AnyRow) -> Result<Fleet, sqlx::Error> {
    Ok(Fleet {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        description: row.try_get("description")?,
        is_network: flag(row, "is_network")?,
        created_on: row.try_get("created_on")?,
        created_by: row.try_get("created_by")?,
    })
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<Fleet>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE f.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// Which fleets a list shows.
#[derive(Debug, Default)]
pub struct Filter {
    /// The caller's orgs; `None` for every org (staff).
    pub orgs: Option<Vec<String>>,
    pub org_slug: Option<String>,
    pub is_network: Option<bool>,
    /// Only fleets holding this device.
    pub device_id: Option<i64>,
}

/// One page of fleets by org then name, and the total.
pub async fn list(
    pool: &AnyPool,
    f: &Filter,
    window: (i64, i64),
) -> Result<(i64, Vec<Fleet>), sqlx::Error> {
    list_sorted(pool, f, None, window).await
}

/// The orders a fleet list may be sorted in, by name.
pub const SORTS: &[(&str, &str)] = &[("name", "f.name"), ("created", "f.created_on")];

/// [`list`] in a chosen order (the default one when `sort` is `None`).
pub async fn list_sorted(
    pool: &AnyPool,
    f: &Filter,
    sort: Option<(&str, bool)>,
    window: (i64, i64),
) -> Result<(i64, Vec<Fleet>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(orgs) = &f.orgs {
        w.any_of("f.org_id", orgs);
    }
    if let Some(slug) = &f.org_slug {
        w.text("o.slug = ?", slug.clone());
    }
    if let Some(network) = f.is_network {
        w.int("f.is_network = ?", network as i64);
    }
    if let Some(device) = f.device_id {
        w.int(
            "f.id IN (SELECT fleet_id FROM fleet_members WHERE device_id = ?)",
            device,
        );
    }
    let order = super::filter::order_of(SORTS, sort, "o.name, f.name, f.id", "f.id");
    let (count, rows) = page(pool, COLUMNS, FROM, &w, &order, window).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

pub struct NewFleet<'a> {
    pub name: &'a str,
    pub org_id: &'a str,
    pub description: &'a str,
    pub is_network: bool,
    pub created_by: i64,
}

/// Creates a fleet with the next id; the id and its slug are taken in one statement, and a
/// creator that loses a race to the unique index tries the next number.
pub async fn create(pool: &AnyPool, new: &NewFleet<'_>, now: i64) -> Result<Fleet, sqlx::Error> {
    let mut attempt = 0;
    loop {
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM fleets")
            .fetch_one(pool)
            .await?;
        let slug = sync_protocol::ids::FleetSlug::new(next.unsigned_abs())
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?
            .to_string();
        let result = sqlx::query(
            "INSERT INTO fleets (id, slug, name, org_id, description, is_network, created_on, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(next)
        .bind(&slug)
        .bind(new.name)
        .bind(new.org_id)
        .bind(new.description)
        .bind(new.is_network as i64)
        .bind(now)
        .bind(new.created_by)
        .execute(pool)
        .await;
        match result {
            Ok(_) => return by_id(pool, next).await?.ok_or(sqlx::Error::RowNotFound),
            // Another fleet took the id, unless the name itself is the duplicate.
            Err(e)
                if super::is_unique_violation(&e)
                    && attempt < 10
                    && !name_taken(pool, new).await? =>
            {
                attempt += 1
            }
            Err(e) => return Err(e),
        }
    }
}

async fn name_taken(pool: &AnyPool, new: &NewFleet<'_>) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fleets WHERE org_id = $1 AND name = $2")
        .bind(new.org_id)
        .bind(new.name)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

pub async fn update(
    pool: &AnyPool,
    id: i64,
    name: &str,
    description: &str,
    is_network: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE fleets SET name = $1, description = $2, is_network = $3 WHERE id = $4")
        .bind(name)
        .bind(description)
        .bind(is_network as i64)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM fleets WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// One page of a fleet's members, by device.
pub async fn members(
    pool: &AnyPool,
    fleet_id: i64,
    window: (i64, i64),
) -> Result<(i64, Vec<Member>), sqlx::Error> {
    members_sorted(pool, fleet_id, None, window).await
}

/// The orders a member list may be sorted in, by name.
pub const MEMBER_SORTS: &[(&str, &str)] = &[
    ("device", "d.id"),
    ("always_on", "m.always_on"),
    ("access_point", "m.is_access_point"),
];

/// [`members`] in a chosen order (by device when `sort` is `None`).
pub async fn members_sorted(
    pool: &AnyPool,
    fleet_id: i64,
    sort: Option<(&str, bool)>,
    window: (i64, i64),
) -> Result<(i64, Vec<Member>), sqlx::Error> {
    let order = super::filter::order_of(MEMBER_SORTS, sort, "d.id", "d.id");
    let mut w = Where::default();
    w.int("m.fleet_id = ?", fleet_id);
    let (count, rows) = page(
        pool,
        "d.slug, m.always_on, m.is_access_point",
        "fleet_members m JOIN devices d ON d.id = m.device_id",
        &w,
        &order,
        window,
    )
    .await?;
    let members = rows
        .iter()
        .map(|r| {
            Ok(Member {
                device_slug: r.try_get("slug")?,
                always_on: flag(r, "always_on")?,
                is_access_point: flag(r, "is_access_point")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((count, members))
}

/// Adds a device; false when it is already a member.
pub async fn add_member(
    pool: &AnyPool,
    fleet_id: i64,
    device_id: i64,
    always_on: bool,
    is_access_point: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO fleet_members (fleet_id, device_id, always_on, is_access_point) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (fleet_id, device_id) DO NOTHING",
    )
    .bind(fleet_id)
    .bind(device_id)
    .bind(always_on as i64)
    .bind(is_access_point as i64)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a device; false when it was not a member.
pub async fn remove_member(
    pool: &AnyPool,
    fleet_id: i64,
    device_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM fleet_members WHERE fleet_id = $1 AND device_id = $2")
        .bind(fleet_id)
        .bind(device_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
