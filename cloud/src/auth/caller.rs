//! The `Caller` extractor: authenticates a request from its `Authorization` header (spec 1.1)
//! and carries the caller's org memberships, so handlers can scope every query.
//!
//! Schemes, matched case-insensitively: `jwt <user JWT>`, `token <static key>` and
//! `a-jwt <device JWT>`. A device token runs with the rights of the user who claimed the
//! device, restricted to that device (`Caller::device`). Cookies are ignored.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::tokens;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::orgs::Membership;
use crate::store::users::User;
use crate::store::{device_keys, orgs, users};
use crate::time::now_micros;

const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub memberships: Vec<Membership>,
    /// Set for device tokens: the only device the request may touch.
    pub device: Option<i64>,
    /// The user JWT the request came with, for logout.
    pub jwt: Option<tokens::UserClaims>,
    /// A staff user who asked for `?staff=1`.
    pub staff_mode: bool,
}

impl Caller {
    pub fn is_staff(&self) -> bool {
        self.user.is_staff
    }

    pub fn membership(&self, org_id: &str) -> Option<&Membership> {
        self.memberships
            .iter()
            .find(|m| m.org_id == org_id && m.is_active)
    }

    /// Whether the org's objects show in this caller's lists and lookups: a member's, or any
    /// org's for staff who asked with `?staff=1`.
    pub fn sees_org(&self, org_id: &str) -> bool {
        self.staff_mode || self.membership(org_id).is_some()
    }

    /// Staff, or an active member of the org.
    pub fn has_access(&self, org_id: &str) -> bool {
        self.is_staff() || self.membership(org_id).is_some()
    }

    /// Staff, or a member whose permission map grants `perm` in the org.
    pub fn can(&self, org_id: &str, perm: &str) -> bool {
        self.is_staff()
            || self
                .membership(org_id)
                .is_some_and(|m| m.permissions.get(perm).copied().unwrap_or(false))
    }

    /// The orgs the caller belongs to.
    pub fn org_ids(&self) -> Vec<String> {
        self.memberships
            .iter()
            .filter(|m| m.is_active)
            .map(|m| m.org_id.clone())
            .collect()
    }

    /// The orgs where the caller holds `perm`.
    pub fn org_ids_with(&self, perm: &str) -> Vec<String> {
        self.memberships
            .iter()
            .filter(|m| m.is_active && m.permissions.get(perm).copied().unwrap_or(false))
            .map(|m| m.org_id.clone())
            .collect()
    }

    /// Whether a device-token caller may touch this device (user tokens may touch any).
    pub fn may_touch_device(&self, device_id: i64) -> bool {
        self.device.is_none_or(|only| only == device_id)
    }
}

/// The caller when the request carries valid credentials, `None` otherwise.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated(NO_CREDENTIALS))?
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("Invalid Authorization header."))?;
        let mut caller = authenticate(header, state).await?;
        caller.staff_mode = caller.user.is_staff && staff_flag(parts.uri.query());
        Ok(caller)
    }
}

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<MaybeCaller, ApiError> {
        match Caller::from_request_parts(parts, state).await {
            Ok(caller) => Ok(MaybeCaller(Some(caller))),
            Err(ApiError::Internal(e)) => Err(ApiError::Internal(e)),
            Err(_) => Ok(MaybeCaller(None)),
        }
    }
}

/// The caller behind a user JWT held elsewhere than the `Authorization` header (the web
/// session cookie), checked exactly as the header's `jwt` scheme is.
pub(crate) async fn from_user_jwt(token: &str, state: &AppState) -> Result<Caller, ApiError> {
    if token.is_empty() || token.contains(' ') {
        return Err(ApiError::Unauthenticated("Invalid signature."));
    }
    authenticate(&format!("jwt {token}"), state).await
}

fn staff_flag(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| matches!(pair, "staff=1" | "staff=true" | "staff=True"))
    })
}

async fn authenticate(header: &str, state: &AppState) -> Result<Caller, ApiError> {
    let mut parts = header.split(' ');
    let (scheme, credential) = match (parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(c), None) if !c.is_empty() => (s.to_ascii_lowercase(), c),
        (Some(_), None, _) | (Some(_), Some(""), None) => {
            return Err(ApiError::Unauthenticated(
                "Invalid Authorization header. No credentials provided.",
            ))
        }
        _ => {
            return Err(ApiError::Unauthenticated(
                "Invalid Authorization header. Credentials string should not contain spaces.",
            ))
        }
    };
    let pool = &state.db.meta;
    let now = now_micros() / 1_000_000;
    let (user, device, jwt) = match scheme.as_str() {
        "jwt" => {
            let claims = state
                .tokens
                .verify(credential, now)
                .map_err(|e| ApiError::Unauthenticated(e.message()))?;
            // Revocation is checked before the user's existence, as before they shared
            // a statement: a revoked token of a deleted user is reported as revoked.
            let user = match users::by_id_with_revocation(pool, claims.user_id, &claims.jti).await?
            {
                Some((_, true)) => {
                    return Err(ApiError::Unauthenticated("Signature has been revoked."))
                }
                Some((user, false)) => user,
                None if users::is_revoked(pool, &claims.jti).await? => {
                    return Err(ApiError::Unauthenticated("Signature has been revoked."))
                }
                None => return Err(ApiError::Unauthenticated("Invalid signature.")),
            };
            (user, None, Some(claims))
        }
        "token" => {
            let user = users::by_api_token(pool, credential)
                .await?
                .ok_or(ApiError::Unauthenticated("Invalid token."))?;
            (user, None, None)
        }
        "a-jwt" => {
            let (user, device) = authenticate_device(credential, state).await?;
            (user, Some(device), None)
        }
        _ => return Err(ApiError::Unauthenticated(NO_CREDENTIALS)),
    };
    if !user.is_active {
        return Err(ApiError::Unauthenticated("User account is disabled."));
    }
    let memberships = orgs::memberships_of(pool, user.id).await?;
    Ok(Caller {
        user,
        memberships,
        device,
        jwt,
        staff_mode: false,
    })
}

/// Spec 1.4: find the device named in the token, verify with its secret, then require it
/// active, claimed and still in the project the token names.
async fn authenticate_device(token: &str, state: &AppState) -> Result<(User, i64), ApiError> {
    let invalid = ApiError::Unauthenticated(tokens::TokenError::Invalid.message());
    let slug = tokens::peek_device(token).ok_or(ApiError::Unauthenticated(
        tokens::TokenError::Invalid.message(),
    ))?;
    let pool = &state.db.meta;
    let device = device_keys::token_device(pool, &slug)
        .await?
        .ok_or(ApiError::Unauthenticated(
            tokens::TokenError::Invalid.message(),
        ))?;
    let secret = device.secret.as_deref().ok_or(ApiError::Unauthenticated(
        tokens::TokenError::Invalid.message(),
    ))?;
    let claims = tokens::verify_device_token(token, secret).map_err(|_| invalid)?;
    let claimer = match (
        device.active,
        device.claimed_by,
        device.project_id.as_deref(),
    ) {
        (true, Some(claimer), Some(project)) if project == claims.project => claimer,
        _ => {
            return Err(ApiError::Unauthenticated(
                "Device is not claimed or not active.",
            ))
        }
    };
    let user = users::by_id(pool, claimer)
        .await?
        .filter(|u| u.slug == claims.user)
        .ok_or(ApiError::Unauthenticated("Invalid signature."))?;
    Ok((user, device.id))
}
