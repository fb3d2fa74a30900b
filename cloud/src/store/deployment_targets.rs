//! The devices a deployment may reach: its candidates (the active devices of its fleet, or
//! of its org without one) with what the cloud knows of their versions, and the targets
//! frozen from them at release, each in its rollout wave (`deployment_targets`).

use std::collections::HashMap;

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

use super::version_records::{self, VersionRecord};
use crate::ota::selection::{Known, Tagged};
use crate::ota::tally::Target;

/// Targets inserted per statement.
const CHUNK: usize = 200;

/// A device a deployment could reach, with its latest version records.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub device_id: i64,
    pub slug: String,
    pub sg: Option<String>,
    pub template: Option<String>,
    /// The hardware tag its device template names, if any.
    pub hw_tag: Option<u32>,
    pub versions: Vec<VersionRecord>,
    /// Its wave, once it is a target.
    pub wave: Option<i64>,
}

impl Candidate {
    /// What the cloud knows of its versions, for the criteria.
    pub fn known(&self) -> Known {
        let of = |kind: &str| {
            self.versions
                .iter()
                .find(|v| v.record.kind == kind)
                .map(|v| Tagged {
                    tag: v.record.version.tag,
                    major: v.record.version.major,
                    minor: v.record.version.minor,
                })
        };
        Known {
            os: of("os"),
            app: of("app"),
            controller_hw_tag: self.hw_tag,
        }
    }
}

const DEVICE_COLUMNS: &str = "d.id, d.slug, d.sg, d.template, dt.body AS template_body";

fn candidate_from_row(row: &AnyRow) -> Result<Candidate, sqlx::Error> {
    let body: Option<String> = row.try_get("template_body")?;
    let hw_tag = body
        .and_then(|b| serde_json::from_str::<Value>(&b).ok())
        .and_then(|v| v["hw_tag"].as_u64())
        .and_then(|t| u32::try_from(t).ok());
    Ok(Candidate {
        device_id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        sg: row.try_get("sg")?,
        template: row.try_get("template")?,
        hw_tag,
        versions: Vec::new(),
        wave: None,
    })
}

/// Fills in each candidate's latest version records.
async fn with_versions(
    conn: &mut AnyConnection,
    mut candidates: Vec<Candidate>,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let ids: Vec<i64> = candidates.iter().map(|c| c.device_id).collect();
    let mut by_device: HashMap<i64, Vec<VersionRecord>> = HashMap::new();
    for record in version_records::latest_of(conn, &ids).await? {
        by_device.entry(record.device_id).or_default().push(record);
    }
    for c in &mut candidates {
        c.versions = by_device.remove(&c.device_id).unwrap_or_default();
    }
    Ok(candidates)
}

/// The active devices of the org, or of one of its fleets, by id, with their versions.
pub async fn candidates(
    conn: &mut AnyConnection,
    org_id: &str,
    fleet_id: Option<i64>,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let fleet = match fleet_id {
        Some(_) => "AND d.id IN (SELECT device_id FROM fleet_members WHERE fleet_id = $2)",
        None => "",
    };
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices d LEFT JOIN device_templates dt ON dt.slug = d.template \
         WHERE d.active = 1 AND d.org_id = $1 {fleet} ORDER BY d.id"
    );
    let mut query = sqlx::query(&sql).bind(org_id);
    if let Some(fleet) = fleet_id {
        query = query.bind(fleet);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let found = rows
        .iter()
        .map(candidate_from_row)
        .collect::<Result<_, _>>()?;
    with_versions(conn, found).await
}

/// Freezes the targets of a deployment: `(device id, wave)` pairs.
pub async fn insert(
    conn: &mut AnyConnection,
    deployment_id: i64,
    targets: &[(i64, i64)],
) -> Result<(), sqlx::Error> {
    for chunk in targets.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO deployment_targets (deployment_id, device_id, wave) VALUES {} \
             ON CONFLICT (deployment_id, device_id) DO NOTHING",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(deployment_id);
        for (device, wave) in chunk {
            query = query.bind(*device).bind(*wave);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Every target of a deployment.
pub async fn of_deployment<'e, E: Executor<'e, Database = Any>>(
    db: E,
    deployment_id: i64,
) -> Result<Vec<Target>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT device_id, wave FROM deployment_targets WHERE deployment_id = $1 ORDER BY device_id",
    )
    .bind(deployment_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Target {
                device_id: r.try_get("device_id")?,
                wave: r.try_get("wave")?,
            })
        })
        .collect()
}

/// The wave of a device in a deployment; `None` when it is not a target.
pub async fn wave_of<'e, E: Executor<'e, Database = Any>>(
    db: E,
    deployment_id: i64,
    device_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT wave FROM deployment_targets WHERE deployment_id = $1 AND device_id = $2",
    )
    .bind(deployment_id)
    .bind(device_id)
    .fetch_optional(db)
    .await
}

/// One page of a deployment's targets by device id, with their versions, and the total.
pub async fn page(
    conn: &mut AnyConnection,
    deployment_id: i64,
    (offset, limit): (i64, i64),
) -> Result<(i64, Vec<Candidate>), sqlx::Error> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deployment_targets WHERE deployment_id = $1")
            .bind(deployment_id)
            .fetch_one(&mut *conn)
            .await?;
    let sql = format!(
        "SELECT {DEVICE_COLUMNS}, t.wave FROM deployment_targets t JOIN devices d ON d.id = t.device_id \
         LEFT JOIN device_templates dt ON dt.slug = d.template WHERE t.deployment_id = $1 \
         ORDER BY d.id LIMIT {limit} OFFSET {offset}"
    );
    let rows = sqlx::query(&sql)
        .bind(deployment_id)
        .fetch_all(&mut *conn)
        .await?;
    let found = rows
        .iter()
        .map(|r| {
            let mut c = candidate_from_row(r)?;
            c.wave = Some(r.try_get("wave")?);
            Ok(c)
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((count, with_versions(conn, found).await?))
}

/// The devices of `org_id` a deployment may update now: targets in an open wave (up to
/// `current_wave`) without a confirmed action, by id.
pub async fn open_unconfirmed(
    pool: &AnyPool,
    deployment_id: i64,
    current_wave: i64,
    org_id: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT t.device_id FROM deployment_targets t JOIN devices d ON d.id = t.device_id \
         WHERE t.deployment_id = $1 AND t.wave <= $2 AND d.org_id = $3 AND NOT EXISTS ( \
         SELECT 1 FROM deployment_actions a WHERE a.deployment_id = t.deployment_id \
         AND a.device_id = t.device_id AND a.device_confirmation = 1) ORDER BY t.device_id",
    )
    .bind(deployment_id)
    .bind(current_wave)
    .bind(org_id)
    .fetch_all(pool)
    .await
}
