//! Deployment actions (`deployment_actions`): what an agent reported for one device, and
//! whether the device's own version streams confirmed it.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

use super::filter::{page, Arg, Where};
use super::flag;
use crate::ota::tally::Attempt;

#[derive(Debug, Clone)]
pub struct Action {
    pub id: i64,
    pub deployment_id: i64,
    pub device_id: i64,
    pub device_slug: String,
    pub created_on: i64,
    pub last_attempt_on: Option<i64>,
    pub attempt_successful: bool,
    pub device_confirmation: bool,
    pub log: Option<String>,
}

impl Action {
    pub fn attempt(&self) -> Attempt {
        Attempt {
            id: self.id,
            device_id: self.device_id,
            created_on: self.created_on,
            last_attempt_on: self.last_attempt_on,
            successful: self.attempt_successful,
            confirmed: self.device_confirmation,
        }
    }
}

const COLUMNS: &str = "a.id, a.deployment_id, a.device_id, d.slug AS device_slug, a.created_on, \
    a.last_attempt_on, a.attempt_successful, a.device_confirmation, a.log";
const FROM: &str = "deployment_actions a JOIN devices d ON d.id = a.device_id";

fn from_row(row: &AnyRow) -> Result<Action, sqlx::Error> {
    Ok(Action {
        id: row.try_get("id")?,
        deployment_id: row.try_get("deployment_id")?,
        device_id: row.try_get("device_id")?,
        device_slug: row.try_get("device_slug")?,
        created_on: row.try_get("created_on")?,
        last_attempt_on: row.try_get("last_attempt_on")?,
        attempt_successful: flag(row, "attempt_successful")?,
        device_confirmation: flag(row, "device_confirmation")?,
        log: row.try_get("log")?,
    })
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: i64,
) -> Result<Option<Action>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE a.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// An action to record.
#[derive(Debug, Clone)]
pub struct NewAction<'a> {
    pub deployment_id: i64,
    pub device_id: i64,
    pub last_attempt_on: Option<i64>,
    pub attempt_successful: bool,
    pub device_confirmation: bool,
    pub log: Option<&'a str>,
}

/// Records an action; returns its id.
pub async fn create(
    conn: &mut AnyConnection,
    new: &NewAction<'_>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO deployment_actions (deployment_id, device_id, created_on, last_attempt_on, \
         attempt_successful, device_confirmation, log) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id",
    )
    .bind(new.deployment_id)
    .bind(new.device_id)
    .bind(now)
    .bind(new.last_attempt_on)
    .bind(new.attempt_successful as i64)
    .bind(new.device_confirmation as i64)
    .bind(new.log)
    .fetch_one(conn)
    .await?;
    row.try_get(0)
}

/// Which actions a list shows.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Orgs whose devices' or deployments' actions show; `None` for every org (staff).
    pub orgs: Option<Vec<String>>,
    pub device_id: Option<i64>,
    pub deployment_id: Option<i64>,
}

/// One page of actions by deployment, device and creation, and the total.
pub async fn list(
    pool: &AnyPool,
    f: &Filter,
    window: (i64, i64),
) -> Result<(i64, Vec<Action>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(orgs) = &f.orgs {
        if orgs.is_empty() {
            w.never();
        } else {
            let marks = vec!["?"; orgs.len()].join(", ");
            let args = orgs.iter().chain(orgs).cloned().map(Arg::Text);
            w.push(
                &format!(
                    "(d.org_id IN ({marks}) OR a.deployment_id IN \
                     (SELECT id FROM deployment_requests WHERE org_id IN ({marks})))"
                ),
                args,
            );
        }
    }
    if let Some(device) = f.device_id {
        w.int("a.device_id = ?", device);
    }
    if let Some(deployment) = f.deployment_id {
        w.int("a.deployment_id = ?", deployment);
    }
    let order = "a.deployment_id, a.device_id, a.created_on, a.id";
    let (count, rows) = page(pool, COLUMNS, FROM, &w, order, window).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// A device's actions by attempt time (unknown times last), then id.
pub async fn of_device(pool: &AnyPool, device_id: i64) -> Result<Vec<Action>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE a.device_id = $1 ORDER BY \
         CASE WHEN a.last_attempt_on IS NULL THEN 1 ELSE 0 END, a.last_attempt_on, a.id"
    );
    let rows = sqlx::query(&sql).bind(device_id).fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

/// What a deployment's actions say, for counting.
pub async fn attempts<'e, E: Executor<'e, Database = Any>>(
    db: E,
    deployment_id: i64,
) -> Result<Vec<Attempt>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE a.deployment_id = $1 ORDER BY a.id");
    let rows = sqlx::query(&sql).bind(deployment_id).fetch_all(db).await?;
    rows.iter()
        .map(|r| from_row(r).map(|a| a.attempt()))
        .collect()
}

/// The writable fields of an action, all set at once (the caller merges the patch).
#[derive(Debug, Clone)]
pub struct Changes {
    pub last_attempt_on: Option<i64>,
    pub attempt_successful: bool,
    pub device_confirmation: bool,
    pub log: Option<String>,
}

pub async fn update(pool: &AnyPool, id: i64, c: &Changes) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE deployment_actions SET last_attempt_on = $1, attempt_successful = $2, \
         device_confirmation = $3, log = $4 WHERE id = $5",
    )
    .bind(c.last_attempt_on)
    .bind(c.attempt_successful as i64)
    .bind(c.device_confirmation as i64)
    .bind(&c.log)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM deployment_actions WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The device's latest successful, unconfirmed action (by attempt time, then id).
pub async fn latest_unconfirmed_success(
    conn: &mut AnyConnection,
    device_id: i64,
) -> Result<Option<Action>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE a.device_id = $1 AND a.attempt_successful = 1 \
         AND a.device_confirmation = 0 ORDER BY \
         CASE WHEN a.last_attempt_on IS NULL THEN 0 ELSE 1 END DESC, a.last_attempt_on DESC, \
         a.id DESC LIMIT 1"
    );
    sqlx::query(&sql)
        .bind(device_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Marks an action confirmed and sets its log.
pub async fn confirm(conn: &mut AnyConnection, id: i64, log: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE deployment_actions SET device_confirmation = 1, log = $1 WHERE id = $2")
        .bind(log)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
