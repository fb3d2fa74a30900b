//! `GET /api/v1/device/{slug}/key/?type=`: a device's keys (spec 1.4): a device token
//! (`a-jwt`) made for the device and its claimer, or a stored downloadable key.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::device::load;
use super::error::{ApiError, ApiResult};
use super::json::Reply;
use super::params::Params;
use crate::auth::{password, tokens, Caller};
use crate::state::AppState;
use crate::store::device_keys;
use crate::time::now_micros;

pub fn routes() -> Router<AppState> {
    Router::new().route("/device/{slug}/key", get(key))
}

fn msg(status: StatusCode, text: &str) -> ApiError {
    ApiError::Body(status, json!({ "msg": text }))
}

/// `{"key": ...}`: a device key.
#[derive(Serialize, ToSchema)]
pub struct DeviceKey {
    pub key: String,
}

/// Spec 1.4: the device's `a-jwt`, or a stored downloadable key of another type.
async fn key(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    params: Params,
) -> ApiResult<Reply<DeviceKey>> {
    let device = load(&state, &caller, &slug).await?;
    let key_type = params
        .get("type")
        .ok_or_else(|| msg(StatusCode::BAD_REQUEST, "No type specified"))?
        .to_uppercase();
    let pool = &state.db.meta;
    if key_type == "A-JWT" || key_type == device_keys::A_JWT_KEY {
        let (Some(project), Some(claimer), true) = (
            device.project_id.clone(),
            device.claimed_by_slug.clone(),
            device.active,
        ) else {
            return Err(msg(
                StatusCode::FORBIDDEN,
                "Device must be active and claimed into a project",
            ));
        };
        let secret = device_keys::get_or_create(
            pool,
            device.id,
            device_keys::A_JWT_KEY,
            || password::random_hex(25),
            now_micros(),
        )
        .await?;
        let claims = tokens::DeviceClaims {
            user: claimer,
            device: device.slug.clone(),
            project,
        };
        return Ok(Reply(DeviceKey {
            key: tokens::issue_device_token(&claims, &secret),
        }));
    }
    match device_keys::downloadable(pool, device.id, &key_type).await? {
        Some(secret) => Ok(Reply(DeviceKey { key: secret })),
        None => Err(msg(StatusCode::FORBIDDEN, "No key available")),
    }
}
