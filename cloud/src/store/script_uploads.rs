//! Two-step script uploads (`script_uploads`): `uploadurl` records where the file is to be
//! put, the client posts it there, and `uploadsuccess` attaches it to the script. A record
//! is finished once; a second `uploadsuccess` for the same uuid is refused.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

#[derive(Debug, Clone)]
pub struct Upload {
    pub uuid: String,
    pub script_id: i64,
    pub file_key: String,
    pub file_name: String,
    pub created_on: i64,
    pub done_on: Option<i64>,
}

fn from_row(row: &AnyRow) -> Result<Upload, sqlx::Error> {
    Ok(Upload {
        uuid: row.try_get("uuid")?,
        script_id: row.try_get("script_id")?,
        file_key: row.try_get("file_key")?,
        file_name: row.try_get("file_name")?,
        created_on: row.try_get("created_on")?,
        done_on: row.try_get("done_on")?,
    })
}

pub async fn create(pool: &AnyPool, upload: &Upload, created_by: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO script_uploads (uuid, script_id, file_key, file_name, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&upload.uuid)
    .bind(upload.script_id)
    .bind(&upload.file_key)
    .bind(&upload.file_name)
    .bind(upload.created_on)
    .bind(created_by)
    .execute(pool)
    .await?;
    Ok(())
}

/// The upload with this uuid, for this script only.
pub async fn find(
    pool: &AnyPool,
    script_id: i64,
    uuid: &str,
) -> Result<Option<Upload>, sqlx::Error> {
    sqlx::query(
        "SELECT uuid, script_id, file_key, file_name, created_on, done_on FROM script_uploads \
         WHERE uuid = $1 AND script_id = $2",
    )
    .bind(uuid)
    .bind(script_id)
    .fetch_optional(pool)
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

/// Marks an upload finished; false when it already was.
pub async fn finish(pool: &AnyPool, uuid: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE script_uploads SET done_on = $1 WHERE uuid = $2 AND done_on IS NULL")
            .bind(now)
            .bind(uuid)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Points an unfinished upload at the object its file was just written to; false when the
/// upload was finished meanwhile (the object is then not referenced).
pub async fn set_key(pool: &AnyPool, uuid: &str, file_key: &str) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE script_uploads SET file_key = $1 WHERE uuid = $2 AND done_on IS NULL")
            .bind(file_key)
            .bind(uuid)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}
