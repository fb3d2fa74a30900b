//! Configuration attribute names and the attributes set on targets (spec 3.14). Data and
//! tags are JSON text; an attribute is unique per target and name, and writing one again
//! replaces its data.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::filter::{page, Where};
use super::like_escape;

#[derive(Debug, Clone)]
pub struct ConfigName {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ConfigAttr {
    pub id: i64,
    pub target: String,
    pub name: String,
    pub data: serde_json::Value,
    pub updated_on: i64,
}

const NAME_COLUMNS: &str = "id, name, description, tags";
const ATTR_COLUMNS: &str = "a.id, a.target, n.name, a.data, a.updated_on";
const ATTR_FROM: &str = "config_attrs a JOIN config_names n ON n.id = a.name_id";

fn name_from_row(row: &AnyRow) -> Result<ConfigName, sqlx::Error> {
    let tags: String = row.try_get("tags")?;
    Ok(ConfigName {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
    })
}

fn attr_from_row(row: &AnyRow) -> Result<ConfigAttr, sqlx::Error> {
    let data: String = row.try_get("data")?;
    Ok(ConfigAttr {
        id: row.try_get("id")?,
        target: row.try_get("target")?,
        name: row.try_get("name")?,
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        updated_on: row.try_get("updated_on")?,
    })
}

/// Which names a list shows: those containing `name_q` (any case) and carrying `tag`.
#[derive(Debug, Default)]
pub struct NameFilter {
    pub name_q: Option<String>,
    pub tag: Option<String>,
}

/// A page of names in name order, and the total.
pub async fn names(
    pool: &AnyPool,
    filter: &NameFilter,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<ConfigName>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(q) = &filter.name_q {
        w.text("LOWER(name) LIKE ? ESCAPE '\\'", contains(q));
    }
    if let Some(tag) = &filter.tag {
        // Tags are a JSON array of strings: the quoted tag appears in it exactly.
        let quoted = serde_json::Value::String(tag.clone()).to_string();
        w.text(
            "tags LIKE ? ESCAPE '\\'",
            format!("%{}%", like_escape(&quoted)),
        );
    }
    let (count, rows) = page(
        pool,
        NAME_COLUMNS,
        "config_names",
        &w,
        "name",
        (offset, limit),
    )
    .await?;
    Ok((
        count,
        rows.iter().map(name_from_row).collect::<Result<_, _>>()?,
    ))
}

/// A LIKE pattern matching text that contains `q`, in any case.
fn contains(q: &str) -> String {
    format!("%{}%", like_escape(&q.to_lowercase()))
}

pub async fn name(pool: &AnyPool, id: i64) -> Result<Option<ConfigName>, sqlx::Error> {
    let sql = format!("SELECT {NAME_COLUMNS} FROM config_names WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(name_from_row).transpose()
}

pub async fn name_by_name(pool: &AnyPool, name: &str) -> Result<Option<ConfigName>, sqlx::Error> {
    let sql = format!("SELECT {NAME_COLUMNS} FROM config_names WHERE name = $1");
    let row = sqlx::query(&sql).bind(name).fetch_optional(pool).await?;
    row.as_ref().map(name_from_row).transpose()
}

/// Inserts a name; a unique violation means it exists.
pub async fn create_name(
    pool: &AnyPool,
    name: &str,
    description: &str,
    tags: &[String],
    user: i64,
    now: i64,
) -> Result<ConfigName, sqlx::Error> {
    let sql = format!(
        "INSERT INTO config_names (name, description, tags, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {NAME_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(name)
        .bind(description)
        .bind(serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .bind(user)
        .fetch_one(pool)
        .await?;
    name_from_row(&row)
}

/// Sets a name's description and tags (the name itself is what attributes refer to).
pub async fn update_name(
    pool: &AnyPool,
    id: i64,
    description: &str,
    tags: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE config_names SET description = $1, tags = $2 WHERE id = $3")
        .bind(description)
        .bind(serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()))
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes a name and every attribute set under it.
pub async fn delete_name(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM config_attrs WHERE name_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM config_names WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A page of a target's attributes in name order, those whose name contains `name_q`.
pub async fn attrs(
    pool: &AnyPool,
    target: &str,
    name_q: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<ConfigAttr>), sqlx::Error> {
    let mut w = Where::default();
    w.text("a.target = ?", target);
    if let Some(q) = name_q {
        w.text("LOWER(n.name) LIKE ? ESCAPE '\\'", contains(q));
    }
    let (count, rows) = page(pool, ATTR_COLUMNS, ATTR_FROM, &w, "n.name", (offset, limit)).await?;
    Ok((
        count,
        rows.iter().map(attr_from_row).collect::<Result<_, _>>()?,
    ))
}

pub async fn attr(pool: &AnyPool, id: i64) -> Result<Option<ConfigAttr>, sqlx::Error> {
    let sql = format!("SELECT {ATTR_COLUMNS} FROM {ATTR_FROM} WHERE a.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(attr_from_row).transpose()
}

/// The attribute `name` on the first of `targets` (most specific first) that has it.
pub async fn first_set(
    pool: &AnyPool,
    targets: &[String],
    name: &str,
) -> Result<Option<ConfigAttr>, sqlx::Error> {
    Ok(nearest(pool, targets, Some(name)).await?.into_iter().next())
}

/// Every name set on any of `targets` (most specific first), each with the value of the
/// first target that has it, in name order: what applies to the first target.
pub async fn effective(pool: &AnyPool, targets: &[String]) -> Result<Vec<ConfigAttr>, sqlx::Error> {
    nearest(pool, targets, None).await
}

async fn nearest(
    pool: &AnyPool,
    targets: &[String],
    name: Option<&str>,
) -> Result<Vec<ConfigAttr>, sqlx::Error> {
    let mut w = Where::default();
    w.any_of("a.target", targets);
    if let Some(name) = name {
        w.text("n.name = ?", name);
    }
    let sql = format!(
        "SELECT {ATTR_COLUMNS} FROM {ATTR_FROM}{} ORDER BY n.name",
        w.sql()
    );
    let rows = w.bind(sqlx::query(&sql)).fetch_all(pool).await?;
    let rank = |a: &ConfigAttr| {
        targets
            .iter()
            .position(|t| *t == a.target)
            .unwrap_or(usize::MAX)
    };
    let mut chosen: Vec<ConfigAttr> = Vec::new();
    for attr in rows.iter().map(attr_from_row) {
        let attr = attr?;
        match chosen.last_mut() {
            Some(last) if last.name == attr.name => {
                if rank(&attr) < rank(last) {
                    *last = attr;
                }
            }
            _ => chosen.push(attr),
        }
    }
    Ok(chosen)
}

/// Creates the attribute, or replaces its data: one statement, so two writers racing
/// leave one row with the last data.
pub async fn set_attr(
    pool: &AnyPool,
    target: &str,
    name: &ConfigName,
    data: &serde_json::Value,
    user: i64,
    now: i64,
) -> Result<ConfigAttr, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO config_attrs (target, name_id, data, updated_on, updated_by) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (target, name_id) DO UPDATE SET data = excluded.data, \
         updated_on = excluded.updated_on, updated_by = excluded.updated_by \
         RETURNING id",
    )
    .bind(target)
    .bind(name.id)
    .bind(data.to_string())
    .bind(now)
    .bind(user)
    .fetch_one(pool)
    .await?;
    let id: i64 = row.try_get("id")?;
    Ok(ConfigAttr {
        id,
        target: target.to_string(),
        name: name.name.clone(),
        data: data.clone(),
        updated_on: now,
    })
}

pub async fn delete_attr(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM config_attrs WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
