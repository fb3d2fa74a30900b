//! The gateway's OTA endpoints, signed like `POST gateway/sync/` (no user token on a
//! gateway; see `gateway`): every request carries the `X-Iotile-*` envelope over its method,
//! path with query, timestamp, nonce, body hash and key id, and a replayed nonce, a stale
//! clock, an unknown or revoked key are 401.
//!
//! - `GET gateway/ota/` → `sync_protocol::ota::OtaFeed` for the gateway's org: its current
//!   release keys, whether it allows unsigned scripts, and each running deployment (released,
//!   open, not halted), oldest release first, with its script and the devices it may update
//!   now (targeted, in an open wave, not yet confirmed). A strong `ETag` is the SHA-256 of the
//!   body; `If-None-Match` with it answers 304 with no body, so an idle gateway polls cheaply.
//! - `GET gateway/ota/script/{slug}/` → the script's bytes (`application/octet-stream`),
//!   only for a script some released deployment of the gateway's org uses; 404 otherwise.
//!   The bytes are checked against the SHA-256 recorded at upload: bytes changed in the
//!   object store are refused with a 500 that says so, never served.
//! - `POST gateway/ota/action/` → as `POST ota/action/`, for the deployments and devices of
//!   the gateway's org only (403 otherwise); 201 with the action.
//!
//! Reading the feed evaluates each deployment, so a device that did not come back within its
//! rollout's `confirm_within` halts the deployment before the feed offers it again.

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sync_protocol::ids::ScriptSlug;
use sync_protocol::ota::{FeedDeployment, FeedScript, OtaFeed};

use super::error::{ApiError, ApiResult};
use super::gateway::signed_by;
use super::json::Reply;
use super::ota_action::{self, NewBody};
use crate::ota::advance::{self, Evaluated};
use crate::ota::State as DeploymentState;
use crate::script_files::{self, FileError};
use crate::state::AppState;
use crate::store::ota_scripts::{self, DeviceScript};
use crate::store::{deployment_targets, deployments, release_keys};
use crate::time::{self, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/gateway/ota", get(feed))
        .route("/gateway/ota/script/{slug}", get(script))
        .route("/gateway/ota/action", post(action))
}

async fn feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> ApiResult<Response> {
    let gateway = signed_by(&state, "GET", &headers, &uri, &body).await?;
    let feed = build(&state, &gateway.org_id).await?;
    feed_response(&headers, &feed)
}

/// The feed as JSON with its strong `ETag`, or 304 when `If-None-Match` names it.
pub(super) fn feed_response(headers: &HeaderMap, feed: &OtaFeed) -> ApiResult<Response> {
    let bytes = serde_json::to_vec(feed).map_err(|e| ApiError::Internal(e.into()))?;
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&bytes)));
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    if none_match(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// Whether `If-None-Match` names this entity tag (or `*`), by strong comparison.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag)
}

/// The feed of an org as of now.
pub(super) async fn build(state: &AppState, org_id: &str) -> ApiResult<OtaFeed> {
    let pool = &state.db.meta;
    let trust = release_keys::trusted(pool, org_id).await?;
    let now = now_micros();
    let mut listed = Vec::new();
    for d in deployments::running_of_org(pool, org_id, now).await? {
        let mut conn = pool.acquire().await?;
        let e: Evaluated = advance::evaluate(&mut conn, d, now).await?;
        drop(conn);
        if e.deployment.state != DeploymentState::Running {
            continue;
        }
        let Some(script) = ota_scripts::by_id(pool, e.deployment.script_id).await? else {
            continue;
        };
        let Some(feed_script) = feed_script(&script) else {
            tracing::warn!(
                deployment = e.deployment.id,
                script = %script.slug,
                "deployment left out of the feed: its script has no file"
            );
            continue;
        };
        let devices = deployment_targets::open_unconfirmed(
            pool,
            e.deployment.id,
            e.deployment.current_wave,
            org_id,
        )
        .await?;
        listed.push(FeedDeployment {
            id: e.deployment.id,
            script: feed_script,
            selection_criteria: e.deployment.criteria.clone(),
            released_on: e
                .deployment
                .released_on
                .map(time::format_seconds)
                .unwrap_or_default(),
            devices: devices
                .into_iter()
                .filter_map(|d| u64::try_from(d).ok())
                .collect(),
        });
    }
    Ok(OtaFeed {
        release_keys: trust.keys,
        allow_unsigned: trust.allow_unsigned,
        deployments: listed,
    })
}

/// The feed's description of a script; `None` when it has no file to fetch.
fn feed_script(script: &DeviceScript) -> Option<FeedScript> {
    let file = script.file.as_ref()?;
    let target = script.target().ok()?;
    let signature = script.signature();
    if signature.is_none() && script.signature_json.is_some() {
        tracing::warn!(script = %script.slug, "unreadable release signature left out");
    }
    Some(FeedScript {
        slug: script.slug.clone(),
        target,
        size: u64::try_from(file.size).unwrap_or(0),
        sha256: file.sha256.clone(),
        signature,
    })
}

async fn script(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(slug): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let gateway = signed_by(&state, "GET", &headers, &uri, &body).await?;
    let slug = slug.parse::<ScriptSlug>().map_err(|_| ApiError::NotFound)?;
    let script = ota_scripts::by_slug(&state.db.meta, slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !deployments::org_deploys_script(&state.db.meta, &gateway.org_id, script.id).await? {
        return Err(ApiError::NotFound);
    }
    let file = script.file.as_ref().ok_or(ApiError::NotFound)?;
    let bytes = match script_files::read(&state.blobs, file).await {
        Ok(b) => b,
        Err(FileError::Missing) => return Err(ApiError::NotFound),
        Err(e @ FileError::Altered) => {
            tracing::error!(script = %script.slug, key = file.key, "{e}; not served");
            return Err(ApiError::Detail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "The stored file of {} is not the one uploaded (its SHA-256 differs); \
                     it is not served.",
                    script.slug
                ),
            ));
        }
        Err(FileError::Store(e)) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "reading {}: {e}",
                file.key
            )))
        }
    };
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        Body::from(bytes),
    )
        .into_response())
}

async fn action(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> ApiResult<(StatusCode, Reply<ota_action::ActionView>)> {
    let gateway = signed_by(&state, "POST", &headers, &uri, &body).await?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))?;
    let new: NewBody = super::json::parse(value)?;
    let (deployment, device) = ota_action::resolve(&state, &new).await?;
    if deployment.org_id != gateway.org_id
        || device.org_id.as_deref() != Some(gateway.org_id.as_str())
    {
        return Err(ApiError::no_permission());
    }
    let action = ota_action::record(&state, &deployment, &device, &new).await?;
    Ok((StatusCode::CREATED, Reply(ota_action::view(&action))))
}
