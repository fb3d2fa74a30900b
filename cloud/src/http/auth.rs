//! `/api/v1/auth/`: login, logout and JWT endpoints (spec 1.2). Status codes and body shapes
//! are part of the contract: login 200, logout 204, bare JSON strings for 401s.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::account::AccountView;
use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use crate::auth::{password, Caller, MaybeCaller};
use crate::state::AppState;
use crate::store::users::{self, User};
use crate::time::now_micros;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/api-jwt-refresh", post(refresh))
        .route("/auth/api-jwt-auth", post(jwt_auth))
        .route("/auth/api-jwt-verify", post(verify))
        .route("/auth/token", get(token))
        .route("/auth/user-info", get(user_info))
}

fn now_secs() -> i64 {
    now_micros() / 1_000_000
}

#[derive(Deserialize, ToSchema)]
pub struct Login {
    email: String,
    password: String,
}

/// The account, with its static token and a fresh JWT.
#[derive(Serialize, ToSchema)]
pub struct LoggedIn {
    #[serde(flatten)]
    pub account: AccountView,
    /// The static 40-hex token.
    pub token: String,
    pub jwt: String,
}

/// The account with a fresh JWT.
#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    #[serde(flatten)]
    pub account: AccountView,
    pub jwt: String,
}

/// `{"token": ...}`: a JWT.
#[derive(Serialize, ToSchema)]
pub struct TokenReply {
    pub token: String,
}

/// The static token and a fresh JWT.
#[derive(Serialize, ToSchema)]
pub struct Tokens {
    pub token: String,
    pub jwt: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    MaybeCaller(already): MaybeCaller,
    Json(body): Json<Login>,
) -> ApiResult<Response> {
    if already.is_some() {
        return Err(ApiError::Body(
            StatusCode::FORBIDDEN,
            json!("Already Logged-in"),
        ));
    }
    if !looks_like_email(&body.email) {
        return Err(ApiError::field("email", "Enter a valid email address."));
    }
    let email = body.email.trim().to_lowercase();
    let peer = peer.ip().to_string();
    let keys = [email.as_str(), peer.as_str()];
    if state.login_limiter.is_blocked(&keys) {
        return Err(ApiError::Detail(
            StatusCode::TOO_MANY_REQUESTS,
            "Request was throttled: too many failed logins. Try again in 15 minutes.".into(),
        ));
    }
    let user = check_password(&state, &email, &body.password).await?;
    let Some(user) = user else {
        state.login_limiter.record_failure(&keys);
        return Err(ApiError::Body(
            StatusCode::UNAUTHORIZED,
            json!("Username/password combination invalid."),
        ));
    };
    if !user.is_active {
        return Err(ApiError::Body(
            StatusCode::UNAUTHORIZED,
            json!("This account is not Active."),
        ));
    }
    state.login_limiter.record_success(&email);
    Ok(Reply(LoggedIn {
        account: super::account::view(&user),
        token: user.api_token.clone(),
        jwt: issue(&state, &user),
    })
    .into_response())
}

/// The account when the password matches. Unknown accounts cost the same hashing time.
/// The web sign-in form checks passwords here too.
pub(crate) async fn check_password(
    state: &AppState,
    login: &str,
    password_text: &str,
) -> ApiResult<Option<User>> {
    let pool = &state.db.meta;
    let user = match users::by_email(pool, login).await? {
        Some(u) => Some(u),
        None => users::by_username(pool, login).await?,
    };
    let stored = user
        .as_ref()
        .map_or(password::dummy_hash(), |u| u.password_hash.as_str());
    let ok = password::verify(password_text, stored);
    Ok(user.filter(|_| ok))
}

fn issue(state: &AppState, user: &User) -> String {
    state
        .tokens
        .issue(user.id, &user.username, &user.email, now_secs())
}

pub(crate) fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !s.contains(' ')
        }
        None => false,
    }
}

/// Ends the session: the JWT the request came with stops working; other tokens are untouched.
async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    if let Some(claims) = &caller.jwt {
        users::revoke_token(
            &state.db.meta,
            &claims.jti,
            claims.exp * 1_000_000,
            now_micros(),
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct TokenBody {
    token: String,
}

fn non_field(msg: &str) -> ApiError {
    ApiError::Body(StatusCode::BAD_REQUEST, json!({"non_field_errors": [msg]}))
}

async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<TokenBody>,
) -> ApiResult<Reply<TokenReply>> {
    let now = now_secs();
    let claims = state
        .tokens
        .verify(&body.token, now)
        .map_err(|e| non_field(e.message()))?;
    if users::is_revoked(&state.db.meta, &claims.jti).await? {
        return Err(non_field("Signature has been revoked."));
    }
    let token = state
        .tokens
        .refresh(&body.token, now)
        .map_err(|e| non_field(e.message()))?;
    Ok(Reply(TokenReply { token }))
}

async fn verify(
    State(state): State<AppState>,
    Json(body): Json<TokenBody>,
) -> ApiResult<Reply<TokenReply>> {
    let claims = state
        .tokens
        .verify(&body.token, now_secs())
        .map_err(|e| non_field(e.message()))?;
    if users::is_revoked(&state.db.meta, &claims.jti).await? {
        return Err(non_field("Signature has been revoked."));
    }
    Ok(Reply(TokenReply { token: body.token }))
}

#[derive(Deserialize, ToSchema)]
pub struct JwtAuth {
    /// A username or an email address.
    username: String,
    password: String,
}

async fn jwt_auth(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<JwtAuth>,
) -> ApiResult<Reply<TokenReply>> {
    let login = body.username.trim().to_lowercase();
    let peer = peer.ip().to_string();
    let keys = [login.as_str(), peer.as_str()];
    if state.login_limiter.is_blocked(&keys) {
        return Err(non_field(
            "Too many failed logins. Try again in 15 minutes.",
        ));
    }
    match check_password(&state, body.username.trim(), &body.password).await? {
        Some(user) if user.is_active => {
            state.login_limiter.record_success(&login);
            Ok(Reply(TokenReply {
                token: issue(&state, &user),
            }))
        }
        _ => {
            state.login_limiter.record_failure(&keys);
            Err(non_field("Unable to log in with provided credentials."))
        }
    }
}

async fn token(State(state): State<AppState>, caller: Caller) -> Reply<Tokens> {
    Reply(Tokens {
        token: caller.user.api_token.clone(),
        jwt: issue(&state, &caller.user),
    })
}

async fn user_info(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
) -> ApiResult<Reply<UserInfo>> {
    let caller = caller.ok_or(ApiError::Body(
        StatusCode::FORBIDDEN,
        json!("User not recognized."),
    ))?;
    Ok(Reply(UserInfo {
        account: super::account::view(&caller.user),
        jwt: issue(&state, &caller.user),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn email_shape() {
        assert!(super::looks_like_email("joe@arch.io"));
        assert!(!super::looks_like_email("joe"));
        assert!(!super::looks_like_email("joe@localhost"));
        assert!(!super::looks_like_email("jo e@arch.io"));
    }
}
