//! Deployment requests (`deployment_requests`): a script for a fleet or a whole org, with its
//! criteria, release and completion times, and its rollout state. State changes are
//! compare-and-set on the state they start from, so two requests deciding at once (a read
//! that notices a time-out, an action that halts) never undo each other.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

use super::filter::{page, Arg, Where};
use super::flag;
use crate::ota::rollout::Plan;
use crate::ota::State;

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: i64,
    pub script_id: i64,
    pub script_slug: String,
    pub org_id: String,
    pub org_slug: String,
    pub org_is_vendor: bool,
    pub fleet_id: Option<i64>,
    pub fleet_slug: Option<String>,
    /// Normalised criteria strings.
    pub criteria: Vec<String>,
    pub released_on: Option<i64>,
    pub completed_on: Option<i64>,
    pub rollout: Option<Plan>,
    pub state: State,
    pub state_reason: String,
    /// The last open wave (1-based), 0 while a draft.
    pub current_wave: i64,
    pub resumed_on: Option<i64>,
    pub created_on: i64,
}

const COLUMNS: &str = "r.id, r.script_id, z.slug AS script_slug, r.org_id, o.slug AS org_slug, \
    o.is_vendor, r.fleet_id, f.slug AS fleet_slug, r.selection_criteria, r.released_on, \
    r.completed_on, r.rollout, r.state, r.state_reason, r.current_wave, r.resumed_on, r.created_on";
const FROM: &str = "deployment_requests r JOIN device_scripts z ON z.id = r.script_id \
    JOIN orgs o ON o.id = r.org_id LEFT JOIN fleets f ON f.id = r.fleet_id";
/// The original's order: completed_on, released_on, id (nulls last, as PostgreSQL sorts).
const ORDER: &str = "CASE WHEN r.completed_on IS NULL THEN 1 ELSE 0 END, r.completed_on, \
    CASE WHEN r.released_on IS NULL THEN 1 ELSE 0 END, r.released_on, r.id";

fn from_row(row: &AnyRow) -> Result<Deployment, sqlx::Error> {
    let criteria: String = row.try_get("selection_criteria")?;
    let rollout: Option<String> = row.try_get("rollout")?;
    let state: String = row.try_get("state")?;
    Ok(Deployment {
        id: row.try_get("id")?,
        script_id: row.try_get("script_id")?,
        script_slug: row.try_get("script_slug")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        org_is_vendor: flag(row, "is_vendor")?,
        fleet_id: row.try_get("fleet_id")?,
        fleet_slug: row.try_get("fleet_slug")?,
        criteria: serde_json::from_str(&criteria).unwrap_or_default(),
        released_on: row.try_get("released_on")?,
        completed_on: row.try_get("completed_on")?,
        rollout: rollout.and_then(|r| serde_json::from_str(&r).ok()),
        state: State::parse(&state),
        state_reason: row.try_get("state_reason")?,
        current_wave: row.try_get("current_wave")?,
        resumed_on: row.try_get("resumed_on")?,
        created_on: row.try_get("created_on")?,
    })
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: i64,
) -> Result<Option<Deployment>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// `scope=` of the request list.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Requests without a fleet (for a whole org, or a vendor's every device).
    Global,
    Org(String),
    Fleet(String),
}

/// Which requests a list shows.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Orgs whose requests show, beside every vendor org's; `None` for every org (staff).
    pub visible: Option<Vec<String>>,
    pub fleet_slugs: Option<Vec<String>>,
    pub org_slugs: Option<Vec<String>>,
    pub scope: Option<Scope>,
    /// Drafts and completed requests too, not only the released, open ones.
    pub everything: bool,
    pub now: i64,
}

/// One page of requests in the original's order, and the total.
pub async fn list(
    pool: &AnyPool,
    f: &Filter,
    window: (i64, i64),
) -> Result<(i64, Vec<Deployment>), sqlx::Error> {
    list_sorted(pool, f, None, window).await
}

/// The orders a deployment list may be sorted in, by name.
pub const SORTS: &[(&str, &str)] = &[
    ("id", "r.id"),
    ("state", "r.state"),
    ("released", "r.released_on"),
    ("created", "r.created_on"),
];

/// [`list`] in a chosen order (the default one when `sort` is `None`).
pub async fn list_sorted(
    pool: &AnyPool,
    f: &Filter,
    sort: Option<(&str, bool)>,
    window: (i64, i64),
) -> Result<(i64, Vec<Deployment>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(orgs) = &f.visible {
        if orgs.is_empty() {
            w.push("o.is_vendor = 1", []);
        } else {
            let marks = vec!["?"; orgs.len()].join(", ");
            w.push(
                &format!("(r.org_id IN ({marks}) OR o.is_vendor = 1)"),
                orgs.iter().cloned().map(Arg::Text),
            );
        }
    }
    if let Some(fleets) = &f.fleet_slugs {
        w.any_of("f.slug", fleets);
    }
    if let Some(orgs) = &f.org_slugs {
        w.any_of("o.slug", orgs);
    }
    match &f.scope {
        Some(Scope::Global) => w.push("r.fleet_id IS NULL", []),
        Some(Scope::Org(slug)) => w.text("o.slug = ?", slug.clone()),
        Some(Scope::Fleet(slug)) => w.text("f.slug = ?", slug.clone()),
        None => {}
    }
    if !f.everything {
        w.int(
            "r.released_on IS NOT NULL AND r.released_on <= ? AND r.completed_on IS NULL",
            f.now,
        );
    }
    let order = super::filter::order_of(SORTS, sort, ORDER, "r.id");
    let (count, rows) = page(pool, COLUMNS, FROM, &w, &order, window).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// A request to create.
#[derive(Debug, Clone)]
pub struct NewDeployment<'a> {
    pub script_id: i64,
    pub org_id: &'a str,
    pub fleet_id: Option<i64>,
    pub criteria: &'a [String],
    pub rollout: Option<&'a Plan>,
    pub created_by: i64,
}

/// Creates a draft; returns its id.
pub async fn create(
    conn: &mut AnyConnection,
    new: &NewDeployment<'_>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let criteria = serde_json::to_string(new.criteria).unwrap_or_else(|_| "[]".into());
    let rollout = new.rollout.map(Plan::to_string);
    let row = sqlx::query(
        "INSERT INTO deployment_requests (script_id, org_id, fleet_id, selection_criteria, \
         rollout, state, created_on, created_by) VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7) \
         RETURNING id",
    )
    .bind(new.script_id)
    .bind(new.org_id)
    .bind(new.fleet_id)
    .bind(criteria)
    .bind(rollout)
    .bind(now)
    .bind(new.created_by)
    .fetch_one(conn)
    .await?;
    row.try_get(0)
}

/// Changes a draft's criteria and fleet; false when it is no longer a draft.
pub async fn update_draft(
    conn: &mut AnyConnection,
    id: i64,
    criteria: &[String],
    fleet_id: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let criteria = serde_json::to_string(criteria).unwrap_or_else(|_| "[]".into());
    let done = sqlx::query(
        "UPDATE deployment_requests SET selection_criteria = $1, fleet_id = $2 \
         WHERE id = $3 AND state = 'draft'",
    )
    .bind(criteria)
    .bind(fleet_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases a draft: running, wave 1 open. False when it was not a draft.
pub async fn release(
    conn: &mut AnyConnection,
    id: i64,
    released_on: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deployment_requests SET released_on = $1, state = 'running', current_wave = 1, \
         state_reason = '' WHERE id = $2 AND state = 'draft'",
    )
    .bind(released_on)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves the release time of a released request (its targets stay as they were frozen).
pub async fn set_released_on(
    conn: &mut AnyConnection,
    id: i64,
    released_on: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE deployment_requests SET released_on = $1 WHERE id = $2")
        .bind(released_on)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Completes a request that is in `from`; false when it was not.
pub async fn complete<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: i64,
    from: State,
    now: i64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deployment_requests SET state = 'completed', completed_on = $1, \
         state_reason = $2 WHERE id = $3 AND state = $4",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .bind(from.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Halts a running request; false when it was not running.
pub async fn halt<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: i64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deployment_requests SET state = 'halted', state_reason = $1 \
         WHERE id = $2 AND state = 'running'",
    )
    .bind(reason)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Resumes a halted request; false when it was not halted.
pub async fn resume<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deployment_requests SET state = 'running', state_reason = '', resumed_on = $1 \
         WHERE id = $2 AND state = 'halted'",
    )
    .bind(now)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Opens waves up to `to` on a running request whose last open wave is `from`.
pub async fn open_waves<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: i64,
    from: i64,
    to: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deployment_requests SET current_wave = $1 \
         WHERE id = $2 AND state = 'running' AND current_wave = $3",
    )
    .bind(to)
    .bind(id)
    .bind(from)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM deployment_requests WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The released, not completed requests that concern a device, oldest release first: those
/// of a fleet it is in, and those without a fleet of its org or of any vendor org (spec
/// 3.12). Halted ones are included; the caller decides what to offer.
pub async fn concerning_device<'e, E: Executor<'e, Database = Any>>(
    db: E,
    device_id: i64,
    device_org: Option<&str>,
    now: i64,
) -> Result<Vec<Deployment>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE r.released_on IS NOT NULL AND r.released_on <= $1 \
         AND r.completed_on IS NULL AND r.state IN ('running', 'halted') AND ( \
         r.fleet_id IN (SELECT fleet_id FROM fleet_members WHERE device_id = $2) \
         OR (r.fleet_id IS NULL AND (r.org_id = $3 OR o.is_vendor = 1))) \
         ORDER BY r.released_on, r.id"
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(device_id)
        .bind(device_org.unwrap_or(""))
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The running requests of an org whose release time has come, oldest release first.
pub async fn running_of_org(
    pool: &AnyPool,
    org_id: &str,
    now: i64,
) -> Result<Vec<Deployment>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE r.org_id = $1 AND r.state = 'running' \
         AND r.released_on IS NOT NULL AND r.released_on <= $2 AND r.completed_on IS NULL \
         ORDER BY r.released_on, r.id"
    );
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(now)
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Whether a released request of the org uses the script.
pub async fn org_deploys_script(
    pool: &AnyPool,
    org_id: &str,
    script_id: i64,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deployment_requests WHERE org_id = $1 AND script_id = $2 \
         AND released_on IS NOT NULL",
    )
    .bind(org_id)
    .bind(script_id)
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}
