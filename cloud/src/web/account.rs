//! Signing in and out, and changing one's password. Sign-in checks the password and the
//! failed-login limit with the API's own code, then keeps the JWT the API would have issued
//! in the session cookie.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::csrf;
use super::forms::FieldErrors;
use super::pages::{render, Page, PageResult, ASSET_VERSION};
use super::session::{
    expired, local_target, now_secs, over_tls, redirect_with, session_cookie, Session,
    SESSION_COOKIE,
};
use crate::auth::password;
use crate::http::auth::{check_password, looks_like_email};
use crate::state::AppState;
use crate::store::users;
use crate::time::now_micros;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: String,
    next: String,
    email: &'a str,
    errors: FieldErrors,
    notice: Option<&'a str>,
    asset_version: &'static str,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    #[serde(default)]
    ended: bool,
}

pub async fn login_form(
    session: Option<Session>,
    jar: CookieJar,
    Query(query): Query<LoginQuery>,
) -> PageResult {
    let next = local_target(query.next.as_deref());
    if session.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let notice = query.ended.then_some("You have signed out.");
    login_page(jar, next, "", FieldErrors::new(), notice)
}

fn login_page(
    jar: CookieJar,
    next: String,
    email: &str,
    errors: FieldErrors,
    notice: Option<&str>,
) -> PageResult {
    let (token, cookie) = csrf::login_token(&jar);
    let page = render(&LoginPage {
        csrf: token,
        next,
        email,
        errors,
        notice,
        asset_version: ASSET_VERSION,
    })?;
    Ok(match cookie {
        Some(cookie) => (jar.add(cookie), page).into_response(),
        None => page,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let next = local_target(form.next.as_deref());
    let email = form.email.trim().to_lowercase();
    let mut errors = FieldErrors::new();
    if !looks_like_email(&email) {
        errors.add("email", "Enter a valid email address.");
    }
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    if !errors.is_empty() {
        return login_page(jar, next, &form.email, errors, None);
    }
    let peer = peer.ip().to_string();
    let keys = [email.as_str(), peer.as_str()];
    if state.login_limiter.is_blocked(&keys) {
        errors.add("", "Too many failed sign-ins. Try again in 15 minutes.");
        return login_page(jar, next, &form.email, errors, None);
    }
    let user = check_password(&state, &email, &form.password).await?;
    let user = match user {
        Some(user) if user.is_active => user,
        Some(_) => {
            errors.add("", "This account is disabled.");
            return login_page(jar, next, &form.email, errors, None);
        }
        None => {
            state.login_limiter.record_failure(&keys);
            errors.add("", "That email and password do not match an account.");
            return login_page(jar, next, &form.email, errors, None);
        }
    };
    state.login_limiter.record_success(&email);
    let jwt = state
        .tokens
        .issue(user.id, &user.username, &user.email, now_secs());
    let jar = jar.add(session_cookie(jwt, over_tls(&headers)));
    tracing::info!(user = %user.slug, "signed in on the web");
    Ok((jar, Redirect::to(&next)).into_response())
}

/// Ends the session: its token is revoked, so a copied cookie stops working too.
pub async fn logout(State(state): State<AppState>, session: Session) -> PageResult {
    if let Some(claims) = &session.caller.jwt {
        users::revoke_token(
            &state.db.meta,
            &claims.jti,
            claims.exp * 1_000_000,
            now_micros(),
        )
        .await?;
    }
    let jar = CookieJar::new().add(expired(SESSION_COOKIE));
    Ok((jar, Redirect::to("/login?ended=true")).into_response())
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    page: Page,
    errors: FieldErrors,
}

pub async fn password_form(State(state): State<AppState>, session: Session) -> PageResult {
    let page = Page::load(&state, &session, "Change password", "account").await?;
    render(&PasswordPage {
        page,
        errors: FieldErrors::new(),
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<PasswordForm>,
) -> Result<Response, super::pages::WebError> {
    let user = session.user();
    let mut errors = FieldErrors::new();
    if !password::verify(&form.current, &user.password_hash) {
        errors.add("current", "This is not your current password.");
    }
    if form.password.chars().count() < 8 {
        errors.add("password", "Use at least 8 characters.");
    } else if form.password != form.confirm {
        errors.add("confirm", "The two new passwords differ.");
    }
    if !errors.is_empty() {
        let page = Page::load(&state, &session, "Change password", "account").await?;
        let mut response = render(&PasswordPage { page, errors })?;
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        return Ok(response);
    }
    let hash = password::hash(&form.password)?;
    users::set_password(&state.db.meta, user.id, &hash, now_micros()).await?;
    Ok(redirect_with("/", "Your password was changed."))
}
