//! The statements of update confirmation (spec 6.4 steps 4–7), run inside the ingest
//! worker's metadata transaction: the catalogue entries a new version may point the device
//! at, the device's template and sensor graph, and the system note saying it was updated.

use serde_json::Value;
use sqlx::{AnyConnection, Row};

/// Which catalogue a version looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalogue {
    /// Device templates, by OS tag.
    Templates,
    /// Sensor graphs, by app tag.
    SensorGraphs,
}

/// The active entries of a catalogue with this tag: `(slug, API object)`.
pub async fn entries_with_tag(
    conn: &mut AnyConnection,
    catalogue: Catalogue,
    tag: u32,
) -> Result<Vec<(String, Value)>, sqlx::Error> {
    let sql = match catalogue {
        Catalogue::Templates => {
            "SELECT slug, body FROM device_templates WHERE active = 1 AND os_tag = $1 ORDER BY slug"
        }
        Catalogue::SensorGraphs => {
            "SELECT slug, body FROM sensor_graphs WHERE active = 1 AND app_tag = $1 ORDER BY slug"
        }
    };
    let rows = sqlx::query(sql)
        .bind(i64::from(tag))
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            let body: String = r.try_get("body")?;
            Ok((
                r.try_get("slug")?,
                serde_json::from_str(&body).unwrap_or(Value::Null),
            ))
        })
        .collect()
}

/// Points the device at a catalogue entry: its template or its sensor graph.
pub async fn set_device_entry(
    conn: &mut AnyConnection,
    catalogue: Catalogue,
    device_id: i64,
    slug: &str,
) -> Result<(), sqlx::Error> {
    let sql = match catalogue {
        Catalogue::Templates => "UPDATE devices SET template = $1 WHERE id = $2",
        Catalogue::SensorGraphs => "UPDATE devices SET sg = $1 WHERE id = $2",
    };
    sqlx::query(sql)
        .bind(slug)
        .bind(device_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A device's slug and the org it belongs to (its project's org when it has none).
pub async fn device_slug_and_org(
    conn: &mut AnyConnection,
    device_id: i64,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT d.slug, COALESCE(d.org_id, p.org_id) AS org_id FROM devices d \
         LEFT JOIN projects p ON p.id = d.project_id WHERE d.id = $1",
    )
    .bind(device_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("slug")?, r.try_get("org_id")?)))
        .transpose()
}

/// Adds a system note (`si`, no author) on a target.
pub async fn add_system_note(
    conn: &mut AnyConnection,
    target: &str,
    note: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notes (target, timestamp, note, type, user_id, created_on) \
         VALUES ($1, $2, $3, 'si', NULL, $4)",
    )
    .bind(target)
    .bind(now)
    .bind(note)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
