//! Device scripts (`device_scripts`): the `.trub` files an org releases for OTA, their
//! version, where their bytes are in the object store, and their release signature.
//!
//! The bytes of a released script never change: every write of the file or of the release
//! state is conditional on the row as it was checked (`released = 0`, the same SHA-256, the
//! same signature), so a race between two requests cannot release a file that was not the
//! one verified.
//!
//! This module is the one reader of the table: the script API, deployments and the gateway
//! feed all take a [`DeviceScript`] from [`by_slug`] or [`by_id`], with its [`ScriptFile`]
//! (`script_files::read` reads the bytes and checks their SHA-256), its [`ScriptTarget`] and
//! its parsed [`ReleaseSignature`]; `store::release_keys::trusted` gives the keys to verify
//! it with.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use sync_protocol::ids::ScriptSlug;
use sync_protocol::ota::release::{ReleaseError, ReleaseSignature, ScriptTarget};

use super::filter::{page, Where};
use super::flag;

/// One device script.
#[derive(Debug, Clone)]
pub struct DeviceScript {
    /// The number inside the z-- slug (`gid` on the API).
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
    pub released_on: Option<i64>,
    pub file: Option<ScriptFile>,
    /// The release signature as stored (JSON); see [`DeviceScript::signature`].
    pub signature_json: Option<String>,
    pub created_on: i64,
    /// The creator's user slug.
    pub created_by: Option<String>,
}

/// Where a script's bytes are and what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFile {
    /// The object-store key.
    pub key: String,
    pub name: String,
    pub size: i64,
    /// 64 lower-case hex digits.
    pub sha256: String,
}

impl DeviceScript {
    /// `vX.Y.Z`.
    pub fn version(&self) -> String {
        format!("v{}.{}.{}", self.major, self.minor, self.patch)
    }

    /// What a release signature of this script must be for: org slug, name, version.
    pub fn target(&self) -> Result<ScriptTarget, ReleaseError> {
        ScriptTarget::new(&self.org_slug, &self.name, &self.version())
    }

    /// The stored release signature, if any. Only signatures that verified are stored, so a
    /// row that does not parse is treated as unsigned.
    pub fn signature(&self) -> Option<ReleaseSignature> {
        self.signature_json
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
    }
}

const COLUMNS: &str = "s.id, s.slug, s.org_id, o.slug AS org_slug, o.is_vendor, s.name, \
     s.major, s.minor, s.patch, s.released, s.released_on, s.file_key, s.file_name, \
     s.file_size, s.file_sha256, s.signature, s.created_on, u.slug AS created_by";
const FROM: &str =
    "device_scripts s JOIN orgs o ON o.id = s.org_id LEFT JOIN users u ON u.id = s.created_by";

fn from_row(row: &AnyRow) -> Result<DeviceScript, sqlx::Error> {
    let key: Option<String> = row.try_get("file_key")?;
    let file = match key {
        Some(key) => Some(ScriptFile {
            key,
            name: row
                .try_get::<Option<String>, _>("file_name")?
                .unwrap_or_default(),
            size: row.try_get::<Option<i64>, _>("file_size")?.unwrap_or(0),
            sha256: row
                .try_get::<Option<String>, _>("file_sha256")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(DeviceScript {
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
        released_on: row.try_get("released_on")?,
        file,
        signature_json: row.try_get("signature")?,
        created_on: row.try_get("created_on")?,
        created_by: row.try_get("created_by")?,
    })
}

/// The script with this id (the number in its slug).
pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<DeviceScript>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// The script a z-- slug names. Callers check who may see it.
pub async fn by_slug(
    pool: &AnyPool,
    slug: ScriptSlug,
) -> Result<Option<DeviceScript>, sqlx::Error> {
    by_id(pool, i64::from(slug.get())).await
}

/// A version filter: major, then optionally minor, then optionally patch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionPrefix {
    pub major: i64,
    pub minor: Option<i64>,
    pub patch: Option<i64>,
}

/// Which scripts a list shows.
#[derive(Debug, Default)]
pub struct Filter {
    /// The caller's orgs; `None` for every org (staff).
    pub orgs: Option<Vec<String>>,
    pub org_slug: Option<String>,
    pub version: Option<VersionPrefix>,
}

/// One page of scripts by org, name and version, and the total.
pub async fn list(
    pool: &AnyPool,
    f: &Filter,
    window: (i64, i64),
) -> Result<(i64, Vec<DeviceScript>), sqlx::Error> {
    list_sorted(pool, f, None, window).await
}

/// The orders a script list may be sorted in, by name.
pub const SORTS: &[(&str, &str)] = &[
    ("name", "s.name"),
    ("version", "s.major, s.minor, s.patch"),
    ("created", "s.created_on"),
    ("released", "s.released"),
];

/// [`list`] in a chosen order (the default one when `sort` is `None`).
pub async fn list_sorted(
    pool: &AnyPool,
    f: &Filter,
    sort: Option<(&str, bool)>,
    window: (i64, i64),
) -> Result<(i64, Vec<DeviceScript>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(orgs) = &f.orgs {
        w.any_of("s.org_id", orgs);
    }
    if let Some(slug) = &f.org_slug {
        w.text("o.slug = ?", slug.clone());
    }
    if let Some(v) = f.version {
        w.int("s.major = ?", v.major);
        if let Some(minor) = v.minor {
            w.int("s.minor = ?", minor);
        }
        if let Some(patch) = v.patch {
            w.int("s.patch = ?", patch);
        }
    }
    let order = super::filter::order_of(
        SORTS,
        sort,
        "o.slug, s.name, s.major, s.minor, s.patch, s.id",
        "s.id",
    );
    let (count, rows) = page(pool, COLUMNS, FROM, &w, &order, window).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

pub struct NewScript<'a> {
    pub org_id: &'a str,
    pub name: &'a str,
    pub major: i64,
    pub minor: i64,
    pub patch: i64,
    pub created_by: i64,
}

/// Creates a script with the next id. A creator that loses the id to a concurrent one tries
/// the next number; a duplicate (org, name, version) is returned as the unique violation.
pub async fn create(
    pool: &AnyPool,
    new: &NewScript<'_>,
    now: i64,
) -> Result<DeviceScript, sqlx::Error> {
    let mut attempt = 0;
    loop {
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM device_scripts")
            .fetch_one(pool)
            .await?;
        let id = u32::try_from(next)
            .map_err(|_| sqlx::Error::Protocol("device script ids are exhausted".into()))?;
        let slug = ScriptSlug::new(id).to_string();
        let result = sqlx::query(
            "INSERT INTO device_scripts (id, slug, org_id, name, major, minor, patch, created_on, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(next)
        .bind(&slug)
        .bind(new.org_id)
        .bind(new.name)
        .bind(new.major)
        .bind(new.minor)
        .bind(new.patch)
        .bind(now)
        .bind(new.created_by)
        .execute(pool)
        .await;
        match result {
            Ok(_) => return by_id(pool, next).await?.ok_or(sqlx::Error::RowNotFound),
            Err(e)
                if super::is_unique_violation(&e) && attempt < 10 && !exists(pool, new).await? =>
            {
                attempt += 1
            }
            Err(e) => return Err(e),
        }
    }
}

async fn exists(pool: &AnyPool, new: &NewScript<'_>) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM device_scripts \
         WHERE org_id = $1 AND name = $2 AND major = $3 AND minor = $4 AND patch = $5",
    )
    .bind(new.org_id)
    .bind(new.name)
    .bind(new.major)
    .bind(new.minor)
    .bind(new.patch)
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}

/// Renames a script that is not released; false when it was released meanwhile.
pub async fn rename(pool: &AnyPool, id: i64, name: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE device_scripts SET name = $1 WHERE id = $2 AND released = 0")
        .bind(name)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Attaches a file to a script that is not released; false when it was released meanwhile.
/// The signature is kept: releasing checks it against the new bytes and says they changed.
pub async fn set_file(pool: &AnyPool, id: i64, file: &ScriptFile) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE device_scripts SET file_key = $1, file_name = $2, file_size = $3, file_sha256 = $4 \
         WHERE id = $5 AND released = 0",
    )
    .bind(&file.key)
    .bind(&file.name)
    .bind(file.size)
    .bind(&file.sha256)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a verified signature, provided the file is still the one it was verified against;
/// false otherwise.
pub async fn set_signature(
    pool: &AnyPool,
    id: i64,
    verified_sha256: &str,
    signature_json: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE device_scripts SET signature = $1 WHERE id = $2 AND file_sha256 = $3")
            .bind(signature_json)
            .bind(id)
            .bind(verified_sha256)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases a script, provided its file and signature are still the ones that were checked
/// and it is not released yet; false otherwise.
pub async fn release(
    pool: &AnyPool,
    id: i64,
    checked_sha256: &str,
    checked_signature: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE device_scripts SET released = 1, released_on = $1 \
         WHERE id = $2 AND released = 0 AND file_sha256 = $3 AND COALESCE(signature, '') = $4",
    )
    .bind(now)
    .bind(id)
    .bind(checked_sha256)
    .bind(checked_signature.unwrap_or(""))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// Gone, with the object keys (file and uploads) that are now unreferenced.
    Done(Vec<String>),
    /// Kept: this many deployment requests name the script.
    InUse(i64),
}

/// Deletes a script and its upload records, unless a deployment request names it (checked
/// in the same transaction).
pub async fn delete(pool: &AnyPool, id: i64) -> Result<Deleted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let used: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deployment_requests WHERE script_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if used > 0 {
        return Ok(Deleted::InUse(used));
    }
    let mut keys: Vec<String> =
        sqlx::query_scalar("SELECT file_key FROM script_uploads WHERE script_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    let file: Option<Option<String>> =
        sqlx::query_scalar("SELECT file_key FROM device_scripts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    keys.extend(file.flatten());
    sqlx::query("DELETE FROM script_uploads WHERE script_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM device_scripts WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    keys.sort();
    keys.dedup();
    Ok(Deleted::Done(keys))
}
