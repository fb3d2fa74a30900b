//! Cross-site request forgery protection for every form, enforced in one place: a layer in
//! front of all web routes refuses any unsafe request (POST, PUT, PATCH, DELETE) whose token
//! does not match, before a handler runs, so no page can forget it.
//!
//! - With a session, the token is an HMAC (the server's link key) over the session's token
//!   id and expiry: it is stable for the session, unknowable to another site, and dies with
//!   the session.
//! - Before sign-in (the sign-in form itself), the token is a random value that must match
//!   an HttpOnly, SameSite=Strict cookie set with the form (double submit).
//!
//! A request whose `Origin` names another host is refused as well.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

use super::pages::error_page;
use super::session::{now_secs, SESSION_COOKIE};
use crate::state::AppState;

/// The form field (and header, for scripts) that carries the token.
pub const FIELD: &str = "csrf";
const HEADER: &str = "x-csrf-token";
const LOGIN_COOKIE: &str = "iotile_login_csrf";
const PURPOSE: &str = "web-form";
/// Forms are small; anything larger is not a form of ours.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The token of the session whose JWT has id `jti` and expiry `exp`.
pub fn session_token(state: &AppState, jti: &str, exp: i64) -> String {
    state.links.sign(PURPOSE, &[jti], exp)
}

/// The sign-in form's token: the one in the browser's cookie, or a new one with the cookie
/// that carries it.
pub fn login_token(jar: &CookieJar) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string()) {
        if existing.len() == 32 {
            return (existing, None);
        }
    }
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        // Without randomness the form cannot be protected; an empty token never matches.
        return (String::new(), None);
    }
    let token = hex::encode(bytes);
    let cookie = Cookie::build((LOGIN_COOKIE, token.clone()))
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
    (token, Some(cookie))
}

/// The layer: lets safe methods through, checks the token of the others.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    if !same_origin(&request) {
        return refused("This form was sent from another site.");
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return refused("The form is too large.");
    };
    let given = parts
        .headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| form_token(&bytes));
    let jar = CookieJar::from_headers(&parts.headers);
    let expected = expected_token(&state, &jar);
    let matches = match (given, expected) {
        (Some(given), Some(expected)) if !expected.is_empty() => {
            bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
        }
        _ => false,
    };
    if !matches {
        return refused(
            "This form has expired or did not come from this site. Reload the page and try again.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The token a form from this browser must carry: the session's when it has a live one,
/// else the sign-in cookie's.
fn expected_token(state: &AppState, jar: &CookieJar) -> Option<String> {
    let session = jar
        .get(SESSION_COOKIE)
        .and_then(|c| state.tokens.verify(c.value(), now_secs()).ok());
    match session {
        Some(claims) => Some(session_token(state, &claims.jti, claims.exp)),
        None => jar.get(LOGIN_COOKIE).map(|c| c.value().to_string()),
    }
}

fn form_token(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v)
}

/// An `Origin` header, when the browser sends one, must name the host the request is for.
fn same_origin(request: &Request) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

fn refused(message: &str) -> Response {
    error_page(axum::http::StatusCode::FORBIDDEN, "Form refused", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_a_form_body() {
        assert_eq!(form_token(b"name=x&csrf=abc%3D"), Some("abc=".into()));
        assert_eq!(form_token(b"name=x"), None);
        assert_eq!(form_token(&[0xff, 0xfe]), None);
    }

    #[test]
    fn another_origin_is_refused() {
        let request = |origin: Option<&str>| {
            let mut b = Request::builder()
                .method("POST")
                .header("host", "cloud.example:8000");
            if let Some(o) = origin {
                b = b.header("origin", o);
            }
            b.body(Body::empty()).expect("request")
        };
        assert!(same_origin(&request(None)));
        assert!(same_origin(&request(Some("http://cloud.example:8000"))));
        assert!(!same_origin(&request(Some("https://evil.example"))));
        assert!(!same_origin(&request(Some("null"))));
    }
}
