//! Device version records as OTA lists them (`ota/version/`, the device view, deployment
//! previews): with their device and when they were made. `device_versions` writes them.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::device_versions::{DeviceVersion, Version};
use super::filter::{page, Arg, Where};

/// Ids bound per statement when reading many devices at once.
const CHUNK: usize = 500;

#[derive(Debug, Clone)]
pub struct VersionRecord {
    pub id: i64,
    pub device_id: i64,
    pub device_slug: String,
    pub record: DeviceVersion,
    pub created_on: i64,
}

const COLUMNS: &str = "v.id, v.device_id, d.slug AS device_slug, v.type, v.tag, v.major, \
    v.minor, v.streamer_local_id, v.updated_ts, v.created_on";
const FROM: &str = "device_versions v JOIN devices d ON d.id = v.device_id";

fn from_row(row: &AnyRow) -> Result<VersionRecord, sqlx::Error> {
    let small = |column: &str| -> Result<u8, sqlx::Error> {
        Ok(u8::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
    };
    Ok(VersionRecord {
        id: row.try_get("id")?,
        device_id: row.try_get("device_id")?,
        device_slug: row.try_get("device_slug")?,
        record: DeviceVersion {
            kind: row.try_get("type")?,
            version: Version {
                tag: u32::try_from(row.try_get::<i64, _>("tag")?).unwrap_or(0),
                major: small("major")?,
                minor: small("minor")?,
            },
            streamer_local_id: row.try_get("streamer_local_id")?,
            updated_ts: row.try_get("updated_ts")?,
        },
        created_on: row.try_get("created_on")?,
    })
}

/// The latest record of each type of each device, by device then type.
pub async fn latest_of(
    conn: &mut AnyConnection,
    device_ids: &[i64],
) -> Result<Vec<VersionRecord>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in device_ids.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE v.id IN (SELECT MAX(id) FROM device_versions \
             WHERE device_id IN ({}) GROUP BY device_id, type) ORDER BY v.device_id, v.type",
            marks.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            out.push(from_row(&row)?);
        }
    }
    Ok(out)
}

/// Which records a list shows.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Orgs whose devices' records show; `None` for every org (staff).
    pub orgs: Option<Vec<String>>,
    pub device_id: Option<i64>,
    /// `os` or `app`.
    pub kind: Option<String>,
    /// Only the latest record of each type of each device.
    pub latest: bool,
}

/// One page of records by device, type and age, and the total.
pub async fn list(
    pool: &AnyPool,
    f: &Filter,
    window: (i64, i64),
) -> Result<(i64, Vec<VersionRecord>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(orgs) = &f.orgs {
        if orgs.is_empty() {
            w.never();
        } else {
            let marks = vec!["?"; orgs.len()].join(", ");
            w.push(
                &format!(
                    "COALESCE(d.org_id, (SELECT p.org_id FROM projects p WHERE p.id = d.project_id)) \
                     IN ({marks})"
                ),
                orgs.iter().cloned().map(Arg::Text),
            );
        }
    }
    if let Some(device) = f.device_id {
        w.int("v.device_id = ?", device);
    }
    if let Some(kind) = &f.kind {
        w.text("v.type = ?", kind.clone());
    }
    if f.latest {
        w.push(
            "v.id IN (SELECT MAX(id) FROM device_versions GROUP BY device_id, type)",
            [],
        );
    }
    let (count, rows) = page(pool, COLUMNS, FROM, &w, "v.device_id, v.type, v.id", window).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}
