//! `/api/v1/ota/key/`: an org's release keys, the ed25519 public keys whose signatures
//! release its device scripts, and `/api/v1/org/{slug}/ota/`, the org's OTA policy
//! (`allow_unsigned`).
//!
//! Members of the org read them; adding and revoking a key needs `can_manage_ota`. A key is
//! never deleted, only revoked: from then on it releases nothing, and refusals name it as
//! revoked. The policy is an org setting, so changing it needs
//! `can_manage_org_and_projects`, the permission `PATCH /org/{slug}/` checks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use sync_protocol::ota::release::ReleasePublicKey;

use super::error::{ApiError, ApiResult};
use super::json::Json;
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::is_unique_violation;
use crate::store::orgs::{self, Org};
use crate::store::release_keys::{self, OtaSettings, ReleaseKey};
use crate::time::{format, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ota/key", get(list).post(add))
        .route("/ota/key/{id}", get(retrieve))
        .route("/ota/key/{id}/revoke", post(revoke))
        .route("/org/{slug}/ota", get(policy).patch(set_policy))
}

pub fn view(k: &ReleaseKey) -> Value {
    json!({
        "id": k.id,
        "org": k.org_slug,
        "key": k.key_id,
        "label": k.label,
        "created_on": format(k.created_on),
        "created_by": k.created_by,
        "revoked": k.revoked_on.is_some(),
        "revoked_on": k.revoked_on.map(format),
    })
}

fn policy_view(org: &Org, s: &OtaSettings) -> Value {
    json!({
        "org": org.slug,
        "allow_unsigned": s.allow_unsigned,
        "updated_on": s.updated_on.map(format),
    })
}

/// The key an id names, when the caller belongs to its org; 404 otherwise.
pub(crate) async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ReleaseKey> {
    let id = id.trim().parse::<i64>().map_err(|_| ApiError::NotFound)?;
    let key = release_keys::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if caller.device.is_some() || !caller.has_access(&key.org_id) {
        return Err(ApiError::NotFound);
    }
    Ok(key)
}

/// The org a route slug names, when the caller belongs to it; 404 otherwise.
pub(crate) async fn load_org(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<Org> {
    let org = orgs::by_slug(&state.db.meta, slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    if caller.device.is_some() || !caller.has_access(&org.id) {
        return Err(ApiError::NotFound);
    }
    Ok(org)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let filter = release_keys::Filter {
        orgs: visible_orgs(&caller),
        org_slug: params
            .get("org")
            .or(params.get("org__slug"))
            .map(String::from),
    };
    let (count, found) = release_keys::list(&state.db.meta, &filter, (w.offset, w.size)).await?;
    let results: Vec<Value> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// The orgs whose keys the caller's lists show; `None` for every org (staff).
pub(crate) fn visible_orgs(caller: &Caller) -> Option<Vec<String>> {
    (!caller.staff_mode).then(|| {
        if caller.device.is_some() {
            Vec::new()
        } else {
            caller.org_ids()
        }
    })
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(view(&load(&state, &caller, &id).await?)))
}

#[derive(Deserialize)]
struct NewKey {
    org: String,
    key: String,
    #[serde(default)]
    label: String,
}

async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewKey>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let key =
        ReleasePublicKey::parse(&body.key).map_err(|e| ApiError::field("key", e.to_string()))?;
    let label = body.label.trim();
    if label.chars().count() > 200 {
        return Err(ApiError::field(
            "label",
            "Ensure this field has no more than 200 characters.",
        ));
    }
    let org = super::org::named_in_body(&state, &body.org).await?;
    if caller.device.is_some() || !caller.can(&org.id, perm::MANAGE_OTA) {
        return Err(ApiError::no_permission());
    }
    match release_keys::add(
        &state.db.meta,
        &org.id,
        &key,
        label,
        caller.user.id,
        now_micros(),
    )
    .await
    {
        Ok(added) => Ok((StatusCode::CREATED, axum::Json(view(&added)))),
        Err(e) if is_unique_violation(&e) => Err(ApiError::field(
            "key",
            format!(
                "{key} is already a release key of {} (a revoked key cannot be added again).",
                org.slug
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Revokes a key; revoking it again answers the same.
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let key = revoke_key(&state, &caller, &id).await?;
    Ok(axum::Json(view(&key)))
}

/// The key an id names, when the caller may also revoke it (`can_manage_ota`).
pub(crate) async fn load_for_revoke(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<ReleaseKey> {
    let key = load(state, caller, id).await?;
    if !caller.can(&key.org_id, perm::MANAGE_OTA) {
        return Err(ApiError::no_permission());
    }
    Ok(key)
}

/// Revokes a key (see [`load_for_revoke`]); the key as it is now. Shared by the API and
/// the OTA pages.
pub(crate) async fn revoke_key(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<ReleaseKey> {
    let key = load_for_revoke(state, caller, id).await?;
    release_keys::revoke(&state.db.meta, key.id, now_micros()).await?;
    release_keys::by_id(&state.db.meta, key.id)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let org = load_org(&state, &caller, &slug).await?;
    let settings = release_keys::settings(&state.db.meta, &org.id).await?;
    Ok(axum::Json(policy_view(&org, &settings)))
}

#[derive(Deserialize)]
struct PolicyChange {
    allow_unsigned: bool,
}

async fn set_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<PolicyChange>,
) -> ApiResult<axum::Json<Value>> {
    let org = load_org(&state, &caller, &slug).await?;
    if !caller.can(&org.id, perm::MANAGE_ORG_AND_PROJECTS) {
        return Err(ApiError::no_permission());
    }
    release_keys::set_allow_unsigned(&state.db.meta, &org.id, body.allow_unsigned, now_micros())
        .await?;
    let settings = release_keys::settings(&state.db.meta, &org.id).await?;
    Ok(axum::Json(policy_view(&org, &settings)))
}
