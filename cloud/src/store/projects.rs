//! Projects: a named group of devices and variables inside an org, looked up by UUID in URLs
//! and by its sequential `gid` in `p--` slugs.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use sync_protocol::ids::ProjectSlug;

use super::filter::{page, Where};

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub gid: i64,
    pub name: String,
    pub org_id: String,
    pub org_slug: String,
    pub about: String,
    pub project_template: Option<String>,
    pub created_on: i64,
    /// The creator's user slug.
    pub created_by: String,
}

impl Project {
    /// The canonical `p--xxxx-xxxx` slug.
    pub fn slug(&self) -> ProjectSlug {
        ProjectSlug::new(u32::try_from(self.gid).unwrap_or(u32::MAX))
    }
}

/// Which orgs a query may see.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every org (staff with `?staff=1`).
    All,
    /// Only these org ids.
    Orgs(Vec<String>),
}

impl Scope {
    /// Restricts `column` (an org id) to the scope.
    pub(crate) fn restrict(&self, w: &mut Where, column: &str) {
        if let Scope::Orgs(ids) = self {
            w.any_of(column, ids);
        }
    }
}

const COLUMNS: &str = "p.id, p.gid, p.name, p.org_id, o.slug AS org_slug, p.about, \
                       p.project_template, p.created_on, u.slug AS created_by";
const FROM: &str = "projects p JOIN orgs o ON o.id = p.org_id JOIN users u ON u.id = p.created_by";

fn from_row(row: &AnyRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        id: row.try_get("id")?,
        gid: row.try_get("gid")?,
        name: row.try_get("name")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        about: row.try_get("about")?,
        project_template: row.try_get("project_template")?,
        created_on: row.try_get("created_on")?,
        created_by: row.try_get("created_by")?,
    })
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<Project>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE p.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

pub async fn by_slug(pool: &AnyPool, slug: ProjectSlug) -> Result<Option<Project>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE p.gid = $1");
    sqlx::query(&sql)
        .bind(i64::from(slug.get()))
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub org_slug: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// One page of the projects in scope, by org name then project name, and the total.
pub async fn list(
    pool: &AnyPool,
    scope: &Scope,
    filter: &Filter<'_>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Project>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(org) = filter.org_slug.filter(|s| !s.is_empty()) {
        w.text("o.slug = ?", org);
    }
    if let Some(name) = filter.name.filter(|s| !s.is_empty()) {
        w.text("p.name = ?", name);
    }
    scope.restrict(&mut w, "p.org_id");
    let order = "o.name, p.name, p.gid";
    let (count, rows) = page(pool, COLUMNS, FROM, &w, order, (offset, limit)).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// The columns a project list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectSort {
    Name,
    Created,
    Org,
}

/// What a search of projects asks for: an org, a name substring (any case), an order.
#[derive(Debug, Clone)]
pub struct Search<'a> {
    pub org_slug: Option<&'a str>,
    pub name_contains: Option<&'a str>,
    pub sort: ProjectSort,
    pub descending: bool,
}

/// One page of the projects in scope that match `search`, and the total.
pub async fn search(
    pool: &AnyPool,
    scope: &Scope,
    search: &Search<'_>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Project>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(org) = search.org_slug.filter(|s| !s.is_empty()) {
        w.text("o.slug = ?", org);
    }
    if let Some(name) = search.name_contains.filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", super::like_escape(&name.to_lowercase()));
        w.text("LOWER(p.name) LIKE ? ESCAPE '\\'", pattern);
    }
    scope.restrict(&mut w, "p.org_id");
    let dir = if search.descending { " DESC" } else { "" };
    let order = match search.sort {
        ProjectSort::Name => format!("p.name{dir}, p.gid{dir}"),
        ProjectSort::Created => format!("p.created_on{dir}, p.gid{dir}"),
        ProjectSort::Org => format!("o.name{dir}, p.name{dir}, p.gid{dir}"),
    };
    let (count, rows) = page(pool, COLUMNS, FROM, &w, &order, (offset, limit)).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// What creating a project needs.
pub struct NewProject<'a> {
    pub name: &'a str,
    pub org_id: &'a str,
    pub about: &'a str,
    pub project_template: &'a str,
    pub created_by: i64,
}

/// Creates a project with the next `gid` (one above the largest). The number is taken and
/// used in one statement; two creators racing on PostgreSQL meet the unique index, and the
/// loser tries again with the next number.
pub async fn create(
    pool: &AnyPool,
    new: &NewProject<'_>,
    now: i64,
) -> Result<Project, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut attempt = 0;
    loop {
        let result = sqlx::query(
            "INSERT INTO projects (id, gid, name, org_id, about, project_template, created_on, created_by) \
             SELECT $1, COALESCE(MAX(gid), 0) + 1, $2, $3, $4, $5, $6, $7 FROM projects",
        )
        .bind(&id)
        .bind(new.name)
        .bind(new.org_id)
        .bind(new.about)
        .bind(new.project_template)
        .bind(now)
        .bind(new.created_by)
        .execute(pool)
        .await;
        match result {
            Ok(_) => break,
            Err(e) if super::is_unique_violation(&e) && attempt < 10 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
    by_id(pool, &id).await?.ok_or(sqlx::Error::RowNotFound)
}

pub async fn update(
    pool: &AnyPool,
    id: &str,
    name: &str,
    about: &str,
    project_template: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projects SET name = $1, about = $2, project_template = $3 WHERE id = $4")
        .bind(name)
        .bind(about)
        .bind(project_template)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Devices still claimed into a project (a project with any cannot be deleted).
pub async fn claimed_devices(pool: &AnyPool, id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE project_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
}

/// Deletes a project; its variables and streams go with it.
pub async fn delete(pool: &AnyPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Counts shown by `project/{id}/extra/`.
pub async fn counts(pool: &AnyPool, id: &str) -> Result<BTreeMap<&'static str, i64>, sqlx::Error> {
    let mut out = BTreeMap::new();
    for (name, sql) in [
        (
            "active_devices",
            "SELECT COUNT(*) FROM devices WHERE project_id = $1 AND active = 1",
        ),
        (
            "inactive_devices",
            "SELECT COUNT(*) FROM devices WHERE project_id = $1 AND active = 0",
        ),
        (
            "variables",
            "SELECT COUNT(*) FROM variables WHERE project_id = $1",
        ),
        (
            "streams",
            "SELECT COUNT(*) FROM streams WHERE project_id = $1",
        ),
    ] {
        out.insert(
            name,
            sqlx::query_scalar(sql).bind(id).fetch_one(pool).await?,
        );
    }
    Ok(out)
}
