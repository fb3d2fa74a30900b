//! Accounts and revoked tokens.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::flag;

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub slug: String,
    pub name: String,
    pub tagline: String,
    pub password_hash: String,
    pub api_token: String,
    pub is_staff: bool,
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating an account needs.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub api_token: &'a str,
    pub is_staff: bool,
    pub is_active: bool,
}

const COLUMNS: &str = "id, username, email, slug, name, tagline, password_hash, api_token, \
                       is_staff, is_active, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        tagline: row.try_get("tagline")?,
        password_hash: row.try_get("password_hash")?,
        api_token: row.try_get("api_token")?,
        is_staff: flag(row, "is_staff")?,
        is_active: flag(row, "is_active")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn one(pool: &AnyPool, filter: &str, value: &str) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE {filter} = $1");
    sqlx::query(&sql)
        .bind(value)
        .fetch_optional(pool)
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

/// The user of a JWT and whether the token's id is revoked, in one statement: the check
/// every JWT request makes. `None` when there is no such user.
pub async fn by_id_with_revocation(
    pool: &AnyPool,
    id: i64,
    jti: &str,
) -> Result<Option<(User, bool)>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, CAST(CASE WHEN EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1) \
         THEN 1 ELSE 0 END AS BIGINT) AS revoked FROM users WHERE id = $2"
    );
    let Some(row) = sqlx::query(&sql)
        .bind(jti)
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let revoked: i64 = row.try_get("revoked")?;
    Ok(Some((from_row(&row)?, revoked != 0)))
}

pub async fn by_email(pool: &AnyPool, email: &str) -> Result<Option<User>, sqlx::Error> {
    one(pool, "email", &email.to_lowercase()).await
}

pub async fn by_username(pool: &AnyPool, username: &str) -> Result<Option<User>, sqlx::Error> {
    one(pool, "username", username).await
}

pub async fn by_slug(pool: &AnyPool, slug: &str) -> Result<Option<User>, sqlx::Error> {
    one(pool, "slug", slug).await
}

pub async fn by_api_token(pool: &AnyPool, token: &str) -> Result<Option<User>, sqlx::Error> {
    one(pool, "api_token", token).await
}

/// Creates an account. The slug is the username slugified, with a number appended on clash.
pub async fn create(pool: &AnyPool, new: &NewUser<'_>, now: i64) -> Result<User, sqlx::Error> {
    let base = slugify(new.username);
    let mut slug = base.clone();
    let mut n = 1;
    while by_slug(pool, &slug).await?.is_some() {
        n += 1;
        slug = format!("{base}{n}");
    }
    let sql = format!(
        "INSERT INTO users (username, email, slug, name, password_hash, api_token, is_staff, \
         is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(new.username)
        .bind(new.email.to_lowercase())
        .bind(&slug)
        .bind(new.name)
        .bind(new.password_hash)
        .bind(new.api_token)
        .bind(new.is_staff as i64)
        .bind(new.is_active as i64)
        .bind(now)
        .fetch_one(pool)
        .await?;
    from_row(&row)
}

pub async fn set_password(
    pool: &AnyPool,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_staff(pool: &AnyPool, id: i64, staff: bool) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET is_staff = $1 WHERE id = $2")
        .bind(staff as i64)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Enables or disables an account; a disabled account's tokens stop working at once, since
/// every request checks the flag.
pub async fn set_active(
    pool: &AnyPool,
    id: i64,
    active: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET is_active = $1, updated_at = $2 WHERE id = $3")
        .bind(active as i64)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Updates the profile fields a user may change on their own account.
pub async fn update_profile(
    pool: &AnyPool,
    id: i64,
    name: &str,
    tagline: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET name = $1, tagline = $2, updated_at = $3 WHERE id = $4")
        .bind(name)
        .bind(tagline)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// One page of all accounts, by username, and the total.
pub async fn list(
    pool: &AnyPool,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<User>), sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?;
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY username LIMIT $1 OFFSET $2");
    let rows = sqlx::query(&sql)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// The columns an account list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    Username,
    Email,
    Name,
    Joined,
}

impl UserSort {
    fn sql(self, descending: bool) -> String {
        let column = match self {
            UserSort::Username => "username",
            UserSort::Email => "email",
            UserSort::Name => "name",
            UserSort::Joined => "created_at",
        };
        let dir = if descending { " DESC" } else { "" };
        format!("{column}{dir}, id{dir}")
    }
}

/// One page of the accounts whose username, email or name contains `search` (any case), in
/// a chosen order (`(column, descending)`), and the total.
pub async fn find(
    pool: &AnyPool,
    search: Option<&str>,
    (sort, descending): (UserSort, bool),
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<User>), sqlx::Error> {
    let pattern = search
        .map(|s| format!("%{}%", super::like_escape(&s.to_lowercase())))
        .unwrap_or_default();
    let matching = "($1 = '' OR LOWER(username) LIKE $1 ESCAPE '\\' \
                    OR LOWER(email) LIKE $1 ESCAPE '\\' OR LOWER(name) LIKE $1 ESCAPE '\\')";
    let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM users WHERE {matching}"))
        .bind(&pattern)
        .fetch_one(pool)
        .await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE {matching} ORDER BY {} LIMIT $2 OFFSET $3",
        sort.sql(descending)
    );
    let rows = sqlx::query(&sql)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

pub async fn revoke_token(
    pool: &AnyPool,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn is_revoked(pool: &AnyPool, jti: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT expires_at FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(pool)
            .await?;
    Ok(found.is_some())
}

/// Django's slugify: ASCII letters, digits, `_` and `-`, lower case, spaces to dashes.
pub fn slugify(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c.to_ascii_lowercase());
        } else if c.is_whitespace() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugify_like_django() {
        assert_eq!(super::slugify("Arch Systems, Inc."), "arch-systems-inc");
        assert_eq!(super::slugify("  Water  Meter v2 "), "water-meter-v2");
        assert_eq!(super::slugify("joe_b"), "joe_b");
    }
}
