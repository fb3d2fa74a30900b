//! Per-device secrets and what checking a device token needs to know.

use sqlx::{AnyPool, Row};

use super::flag;

/// The device facts an `a-jwt` check needs.
#[derive(Debug, Clone)]
pub struct TokenDevice {
    pub id: i64,
    pub slug: String,
    pub active: bool,
    pub project_id: Option<String>,
    pub claimed_by: Option<i64>,
    pub secret: Option<String>,
}

pub const A_JWT_KEY: &str = "A-JWT-KEY";

pub async fn token_device(pool: &AnyPool, slug: &str) -> Result<Option<TokenDevice>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT d.id, d.slug, d.active, d.project_id, d.claimed_by, k.secret FROM devices d \
         LEFT JOIN device_keys k ON k.device_id = d.id AND k.type = $2 WHERE d.slug = $1",
    )
    .bind(slug)
    .bind(A_JWT_KEY)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(TokenDevice {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            active: flag(&row, "active")?,
            project_id: row.try_get("project_id")?,
            claimed_by: row.try_get("claimed_by")?,
            secret: row.try_get("secret")?,
        })
    })
    .transpose()
}

/// The device's key of a type, creating it with `make` when missing (for `A-JWT-KEY`).
pub async fn get_or_create(
    pool: &AnyPool,
    device_id: i64,
    key_type: &str,
    make: impl FnOnce() -> String,
    now: i64,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "INSERT INTO device_keys (device_id, type, secret, downloadable, created_on) \
         VALUES ($1, $2, $3, 0, $4) ON CONFLICT (device_id, type) DO NOTHING",
    )
    .bind(device_id)
    .bind(key_type)
    .bind(make())
    .bind(now)
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT secret FROM device_keys WHERE device_id = $1 AND type = $2")
        .bind(device_id)
        .bind(key_type)
        .fetch_one(pool)
        .await
}

/// A stored key that may be downloaded, if any.
pub async fn downloadable(
    pool: &AnyPool,
    device_id: i64,
    key_type: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT secret FROM device_keys WHERE device_id = $1 AND type = $2 AND downloadable = 1",
    )
    .bind(device_id)
    .bind(key_type)
    .fetch_optional(pool)
    .await
}

/// A stored key of a type, downloadable or not (for the server's own use, such as checking
/// a report signed with the device's user key).
pub async fn secret(
    pool: &AnyPool,
    device_id: i64,
    key_type: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT secret FROM device_keys WHERE device_id = $1 AND type = $2")
        .bind(device_id)
        .bind(key_type)
        .fetch_optional(pool)
        .await
}
