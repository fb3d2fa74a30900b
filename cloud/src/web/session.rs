//! The web session: a user JWT in an HttpOnly cookie, checked on every request exactly as
//! the API checks the `jwt` scheme (signature, expiry, revocation, active account). Signing
//! out revokes the token. The API itself never reads cookies, so a page can never make the
//! browser spend the session on an API call.
//!
//! One-shot messages ("Project created.") ride in a second cookie from a redirect to the
//! page it leads to, which clears it.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use cookie::time;

use super::csrf;
use crate::auth::caller::{from_user_jwt, Caller};
use crate::auth::tokens::USER_TOKEN_LIFETIME_SECS;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::users::User;
use crate::time::now_micros;

pub const SESSION_COOKIE: &str = "iotile_session";
const FLASH_COOKIE: &str = "iotile_flash";
pub const ORG_COOKIE: &str = "iotile_org";

/// A signed-in person on a page: who they are (as the API sees them) and the form token
/// their pages carry.
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
    pub flash: Option<String>,
    /// The org last chosen in the switcher, as the browser remembers it.
    pub chosen_org: Option<String>,
}

impl Session {
    pub fn user(&self) -> &User {
        &self.caller.user
    }
}

/// Why a page could not find a session: the browser is sent to sign in, and back after.
pub struct SignInFirst {
    next: String,
}

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let target = format!("/login?next={}", urlencode(&self.next));
        // A stale cookie is cleared so the sign-in page does not loop on it.
        let jar = CookieJar::new().add(expired(SESSION_COOKIE));
        (jar, Redirect::to(&target)).into_response()
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Session, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let next = parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(SignInFirst { next }.into_response());
        };
        let mut caller = match from_user_jwt(&token, state).await {
            Ok(caller) => caller,
            Err(ApiError::Internal(e)) => return Err(ApiError::Internal(e).into_response()),
            Err(_) => return Err(SignInFirst { next }.into_response()),
        };
        // Staff see every org's pages, as the API's `?staff=1` lets them.
        caller.staff_mode = caller.user.is_staff;
        let Some(claims) = caller.jwt.clone() else {
            return Err(SignInFirst { next }.into_response());
        };
        let csrf = csrf::session_token(state, &claims.jti, claims.exp);
        let flash = jar.get(FLASH_COOKIE).map(|c| c.value().to_string());
        let chosen_org = jar.get(ORG_COOKIE).map(|c| c.value().to_string());
        Ok(Session {
            caller,
            csrf,
            flash,
            chosen_org,
        })
    }
}

impl OptionalFromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Session>, Response> {
        match <Session as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(session) => Ok(Some(session)),
            Err(response) if response.status() == StatusCode::INTERNAL_SERVER_ERROR => {
                Err(response)
            }
            Err(_) => Ok(None),
        }
    }
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so):
/// cookies are then marked `Secure`.
pub fn over_tls(headers: &HeaderMap) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    header("x-forwarded-proto") == "https" || header("forwarded").contains("proto=https")
}

/// The cookie that starts a session holding `jwt`.
pub fn session_cookie(jwt: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, jwt))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time::Duration::seconds(USER_TOKEN_LIFETIME_SECS))
        .build()
}

/// A cookie that deletes `name` in the browser.
pub fn expired(name: &'static str) -> Cookie<'static> {
    Cookie::build((name, ""))
        .path("/")
        .max_age(time::Duration::ZERO)
        .build()
}

/// A redirect that shows `message` on the page it leads to.
pub fn redirect_with(target: &str, message: impl Into<String>) -> Response {
    let flash = Cookie::build((FLASH_COOKIE, message.into()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .build();
    (CookieJar::new().add(flash), Redirect::to(target)).into_response()
}

/// Clears a shown message on the way out of the page that showed it.
pub fn clear_flash(session: &Session, mut response: Response) -> Response {
    if session.flash.is_some() && !response.status().is_redirection() {
        let jar = CookieJar::new().add(expired(FLASH_COOKIE));
        for (name, value) in jar.into_response().headers() {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    now_micros() / 1_000_000
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// A `next` target that stays on this site (no scheme, no `//host`), else `/`.
pub fn local_target(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_targets_are_followed() {
        assert_eq!(local_target(Some("/devices?q=1")), "/devices?q=1");
        assert_eq!(local_target(Some("//evil.example/")), "/");
        assert_eq!(local_target(Some("https://evil.example/")), "/");
        assert_eq!(local_target(Some("/\\evil.example")), "/");
        assert_eq!(local_target(None), "/");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(urlencode("/a b?c=d&e"), "%2Fa+b%3Fc%3Dd%26e");
    }
}
