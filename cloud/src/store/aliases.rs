//! Stream aliases and their taps (spec 3.22). An alias's slug is `a--` and its id; its
//! taps, ordered by time, cut the time line into slices, each read from one stream.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::filter::{page, Where};

#[derive(Debug, Clone)]
pub struct Alias {
    pub id: i64,
    pub name: String,
    pub org_id: String,
    pub org_slug: String,
    pub created_on: i64,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Tap {
    pub id: i64,
    pub alias_id: i64,
    pub timestamp: i64,
    pub stream_slug: String,
    pub created_on: i64,
    pub created_by: Option<String>,
}

/// One slice of an alias: `stream`'s rows from `from` until `until` (open at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub stream: String,
    pub from: i64,
    pub until: Option<i64>,
}

const ALIAS_COLUMNS: &str =
    "a.id, a.name, a.org_id, o.slug AS org_slug, a.created_on, u.slug AS created_by";
const ALIAS_FROM: &str =
    "stream_aliases a JOIN orgs o ON o.id = a.org_id LEFT JOIN users u ON u.id = a.created_by";
const TAP_COLUMNS: &str =
    "t.id, t.alias_id, t.timestamp, t.stream_slug, t.created_on, u.slug AS created_by";
const TAP_FROM: &str = "stream_alias_taps t JOIN stream_aliases a ON a.id = t.alias_id \
                        LEFT JOIN users u ON u.id = t.created_by";

fn alias_from_row(row: &AnyRow) -> Result<Alias, sqlx::Error> {
    Ok(Alias {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        created_on: row.try_get("created_on")?,
        created_by: row.try_get("created_by")?,
    })
}

fn tap_from_row(row: &AnyRow) -> Result<Tap, sqlx::Error> {
    Ok(Tap {
        id: row.try_get("id")?,
        alias_id: row.try_get("alias_id")?,
        timestamp: row.try_get("timestamp")?,
        stream_slug: row.try_get("stream_slug")?,
        created_on: row.try_get("created_on")?,
        created_by: row.try_get("created_by")?,
    })
}

/// A page of the aliases of `org_ids` (every alias with `None`), optionally of one org, in
/// id order.
pub async fn list(
    pool: &AnyPool,
    org_ids: Option<&[String]>,
    org_slug: Option<&str>,
    window: (i64, i64),
) -> Result<(i64, Vec<Alias>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(ids) = org_ids {
        w.any_of("a.org_id", ids);
    }
    if let Some(slug) = org_slug {
        w.text("o.slug = ?", slug);
    }
    let (count, rows) = page(pool, ALIAS_COLUMNS, ALIAS_FROM, &w, "a.id", window).await?;
    Ok((
        count,
        rows.iter().map(alias_from_row).collect::<Result<_, _>>()?,
    ))
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<Alias>, sqlx::Error> {
    let sql = format!("SELECT {ALIAS_COLUMNS} FROM {ALIAS_FROM} WHERE a.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(alias_from_row).transpose()
}

pub async fn create(
    pool: &AnyPool,
    name: &str,
    org_id: &str,
    user: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO stream_aliases (name, org_id, created_on, created_by) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(org_id)
    .bind(now)
    .bind(user)
    .fetch_one(pool)
    .await?;
    row.try_get("id")
}

pub async fn update(pool: &AnyPool, id: i64, name: &str, org_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stream_aliases SET name = $1, org_id = $2 WHERE id = $3")
        .bind(name)
        .bind(org_id)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes an alias and its taps.
pub async fn delete(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM stream_alias_taps WHERE alias_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM stream_aliases WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A page of taps: of one alias, or of every alias of `org_ids` (all with `None`), by id.
pub async fn taps(
    pool: &AnyPool,
    alias_id: Option<i64>,
    org_ids: Option<&[String]>,
    window: (i64, i64),
) -> Result<(i64, Vec<Tap>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(id) = alias_id {
        w.int("t.alias_id = ?", id);
    }
    if let Some(ids) = org_ids {
        w.any_of("a.org_id", ids);
    }
    let (count, rows) = page(pool, TAP_COLUMNS, TAP_FROM, &w, "t.id", window).await?;
    Ok((
        count,
        rows.iter().map(tap_from_row).collect::<Result<_, _>>()?,
    ))
}

pub async fn tap(pool: &AnyPool, id: i64) -> Result<Option<Tap>, sqlx::Error> {
    let sql = format!("SELECT {TAP_COLUMNS} FROM {TAP_FROM} WHERE t.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(tap_from_row).transpose()
}

pub async fn create_tap(
    pool: &AnyPool,
    alias_id: i64,
    timestamp: i64,
    stream_slug: &str,
    user: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO stream_alias_taps (alias_id, timestamp, stream_slug, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(alias_id)
    .bind(timestamp)
    .bind(stream_slug)
    .bind(now)
    .bind(user)
    .fetch_one(pool)
    .await?;
    row.try_get("id")
}

pub async fn update_tap(
    pool: &AnyPool,
    id: i64,
    alias_id: i64,
    timestamp: i64,
    stream_slug: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE stream_alias_taps SET alias_id = $1, timestamp = $2, stream_slug = $3 WHERE id = $4",
    )
    .bind(alias_id)
    .bind(timestamp)
    .bind(stream_slug)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_tap(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM stream_alias_taps WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The alias's time line: one slice per tap, in time order, each ending where the next
/// begins. Two taps at the same time: the later one (by id) is in force.
pub async fn slices(pool: &AnyPool, alias_id: i64) -> Result<Vec<Slice>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT timestamp, stream_slug FROM stream_alias_taps WHERE alias_id = $1 \
         ORDER BY timestamp, id",
    )
    .bind(alias_id)
    .fetch_all(pool)
    .await?;
    let mut taps = Vec::with_capacity(rows.len());
    for row in &rows {
        let timestamp: i64 = row.try_get("timestamp")?;
        let stream: String = row.try_get("stream_slug")?;
        taps.push((timestamp, stream));
    }
    Ok(time_line(&taps))
}

/// Slices from taps sorted by time (then by id): empty slices, those of a tap overtaken by
/// another at the same time, are left out.
fn time_line(taps: &[(i64, String)]) -> Vec<Slice> {
    let mut slices = Vec::new();
    for (i, (from, stream)) in taps.iter().enumerate() {
        let until = taps.get(i + 1).map(|(t, _)| *t);
        if until == Some(*from) {
            continue;
        }
        slices.push(Slice {
            stream: stream.clone(),
            from: *from,
            until,
        });
    }
    slices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tap_holds_until_the_next_and_a_tie_goes_to_the_later() {
        let taps = [
            (10, "s--a".to_string()),
            (20, "s--b".to_string()),
            (20, "s--c".to_string()),
            (35, "s--a".to_string()),
        ];
        let slice = |stream: &str, from, until| Slice {
            stream: stream.into(),
            from,
            until,
        };
        assert_eq!(
            time_line(&taps),
            [
                slice("s--a", 10, Some(20)),
                slice("s--c", 20, Some(35)),
                slice("s--a", 35, None)
            ]
        );
        assert_eq!(time_line(&[]), []);
    }
}
