//! What an org trusts to release scripts: its ed25519 release keys (`release_keys`, public
//! halves only) and whether it lets unsigned scripts be released (`org_ota_settings`).
//!
//! A key is never deleted, only revoked, so a refusal can still say "revoked" rather than
//! "unknown". [`trusted`] is the one place that says which keys count now; releasing a
//! script, storing a signature and the gateway feed all ask it.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use sync_protocol::ota::release::ReleasePublicKey;

use super::filter::{page, Where};
use super::flag;

#[derive(Debug, Clone)]
pub struct ReleaseKey {
    pub id: i64,
    pub org_id: String,
    pub org_slug: String,
    /// `rk--<64 hex>`.
    pub key_id: String,
    pub label: String,
    pub created_on: i64,
    /// The creator's user slug.
    pub created_by: Option<String>,
    pub revoked_on: Option<i64>,
}

/// An org's release trust as of now.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// The keys whose signatures count: the org's keys that are not revoked.
    pub keys: Vec<ReleasePublicKey>,
    /// The org's revoked keys with when they were revoked, to name them in refusals.
    pub revoked: Vec<(ReleasePublicKey, i64)>,
    /// Whether a script with no signature at all may be released.
    pub allow_unsigned: bool,
}

impl Trust {
    /// When `key` was revoked, if it is a revoked key of the org.
    pub fn revoked_on(&self, key: &ReleasePublicKey) -> Option<i64> {
        self.revoked
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, on)| *on)
    }
}

const COLUMNS: &str = "k.id, k.org_id, o.slug AS org_slug, k.key_id, k.label, k.created_on, \
     u.slug AS created_by, k.revoked_on";
const FROM: &str =
    "release_keys k JOIN orgs o ON o.id = k.org_id LEFT JOIN users u ON u.id = k.created_by";

fn from_row(row: &AnyRow) -> Result<ReleaseKey, sqlx::Error> {
    Ok(ReleaseKey {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        key_id: row.try_get("key_id")?,
        label: row.try_get("label")?,
        created_on: row.try_get("created_on")?,
        created_by: row.try_get("created_by")?,
        revoked_on: row.try_get("revoked_on")?,
    })
}

/// The org's current release keys (oldest first) and its `allow_unsigned` flag. Keys are
/// stored only after parsing, so a row that no longer parses is skipped rather than trusted.
pub async fn trusted(pool: &AnyPool, org_id: &str) -> Result<Trust, sqlx::Error> {
    let rows =
        sqlx::query("SELECT key_id, revoked_on FROM release_keys WHERE org_id = $1 ORDER BY id")
            .bind(org_id)
            .fetch_all(pool)
            .await?;
    let mut trust = Trust {
        allow_unsigned: settings(pool, org_id).await?.allow_unsigned,
        ..Trust::default()
    };
    for row in rows {
        let id: String = row.try_get("key_id")?;
        let key = match ReleasePublicKey::parse(&id) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(key = %id, error = %e, "unreadable release key left out");
                continue;
            }
        };
        match row.try_get::<Option<i64>, _>("revoked_on")? {
            None => trust.keys.push(key),
            Some(on) => trust.revoked.push((key, on)),
        }
    }
    Ok(trust)
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<ReleaseKey>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE k.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// Which keys a list shows.
#[derive(Debug, Default)]
pub struct Filter {
    /// The caller's orgs; `None` for every org (staff).
    pub orgs: Option<Vec<String>>,
    pub org_slug: Option<String>,
}

/// One page of keys by org and creation, and the total.
pub async fn list(
    pool: &AnyPool,
    f: &Filter,
    window: (i64, i64),
) -> Result<(i64, Vec<ReleaseKey>), sqlx::Error> {
    list_sorted(pool, f, None, window).await
}

/// The orders a release key list may be sorted in, by name.
pub const SORTS: &[(&str, &str)] = &[
    ("label", "k.label"),
    ("created", "k.created_on"),
    ("revoked", "k.revoked_on"),
];

/// [`list`] in a chosen order (the default one when `sort` is `None`).
pub async fn list_sorted(
    pool: &AnyPool,
    f: &Filter,
    sort: Option<(&str, bool)>,
    window: (i64, i64),
) -> Result<(i64, Vec<ReleaseKey>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(orgs) = &f.orgs {
        w.any_of("k.org_id", orgs);
    }
    if let Some(slug) = &f.org_slug {
        w.text("o.slug = ?", slug.clone());
    }
    let order = super::filter::order_of(SORTS, sort, "o.slug, k.id", "k.id");
    let (count, rows) = page(pool, COLUMNS, FROM, &w, &order, window).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// Adds a key to an org; a key the org already has (revoked or not) is a unique violation.
pub async fn add(
    pool: &AnyPool,
    org_id: &str,
    key: &ReleasePublicKey,
    label: &str,
    created_by: i64,
    now: i64,
) -> Result<ReleaseKey, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO release_keys (org_id, key_id, label, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(org_id)
    .bind(key.key_id())
    .bind(label)
    .bind(now)
    .bind(created_by)
    .fetch_one(pool)
    .await?;
    by_id(pool, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Revokes a key; revoking a revoked key changes nothing (the first date stays).
pub async fn revoke(pool: &AnyPool, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE release_keys SET revoked_on = $1 WHERE id = $2 AND revoked_on IS NULL")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// An org's OTA policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtaSettings {
    pub allow_unsigned: bool,
    /// When it was last changed; `None` for the defaults.
    pub updated_on: Option<i64>,
}

/// The org's OTA policy; the defaults (signatures required) when it never set one.
pub async fn settings(pool: &AnyPool, org_id: &str) -> Result<OtaSettings, sqlx::Error> {
    let row =
        sqlx::query("SELECT allow_unsigned, updated_on FROM org_ota_settings WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(pool)
            .await?;
    match row {
        None => Ok(OtaSettings::default()),
        Some(row) => Ok(OtaSettings {
            allow_unsigned: flag(&row, "allow_unsigned")?,
            updated_on: Some(row.try_get("updated_on")?),
        }),
    }
}

pub async fn set_allow_unsigned(
    pool: &AnyPool,
    org_id: &str,
    allow: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO org_ota_settings (org_id, allow_unsigned, updated_on) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id) DO UPDATE SET allow_unsigned = excluded.allow_unsigned, \
         updated_on = excluded.updated_on",
    )
    .bind(org_id)
    .bind(allow as i64)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}
