//! Gateways, their one-time registration codes, and the nonces of their signed requests
//! (see `migrations/meta/0005_gateways.sql`); what each still holds, as its latest sync
//! told it (`0008_gateway_backlog.sql`).

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

#[derive(Debug, Clone)]
pub struct Gateway {
    pub id: i64,
    pub key_id: String,
    pub org_id: String,
    pub name: String,
    pub created_by: i64,
    pub created_on: i64,
    pub revoked_on: Option<i64>,
    pub last_seen: Option<i64>,
    /// What it held when the batch that told it arrived at `backlog_at`; None until a sync
    /// batch tells it, and again after a batch without it.
    pub backlog: Option<Backlog>,
    pub backlog_at: Option<i64>,
}

/// What a gateway still held for the cloud when it last said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub reports: i64,
    pub bytes: i64,
    pub readings: i64,
    /// The receive time of the oldest report waiting.
    pub oldest: Option<i64>,
    pub quarantined: i64,
    pub ota_outcomes: i64,
    /// Collection stopped: the gateway's buffer is over its budget.
    pub full: bool,
}

const COLUMNS: &str = "id, key_id, org_id, name, created_by, created_on, revoked_on, last_seen, \
     backlog_at, backlog_reports, backlog_bytes, backlog_readings, backlog_oldest, \
     backlog_quarantined, backlog_ota_outcomes, backlog_full";

fn from_row(r: &AnyRow) -> Result<Gateway, sqlx::Error> {
    Ok(Gateway {
        id: r.try_get("id")?,
        key_id: r.try_get("key_id")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        created_by: r.try_get("created_by")?,
        created_on: r.try_get("created_on")?,
        revoked_on: r.try_get("revoked_on")?,
        last_seen: r.try_get("last_seen")?,
        backlog: backlog_from_row(r)?,
        backlog_at: r.try_get("backlog_at")?,
    })
}

fn backlog_from_row(r: &AnyRow) -> Result<Option<Backlog>, sqlx::Error> {
    if r.try_get::<Option<i64>, _>("backlog_at")?.is_none() {
        return Ok(None);
    }
    // Written together with `backlog_at`; a NULL among them reads as 0.
    let n = |column: &str| -> Result<i64, sqlx::Error> {
        Ok(r.try_get::<Option<i64>, _>(column)?.unwrap_or(0))
    };
    Ok(Some(Backlog {
        reports: n("backlog_reports")?,
        bytes: n("backlog_bytes")?,
        readings: n("backlog_readings")?,
        oldest: r.try_get("backlog_oldest")?,
        quarantined: n("backlog_quarantined")?,
        ota_outcomes: n("backlog_ota_outcomes")?,
        full: n("backlog_full")? != 0,
    }))
}

/// Records what a gateway holds, as the batch that arrived at `at` told it, or that it is
/// unknown (`None`: a batch from a version that does not say). A batch that arrived before
/// the one on record changes nothing, so a slow retry cannot bring back an older backlog.
pub async fn record_backlog(
    pool: &AnyPool,
    gateway_id: i64,
    at: i64,
    backlog: Option<&Backlog>,
) -> Result<(), sqlx::Error> {
    let figures = |f: fn(&Backlog) -> i64| backlog.map(f);
    sqlx::query(
        "UPDATE gateways SET backlog_at = $1, backlog_reports = $2, backlog_bytes = $3, \
         backlog_readings = $4, backlog_oldest = $5, backlog_quarantined = $6, \
         backlog_ota_outcomes = $7, backlog_full = $8 \
         WHERE id = $9 AND (backlog_at IS NULL OR backlog_at <= $10)",
    )
    .bind(backlog.map(|_| at))
    .bind(figures(|b| b.reports))
    .bind(figures(|b| b.bytes))
    .bind(figures(|b| b.readings))
    .bind(backlog.and_then(|b| b.oldest))
    .bind(figures(|b| b.quarantined))
    .bind(figures(|b| b.ota_outcomes))
    .bind(figures(|b| i64::from(b.full)))
    .bind(gateway_id)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Keeps a new code (by its digest) for `org`, valid until `expires_on`.
pub async fn create_code(
    pool: &AnyPool,
    code_sha256: &str,
    org_id: &str,
    created_by: i64,
    now: i64,
    expires_on: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO gateway_codes (code_sha256, org_id, created_by, created_on, expires_on) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(code_sha256)
    .bind(org_id)
    .bind(created_by)
    .bind(now)
    .bind(expires_on)
    .execute(pool)
    .await?;
    Ok(())
}

/// A registration code as it can be shown after it was made: never the code itself (only
/// its digest is kept), but who made it, until when it is valid and whether it was used.
#[derive(Debug, Clone)]
pub struct Code {
    pub id: i64,
    /// The maker's email.
    pub created_by: Option<String>,
    pub created_on: i64,
    pub expires_on: i64,
    pub used_on: Option<i64>,
}

/// One page of an org's codes, newest first, and the total.
pub async fn codes_of_org(
    pool: &AnyPool,
    org_id: &str,
    window: (i64, i64),
) -> Result<(i64, Vec<Code>), sqlx::Error> {
    let mut w = super::filter::Where::default();
    w.text("c.org_id = ?", org_id);
    let (count, rows) = super::filter::page(
        pool,
        "c.id, u.email AS created_by, c.created_on, c.expires_on, c.used_on",
        "gateway_codes c LEFT JOIN users u ON u.id = c.created_by",
        &w,
        "c.created_on DESC, c.id DESC",
        window,
    )
    .await?;
    let codes = rows
        .iter()
        .map(|r| {
            Ok(Code {
                id: r.try_get("id")?,
                created_by: r.try_get("created_by")?,
                created_on: r.try_get("created_on")?,
                expires_on: r.try_get("expires_on")?,
                used_on: r.try_get("used_on")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((count, codes))
}

/// Why a registration was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the code is unknown, used or expired")]
    BadCode,
    #[error("this key is already registered")]
    KeyTaken,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Spends a valid code and records the gateway under the code's org, in one transaction.
pub async fn register(
    pool: &AnyPool,
    code_sha256: &str,
    key_id: &str,
    name: &str,
    now: i64,
) -> Result<Gateway, RegisterError> {
    let mut tx = pool.begin().await?;
    // Spending first takes the write lock (SQLite) or the row (PostgreSQL): a code is used once.
    let row = sqlx::query(
        "UPDATE gateway_codes SET used_on = $1 \
         WHERE code_sha256 = $2 AND used_on IS NULL AND expires_on > $1 \
         RETURNING org_id, created_by",
    )
    .bind(now)
    .bind(code_sha256)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(RegisterError::BadCode)?;
    let org_id: String = row.try_get("org_id")?;
    let created_by: i64 = row.try_get("created_by")?;
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM gateways WHERE key_id = $1")
        .bind(key_id)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(RegisterError::KeyTaken);
    }
    let sql = format!(
        "INSERT INTO gateways (key_id, org_id, name, created_by, created_on) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    let gateway = sqlx::query(&sql)
        .bind(key_id)
        .bind(&org_id)
        .bind(name)
        .bind(created_by)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let gateway = from_row(&gateway)?;
    tx.commit().await?;
    Ok(gateway)
}

pub async fn by_key_id(pool: &AnyPool, key_id: &str) -> Result<Option<Gateway>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM gateways WHERE key_id = $1");
    sqlx::query(&sql)
        .bind(key_id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The gateways of the given orgs, oldest first.
pub async fn of_orgs(pool: &AnyPool, org_ids: &[String]) -> Result<Vec<Gateway>, sqlx::Error> {
    if org_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (1..=org_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM gateways WHERE org_id IN ({}) ORDER BY id",
        list.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in org_ids {
        query = query.bind(id);
    }
    query.fetch_all(pool).await?.iter().map(from_row).collect()
}

/// Revokes a gateway; false when it was revoked already.
pub async fn revoke(pool: &AnyPool, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE gateways SET revoked_on = $1 WHERE id = $2 AND revoked_on IS NULL")
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Remembers a request's nonce and the gateway's last contact; false when the nonce was
/// seen before (a replay). Nonces older than `forget_before` are pruned on the way.
pub async fn remember_nonce(
    pool: &AnyPool,
    gateway_id: i64,
    key_id: &str,
    nonce: &str,
    now: i64,
    forget_before: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM gateway_nonces WHERE seen < $1")
        .bind(forget_before)
        .execute(&mut *tx)
        .await?;
    let fresh = sqlx::query(
        "INSERT INTO gateway_nonces (key_id, nonce, seen) VALUES ($1, $2, $3) \
         ON CONFLICT (key_id, nonce) DO NOTHING",
    )
    .bind(key_id)
    .bind(nonce)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    sqlx::query("UPDATE gateways SET last_seen = $1 WHERE id = $2")
        .bind(now)
        .bind(gateway_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(fresh)
}
