//! Orgs and memberships.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor, Row};

use super::flag;

#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub about: String,
    pub ot: Option<String>,
    pub is_vendor: bool,
    pub created_on: i64,
    pub created_by: String, // the creator's user slug
}

#[derive(Debug, Clone)]
pub struct Membership {
    pub user_id: i64,
    pub org_id: String,
    pub role: String,
    pub permissions: BTreeMap<String, bool>,
    pub is_active: bool,
    pub is_org_admin: bool,
    pub created_on: i64,
}

const ORG_COLUMNS: &str = "o.id, o.name, o.slug, o.about, o.ot, o.is_vendor, o.created_on, \
                           u.slug AS created_by";
const ORG_FROM: &str = "orgs o JOIN users u ON u.id = o.created_by";

fn org_from_row(row: &AnyRow) -> Result<Org, sqlx::Error> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
        about: row.try_get("about")?,
        ot: row.try_get("ot")?,
        is_vendor: flag(row, "is_vendor")?,
        created_on: row.try_get("created_on")?,
        created_by: row.try_get("created_by")?,
    })
}

fn membership_from_row(row: &AnyRow) -> Result<Membership, sqlx::Error> {
    let permissions: String = row.try_get("permissions")?;
    Ok(Membership {
        user_id: row.try_get("user_id")?,
        org_id: row.try_get("org_id")?,
        role: row.try_get("role")?,
        permissions: serde_json::from_str(&permissions).unwrap_or_default(),
        is_active: flag(row, "is_active")?,
        is_org_admin: flag(row, "is_org_admin")?,
        created_on: row.try_get("created_on")?,
    })
}

/// Creates an org and makes its creator the owner, in one transaction.
pub async fn create(
    pool: &AnyPool,
    name: &str,
    slug: &str,
    about: &str,
    creator: i64,
    now: i64,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO orgs (id, name, slug, about, created_on, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(name)
    .bind(slug)
    .bind(about)
    .bind(now)
    .bind(creator)
    .execute(&mut *tx)
    .await?;
    add_member_tx(&mut tx, creator, &id, "a0", now).await?;
    tx.commit().await?;
    Ok(id)
}

async fn add_member_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    org_id: &str,
    role: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let permissions = serde_json::to_string(&crate::auth::perms::for_role(role))
        .expect("a map of strings to bools serializes");
    sqlx::query(
        "INSERT INTO memberships (user_id, org_id, role, permissions, is_active, is_org_admin, created_on) \
         VALUES ($1, $2, $3, $4, 1, $5, $6)",
    )
    .bind(user_id)
    .bind(org_id)
    .bind(role)
    .bind(permissions)
    .bind(crate::auth::perms::is_admin_role(role) as i64)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds a member with a role; fails with a unique violation when already a member.
pub async fn add_member(
    pool: &AnyPool,
    user_id: i64,
    org_id: &str,
    role: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    add_member_tx(&mut tx, user_id, org_id, role, now).await?;
    tx.commit().await
}

pub async fn by_slug(pool: &AnyPool, slug: &str) -> Result<Option<Org>, sqlx::Error> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM {ORG_FROM} WHERE o.slug = $1");
    sqlx::query(&sql)
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .map(|r| org_from_row(&r))
        .transpose()
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<Org>, sqlx::Error> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM {ORG_FROM} WHERE o.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| org_from_row(&r))
        .transpose()
}

/// Orgs visible to a user (all of them with `everything`), by name, optionally filtered on
/// a name substring; one page and the total.
/// Whether the org is a vendor (its scripts and fleet-less deployments reach devices of
/// every org, spec 6.1).
pub async fn is_vendor<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let vendor: Option<i64> = sqlx::query_scalar("SELECT is_vendor FROM orgs WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(vendor.unwrap_or(0) != 0)
}

pub async fn list(
    pool: &AnyPool,
    user_id: i64,
    everything: bool,
    search: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Org>), sqlx::Error> {
    let order = (OrgSort::Name, false);
    list_ordered(pool, user_id, everything, search, order, offset, limit).await
}

/// The columns an org list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgSort {
    Name,
    Slug,
    Created,
}

impl OrgSort {
    fn sql(self, descending: bool) -> &'static str {
        match (self, descending) {
            (OrgSort::Name, false) => "o.name, o.slug",
            (OrgSort::Name, true) => "o.name DESC, o.slug DESC",
            (OrgSort::Slug, false) => "o.slug",
            (OrgSort::Slug, true) => "o.slug DESC",
            (OrgSort::Created, false) => "o.created_on, o.slug",
            (OrgSort::Created, true) => "o.created_on DESC, o.slug DESC",
        }
    }
}

/// [`list`] in a chosen order (`(column, descending)`).
pub async fn list_ordered(
    pool: &AnyPool,
    user_id: i64,
    everything: bool,
    search: Option<&str>,
    (sort, descending): (OrgSort, bool),
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Org>), sqlx::Error> {
    let scope = "($1 = 1 OR o.id IN (SELECT org_id FROM memberships WHERE user_id = $2 AND is_active = 1)) \
                 AND ($3 = '' OR LOWER(o.name) LIKE $3 ESCAPE '\\')";
    let pattern = search
        .map(|s| format!("%{}%", super::like_escape(&s.to_lowercase())))
        .unwrap_or_default();
    let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM orgs o WHERE {scope}"))
        .bind(everything as i64)
        .bind(user_id)
        .bind(&pattern)
        .fetch_one(pool)
        .await?;
    let sql = format!(
        "SELECT {ORG_COLUMNS} FROM {ORG_FROM} WHERE {scope} ORDER BY {} LIMIT $4 OFFSET $5",
        sort.sql(descending)
    );
    let rows = sqlx::query(&sql)
        .bind(everything as i64)
        .bind(user_id)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    Ok((
        count,
        rows.iter().map(org_from_row).collect::<Result<_, _>>()?,
    ))
}

pub async fn update(pool: &AnyPool, id: &str, name: &str, about: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orgs SET name = $1, about = $2 WHERE id = $3")
        .bind(name)
        .bind(about)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete(pool: &AnyPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM orgs WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A user's active memberships.
pub async fn memberships_of(pool: &AnyPool, user_id: i64) -> Result<Vec<Membership>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM memberships WHERE user_id = $1 AND is_active = 1")
        .bind(user_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(membership_from_row).collect()
}

/// An org's members with their user records, by username.
pub async fn members(
    pool: &AnyPool,
    org_id: &str,
    include_inactive: bool,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<(Membership, super::users::User)>), sqlx::Error> {
    let order = (MemberSort::Username, false);
    members_ordered(pool, org_id, include_inactive, order, offset, limit).await
}

/// The columns a member list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberSort {
    Username,
    Name,
    Email,
    Role,
    Since,
}

impl MemberSort {
    fn sql(self, descending: bool) -> String {
        let column = match self {
            MemberSort::Username => "u.username",
            MemberSort::Name => "u.name",
            MemberSort::Email => "u.email",
            MemberSort::Role => "m.role",
            MemberSort::Since => "m.created_on",
        };
        let dir = if descending { " DESC" } else { "" };
        format!("{column}{dir}, u.username{dir}")
    }
}

/// [`members`] in a chosen order (`(column, descending)`).
pub async fn members_ordered(
    pool: &AnyPool,
    org_id: &str,
    include_inactive: bool,
    (sort, descending): (MemberSort, bool),
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<(Membership, super::users::User)>), sqlx::Error> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND ($2 = 1 OR is_active = 1)",
    )
    .bind(org_id)
    .bind(include_inactive as i64)
    .fetch_one(pool)
    .await?;
    let sql = format!(
        "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 AND ($2 = 1 OR m.is_active = 1) ORDER BY {} LIMIT $3 OFFSET $4",
        sort.sql(descending)
    );
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(include_inactive as i64)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let user_id: i64 = row.try_get("user_id")?;
        if let (Some(m), Some(u)) = (
            membership(pool, user_id, org_id).await?,
            super::users::by_id(pool, user_id).await?,
        ) {
            out.push((m, u));
        }
    }
    Ok((count, out))
}

pub async fn membership(
    pool: &AnyPool,
    user_id: i64,
    org_id: &str,
) -> Result<Option<Membership>, sqlx::Error> {
    sqlx::query("SELECT * FROM memberships WHERE user_id = $1 AND org_id = $2")
        .bind(user_id)
        .bind(org_id)
        .fetch_optional(pool)
        .await?
        .map(|r| membership_from_row(&r))
        .transpose()
}

/// The role that owns an org.
pub const OWNER: &str = "a0";

/// What a change to a membership met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    /// The user is not a member of the org.
    NotMember,
    /// The change would leave the org without an active owner; nothing was changed.
    LastOwner,
}

/// Gives a member a new role, with the permission map the role grants (the map a role sets
/// on joining is reset to the new role's).
pub async fn set_role(
    pool: &AnyPool,
    user_id: i64,
    org_id: &str,
    role: &str,
) -> Result<MemberChange, sqlx::Error> {
    change_member(pool, user_id, org_id, Some(role)).await
}

/// Ends a membership.
pub async fn remove_member(
    pool: &AnyPool,
    user_id: i64,
    org_id: &str,
) -> Result<MemberChange, sqlx::Error> {
    change_member(pool, user_id, org_id, None).await
}

/// A role change (`Some`) or a removal (`None`) that never leaves the org without an owner.
/// Touching the org row first serializes concurrent changes to one org on both backends (a
/// row lock on PostgreSQL, the write lock on SQLite), so two owners demoting each other at
/// once cannot both pass the check.
async fn change_member(
    pool: &AnyPool,
    user_id: i64,
    org_id: &str,
    role: Option<&str>,
) -> Result<MemberChange, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE orgs SET slug = slug WHERE id = $1")
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    let current = sqlx::query("SELECT * FROM memberships WHERE user_id = $1 AND org_id = $2")
        .bind(user_id)
        .bind(org_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| membership_from_row(&r))
        .transpose()?;
    let Some(current) = current else {
        return Ok(MemberChange::NotMember);
    };
    let stays_owner = role == Some(OWNER);
    if current.is_active && current.role == OWNER && !stays_owner {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships \
             WHERE org_id = $1 AND role = $2 AND is_active = 1 AND user_id <> $3",
        )
        .bind(org_id)
        .bind(OWNER)
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        if others == 0 {
            return Ok(MemberChange::LastOwner);
        }
    }
    match role {
        Some(role) => {
            let permissions = serde_json::to_string(&crate::auth::perms::for_role(role))
                .expect("a map of strings to bools serializes");
            sqlx::query(
                "UPDATE memberships SET role = $1, permissions = $2, is_org_admin = $3 \
                 WHERE user_id = $4 AND org_id = $5",
            )
            .bind(role)
            .bind(permissions)
            .bind(crate::auth::perms::is_admin_role(role) as i64)
            .bind(user_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND org_id = $2")
                .bind(user_id)
                .bind(org_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(MemberChange::Done)
}

/// Counts shown by `org/{slug}/extra/`.
pub async fn counts(
    pool: &AnyPool,
    org_id: &str,
) -> Result<BTreeMap<&'static str, i64>, sqlx::Error> {
    let mut out = BTreeMap::new();
    for (name, sql) in [
        (
            "projects",
            "SELECT COUNT(*) FROM projects WHERE org_id = $1",
        ),
        (
            "members",
            "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND is_active = 1",
        ),
        (
            "devices",
            "SELECT COUNT(*) FROM devices WHERE org_id = $1 AND active = 1",
        ),
    ] {
        out.insert(
            name,
            sqlx::query_scalar(sql).bind(org_id).fetch_one(pool).await?,
        );
    }
    for name in ["datablocks", "fleets", "networks", "reports"] {
        out.insert(name, 0);
    }
    Ok(out)
}

/// Projects and devices that still belong to an org (an org with any cannot be deleted).
pub async fn dependents(pool: &AnyPool, org_id: &str) -> Result<i64, sqlx::Error> {
    let projects: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(pool)
        .await?;
    let devices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(pool)
        .await?;
    Ok(projects + devices)
}
