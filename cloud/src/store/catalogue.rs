//! The read-mostly catalogue: variable types, sensor graphs and device templates. Each record
//! is kept as its full API object; a few real ones ship in `seed/catalogue.json` and are
//! inserted on start when missing, so devices can be registered on a fresh server.

use serde_json::Value;
use sqlx::{AnyPool, Row};

const SEED: &str = include_str!("../../seed/catalogue.json");

/// Inserts the seed records that are not there yet; existing records are left as they are.
pub async fn seed(pool: &AnyPool) -> anyhow::Result<()> {
    let seed: Value = serde_json::from_str(SEED)?;
    let items = |key: &str| seed[key].as_array().cloned().unwrap_or_default();
    for vt in items("var_types") {
        sqlx::query("INSERT INTO var_types (slug, name, body) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING")
            .bind(str_field(&vt, "slug")?)
            .bind(str_field(&vt, "name")?)
            .bind(vt.to_string())
            .execute(pool)
            .await?;
    }
    for sg in items("sensor_graphs") {
        sqlx::query(
            "INSERT INTO sensor_graphs (id, slug, name, active, app_tag, body) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (slug) DO NOTHING",
        )
        .bind(sg["id"].as_i64().unwrap_or_default())
        .bind(str_field(&sg, "slug")?)
        .bind(str_field(&sg, "name")?)
        .bind(sg["active"].as_bool().unwrap_or(true) as i64)
        .bind(sg["app_tag"].as_i64())
        .bind(sg.to_string())
        .execute(pool)
        .await?;
    }
    for dt in items("device_templates") {
        sqlx::query(
            "INSERT INTO device_templates (id, slug, active, os_tag, body) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (slug) DO NOTHING",
        )
        .bind(str_field(&dt, "id")?)
        .bind(str_field(&dt, "slug")?)
        .bind(dt["active"].as_bool().unwrap_or(true) as i64)
        .bind(dt["os_tag"].as_i64())
        .bind(dt.to_string())
        .execute(pool)
        .await?;
    }
    Ok(())
}

fn str_field<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    v[key]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("catalogue record without {key}: {v}"))
}

/// Which catalogue table.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    VarType,
    SensorGraph,
    DeviceTemplate,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::VarType => "var_types",
            Kind::SensorGraph => "sensor_graphs",
            Kind::DeviceTemplate => "device_templates",
        }
    }

    /// Var types have no active flag.
    fn active_filter(self) -> &'static str {
        match self {
            Kind::VarType => "1 = 1",
            _ => "active = 1",
        }
    }
}

/// A record's API object by slug, with whether it is active.
pub async fn get(
    pool: &AnyPool,
    kind: Kind,
    slug: &str,
) -> Result<Option<(Value, bool)>, sqlx::Error> {
    let sql = format!(
        "SELECT body, {} AS live FROM {} WHERE slug = $1",
        match kind {
            Kind::VarType => "1",
            _ => "active",
        },
        kind.table()
    );
    let row = sqlx::query(&sql).bind(slug).fetch_optional(pool).await?;
    row.map(|r| {
        let body: String = r.try_get("body")?;
        let live: i64 = r.try_get("live")?;
        Ok((
            serde_json::from_str(&body).unwrap_or(Value::Null),
            live != 0,
        ))
    })
    .transpose()
}

/// One page of records by slug (active ones unless `all`), and the total.
pub async fn list(
    pool: &AnyPool,
    kind: Kind,
    all: bool,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Value>), sqlx::Error> {
    list_ordered(pool, kind, all, (CatalogueSort::Slug, false), offset, limit).await
}

/// The columns a catalogue list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogueSort {
    Slug,
    /// Var types and sensor graphs have a name column; device templates are named by their
    /// slug, so this orders them by slug.
    Name,
}

/// [`list`] in a chosen order (`(column, descending)`).
pub async fn list_ordered(
    pool: &AnyPool,
    kind: Kind,
    all: bool,
    (sort, descending): (CatalogueSort, bool),
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Value>), sqlx::Error> {
    let filter = if all { "1 = 1" } else { kind.active_filter() };
    let count: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {} WHERE {filter}",
        kind.table()
    ))
    .fetch_one(pool)
    .await?;
    let dir = if descending { " DESC" } else { "" };
    let order = match (sort, kind) {
        (CatalogueSort::Name, Kind::VarType | Kind::SensorGraph) => format!("name{dir}, slug{dir}"),
        _ => format!("slug{dir}"),
    };
    let sql = format!(
        "SELECT body FROM {} WHERE {filter} ORDER BY {order} LIMIT $1 OFFSET $2",
        kind.table()
    );
    let rows = sqlx::query(&sql)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let bodies = rows
        .iter()
        .map(|r| {
            r.try_get::<String, _>("body")
                .map(|b| serde_json::from_str(&b).unwrap_or(Value::Null))
        })
        .collect::<Result<_, _>>()?;
    Ok((count, bodies))
}
