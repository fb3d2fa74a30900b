//! An org's members: adding one, changing a member's role, removing one. The rules are
//! written once, here, for the API (`POST /org/{slug}/register/`) and the org page alike:
//!
//! - every change needs `can_manage_users` in the org;
//! - ownership (`a0`) is granted or taken away only by an owner (or staff), so an admin can
//!   neither raise themself to owner nor demote the owner;
//! - an org keeps at least one active owner (checked by the store in the same transaction
//!   as the change).
//!
//! Callers find the org first (`org::visible`), so an org the caller cannot see is 404
//! before any rule here runs.

use axum::http::StatusCode;

use super::error::{ApiError, ApiResult};
use crate::auth::perms::{self, perm};
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::is_unique_violation;
use crate::store::orgs::{self, MemberChange, Membership, Org, OWNER};
use crate::store::users::{self, User};
use crate::time::now_micros;

/// Roles that can be given to a new member (ownership is only had by creating the org, or
/// from an owner later).
pub const GRANTABLE: &[&str] = &["a1", "m1", "r1", "d1"];

const LAST_OWNER: &str = "An org must keep at least one owner: make another member owner first.";

/// How a new member is named: by account slug (the API) or by email (the org page). A name
/// that matches no account is refused on the field it came in.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Slug(&'a str),
    Email(&'a str),
}

/// Whether the caller may add, change and remove members of the org.
pub fn manages(caller: &Caller, org_id: &str) -> bool {
    caller.can(org_id, perm::MANAGE_USERS)
}

/// Whether the caller holds the org's ownership (or is staff): only they touch owners.
pub fn owns(caller: &Caller, org_id: &str) -> bool {
    caller.is_staff() || caller.membership(org_id).is_some_and(|m| m.role == OWNER)
}

/// The roles the caller may give a member who now has `current` (none when the caller may
/// not change that member at all).
pub fn roles_for(caller: &Caller, org_id: &str, current: &str) -> Vec<&'static str> {
    perms::ROLES
        .iter()
        .map(|(role, _)| *role)
        .filter(|role| may_change(caller, org_id, current, Some(role)).is_ok())
        .collect()
}

/// Whether the caller may remove a member who has role `current`.
pub fn may_remove(caller: &Caller, org_id: &str, current: &str) -> bool {
    may_change(caller, org_id, current, None).is_ok()
}

/// Adds `who` to the org with `role` (one of [`GRANTABLE`]).
pub async fn register(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    who: Who<'_>,
    role: &str,
) -> ApiResult<(Membership, User)> {
    if !manages(caller, &org.id) {
        return Err(ApiError::no_permission());
    }
    if !GRANTABLE.contains(&role) {
        return Err(ApiError::field(
            "role",
            format!("\"{role}\" is not a valid choice."),
        ));
    }
    let pool = &state.db.meta;
    let user = match who {
        Who::Slug(slug) => users::by_slug(pool, slug)
            .await?
            .ok_or_else(|| ApiError::field("user", "No account with this slug."))?,
        Who::Email(email) => users::by_email(pool, email.trim())
            .await?
            .ok_or_else(|| ApiError::field("email", "No account with this email."))?,
    };
    let exists = || ApiError::error_body(StatusCode::BAD_REQUEST, "Member already exists");
    if orgs::membership(pool, user.id, &org.id).await?.is_some() {
        return Err(exists());
    }
    match orgs::add_member(pool, user.id, &org.id, role, now_micros()).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => return Err(exists()),
        Err(e) => return Err(e.into()),
    }
    let m = orgs::membership(pool, user.id, &org.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((m, user))
}

/// A member of the org by account slug, with the account; 404 when there is none.
pub async fn member(state: &AppState, org: &Org, user_slug: &str) -> ApiResult<(Membership, User)> {
    let pool = &state.db.meta;
    let user = users::by_slug(pool, user_slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    let m = orgs::membership(pool, user.id, &org.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((m, user))
}

/// Checks that the caller may change a member who has role `current`, towards `next`
/// (`None` for a removal).
fn may_change(caller: &Caller, org_id: &str, current: &str, next: Option<&str>) -> ApiResult<()> {
    if !manages(caller, org_id) {
        return Err(ApiError::no_permission());
    }
    let touches_owner = current == OWNER || next == Some(OWNER);
    if touches_owner && !owns(caller, org_id) {
        return Err(ApiError::Forbidden(
            "Only an owner can grant or take away ownership.".into(),
        ));
    }
    Ok(())
}

/// Gives the member `user_slug` the role `role` (any role, ownership only from an owner).
pub async fn set_role(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    user_slug: &str,
    role: &str,
) -> ApiResult<Membership> {
    if !manages(caller, &org.id) {
        return Err(ApiError::no_permission());
    }
    let (current, user) = member(state, org, user_slug).await?;
    if perms::role_name(role).is_none() {
        return Err(ApiError::field(
            "role",
            format!("\"{role}\" is not a valid choice."),
        ));
    }
    may_change(caller, &org.id, &current.role, Some(role))?;
    let pool = &state.db.meta;
    match orgs::set_role(pool, user.id, &org.id, role).await? {
        MemberChange::Done => {}
        MemberChange::NotMember => return Err(ApiError::NotFound),
        MemberChange::LastOwner => return Err(ApiError::field("role", LAST_OWNER)),
    }
    orgs::membership(pool, user.id, &org.id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Ends the membership of `user_slug` (oneself included, unless one is the last owner).
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    user_slug: &str,
) -> ApiResult<User> {
    if !manages(caller, &org.id) {
        return Err(ApiError::no_permission());
    }
    let (current, user) = member(state, org, user_slug).await?;
    may_change(caller, &org.id, &current.role, None)?;
    match orgs::remove_member(&state.db.meta, user.id, &org.id).await? {
        MemberChange::Done => Ok(user),
        MemberChange::NotMember => Err(ApiError::NotFound),
        MemberChange::LastOwner => Err(ApiError::error_body(StatusCode::BAD_REQUEST, LAST_OWNER)),
    }
}
