//! What deployments read of device scripts and of their org's release settings
//! (`device_scripts`, `release_keys`, `org_ota_settings`). Scripts and keys are written by
//! their own modules; deployments only read them.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor, Row};

use super::flag;

/// A device script as a deployment sees it.
#[derive(Debug, Clone)]
pub struct Script {
    pub id: i64,
    pub slug: String,
    pub org_id: String,
    pub org_slug: String,
    pub org_is_vendor: bool,
    pub name: String,
    pub major: i64,
    pub minor: i64,
    pub patch: i64,
    pub released: bool,
    pub file_key: Option<String>,
    pub file_size: Option<i64>,
    pub file_sha256: Option<String>,
    /// The detached release signature, JSON.
    pub signature: Option<String>,
}

impl Script {
    /// `vX.Y.Z`.
    pub fn version(&self) -> String {
        format!("v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

fn from_row(row: &AnyRow) -> Result<Script, sqlx::Error> {
    Ok(Script {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        org_is_vendor: flag(row, "is_vendor")?,
        name: row.try_get("name")?,
        major: row.try_get("major")?,
        minor: row.try_get("minor")?,
        patch: row.try_get("patch")?,
        released: flag(row, "released")?,
        file_key: row.try_get("file_key")?,
        file_size: row.try_get("file_size")?,
        file_sha256: row.try_get("file_sha256")?,
        signature: row.try_get("signature")?,
    })
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: i64,
) -> Result<Option<Script>, sqlx::Error> {
    sqlx::query(
        "SELECT z.id, z.slug, z.org_id, o.slug AS org_slug, o.is_vendor, z.name, z.major, \
         z.minor, z.patch, z.released, z.file_key, z.file_size, z.file_sha256, z.signature \
         FROM device_scripts z JOIN orgs o ON o.id = z.org_id WHERE z.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The ids (`rk--…`) of the org's release keys that are not revoked, oldest first.
pub async fn current_release_keys(
    pool: &AnyPool,
    org_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT key_id FROM release_keys WHERE org_id = $1 AND revoked_on IS NULL ORDER BY id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await
}

/// Whether the org lets unsigned scripts be released (off unless set).
pub async fn allows_unsigned(pool: &AnyPool, org_id: &str) -> Result<bool, sqlx::Error> {
    let allowed: Option<i64> =
        sqlx::query_scalar("SELECT allow_unsigned FROM org_ota_settings WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(pool)
            .await?;
    Ok(allowed.unwrap_or(0) != 0)
}
