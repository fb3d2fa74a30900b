//! Staff changes to other people's accounts: disabling or enabling an account, and giving
//! or taking away the staff flag. The rules are written once, here, for the staff pages now
//! and an API endpoint later (a staff `PATCH /account/{slug}/`):
//!
//! - only staff change these flags; to anyone else the account is not there (404), as the
//!   account API answers for other people's accounts;
//! - never on one's own account, so the last staff member cannot lock everyone out by
//!   mistake, and nobody disables the session they are using.

use super::error::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::users::{self, User};
use crate::time::now_micros;

/// A flag staff can set on an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// May sign in and use tokens.
    Active,
    /// Passes every org's checks.
    Staff,
}

/// Whether the caller may change flags of the account `target`.
pub fn may_change(caller: &Caller, target: &User) -> bool {
    caller.is_staff() && caller.user.id != target.id
}

/// The account behind `slug`, for staff; 404 for anyone else or an unknown slug.
pub async fn account(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<User> {
    if !caller.is_staff() {
        return Err(ApiError::NotFound);
    }
    users::by_slug(&state.db.meta, slug)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Sets `flag` to `on` on the account `slug`; returns the account as it now is.
pub async fn set_flag(
    state: &AppState,
    caller: &Caller,
    slug: &str,
    flag: Flag,
    on: bool,
) -> ApiResult<User> {
    let target = account(state, caller, slug).await?;
    if !may_change(caller, &target) {
        return Err(ApiError::Forbidden(
            "Staff cannot change these flags on their own account.".into(),
        ));
    }
    let pool = &state.db.meta;
    match flag {
        Flag::Active => users::set_active(pool, target.id, on, now_micros()).await?,
        Flag::Staff => users::set_staff(pool, target.id, on).await?,
    }
    users::by_id(pool, target.id)
        .await?
        .ok_or(ApiError::NotFound)
}
