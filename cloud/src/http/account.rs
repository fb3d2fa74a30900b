//! `/api/v1/account/`: the caller's own account (spec 3.2).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::pagination::{PageClass, PageRequest};
use crate::auth::{password, Caller};
use crate::state::AppState;
use crate::store::users::{self, User};
use crate::time::{format, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(list))
        .route("/account/{slug}", get(retrieve).patch(update).put(update))
        .route("/account/{slug}/set_password", post(set_password))
}

/// The account object.
#[derive(Serialize, ToSchema)]
#[schema(as = Account)]
pub struct AccountView {
    pub id: i64,
    pub email: String,
    pub username: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub name: String,
    pub tagline: String,
    /// Gravatar links by size: `tiny`, `thumbnail`, `medium`.
    pub avatar: Avatar,
    pub slug: String,
    pub is_staff: bool,
}

pub fn view(user: &User) -> AccountView {
    AccountView {
        id: user.id,
        email: user.email.clone(),
        username: user.username.clone(),
        created_at: format(user.created_at),
        updated_at: format(user.updated_at),
        name: user.name.clone(),
        tagline: user.tagline.clone(),
        avatar: avatar(&user.email, &["tiny", "thumbnail", "medium"]),
        slug: user.slug.clone(),
        is_staff: user.is_staff,
    }
}

/// Image links by size name.
pub type Avatar = BTreeMap<String, String>;

/// Gravatar links (which take SHA-256 of the address) at the sizes the original offered.
pub fn avatar(email: &str, sizes: &[&str]) -> Avatar {
    let hash = hex::encode(Sha256::digest(email.trim().to_lowercase().as_bytes()));
    let px = |size: &str| match size {
        "tiny" => 28,
        "thumbnail" => 80,
        _ => 250,
    };
    sizes
        .iter()
        .map(|s| {
            (
                s.to_string(),
                format!("https://www.gravatar.com/avatar/{hash}?s={}&d=mm", px(s)),
            )
        })
        .collect()
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let window = page.window(PageClass::Standard)?;
    if caller.staff_mode {
        let (count, all) = users::list(&state.db.meta, window.offset, window.size).await?;
        let results: Vec<AccountView> = all.iter().map(view).collect();
        return Ok(axum::Json(page.envelope(window, count, results)?));
    }
    let mine = if window.page == 1 {
        vec![view(&caller.user)]
    } else {
        vec![]
    };
    Ok(axum::Json(page.envelope(window, 1, mine)?))
}

/// The account behind a slug: only yourself, or anyone for staff with `?staff=1`.
async fn target(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<User> {
    if slug == caller.user.slug {
        return Ok(caller.user.clone());
    }
    if caller.staff_mode {
        return users::by_slug(&state.db.meta, slug)
            .await?
            .ok_or(ApiError::NotFound);
    }
    Err(ApiError::NotFound)
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<AccountView>> {
    Ok(Reply(view(&target(&state, &caller, &slug).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct ProfileUpdate {
    name: Option<String>,
    tagline: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<ProfileUpdate>,
) -> ApiResult<Reply<AccountView>> {
    let user = target(&state, &caller, &slug).await?;
    if user.id != caller.user.id {
        return Err(ApiError::no_permission());
    }
    let name = body.name.unwrap_or(user.name);
    let tagline = body.tagline.unwrap_or(user.tagline);
    users::update_profile(&state.db.meta, user.id, &name, &tagline, now_micros()).await?;
    let fresh = users::by_id(&state.db.meta, user.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(view(&fresh)))
}

#[derive(Deserialize, ToSchema)]
pub struct NewPassword {
    /// At least 8 characters.
    password: String,
}

/// `{"status": "password set"}`.
#[derive(Serialize, ToSchema)]
pub struct PasswordSet {
    pub status: &'static str,
}

async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<NewPassword>,
) -> ApiResult<(StatusCode, Reply<PasswordSet>)> {
    let user = target(&state, &caller, &slug).await?;
    if user.id != caller.user.id && !caller.staff_mode {
        return Err(ApiError::no_permission());
    }
    if body.password.chars().count() < 8 {
        return Err(ApiError::field(
            "password",
            "Ensure this field has at least 8 characters.",
        ));
    }
    let hash = password::hash(&body.password)?;
    users::set_password(&state.db.meta, user.id, &hash, now_micros()).await?;
    Ok((
        StatusCode::CREATED,
        Reply(PasswordSet {
            status: "password set",
        }),
    ))
}
