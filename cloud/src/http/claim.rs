//! Claiming devices into projects and freeing them (spec 3.5 "Claim" and "Unclaim").

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use sync_protocol::ids::{DeviceId, ProjectSlug};
use utoipa::ToSchema;

use super::device::{find_project, load};
use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::claims::{self, ClaimError};
use crate::store::devices::{self, Device};
use crate::store::projects::Project;
use crate::time::now_micros;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/device/claim", post(claim))
        .route("/device/claimable", post(claimable))
        .route("/device/{slug}/unclaim", post(unclaim))
}

/// The device id a body slug names, if it reads as one.
fn device_id(slug: &str) -> Option<i64> {
    DeviceId::from_route(slug)
        .ok()
        .and_then(|d| i64::try_from(d.get()).ok())
}

#[derive(Deserialize, ToSchema)]
pub struct ClaimRequest {
    /// The device's slug.
    device: String,
    /// The project's id or p-- slug.
    project: String,
}

/// A device claimed into a project.
#[derive(Serialize, ToSchema)]
pub struct Claimed {
    pub claimed: bool,
    pub device: String,
    /// The project's slug.
    pub project: String,
    pub project_id: String,
}

async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ClaimRequest>,
) -> ApiResult<(StatusCode, Reply<Claimed>)> {
    let (device, project) = claim_device(&state, &caller, &body.device, &body.project).await?;
    let project_slug = ProjectSlug::new(u32::try_from(project.gid).unwrap_or_default());
    Ok((
        StatusCode::ACCEPTED,
        Reply(Claimed {
            claimed: true,
            device: device.slug,
            project: project_slug.to_string(),
            project_id: project.id,
        }),
    ))
}

/// Claims the device `device` (any slug form) into `project` (uuid or `p--` slug) for the
/// caller, with the API's rules; the web pages claim through here too.
pub async fn claim_device(
    state: &AppState,
    caller: &Caller,
    device: &str,
    project: &str,
) -> ApiResult<(Device, Project)> {
    let pool = &state.db.meta;
    let id = device_id(device).ok_or(ApiError::NotFound)?;
    let device = devices::by_id(pool, id).await?.ok_or(ApiError::NotFound)?;
    let readable = uuid::Uuid::parse_str(project).is_ok() || project.parse::<ProjectSlug>().is_ok();
    if !readable {
        return Err(ApiError::bad_request("Project is not a Valid Slug or UUID"));
    }
    let project = find_project(state, project)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !caller.can(&project.org_id, perm::CLAIM_DEVICES) || !caller.may_touch_device(id) {
        return Err(ApiError::Forbidden("No claim permissions".into()));
    }
    if device.project_id.is_some() {
        return Err(ApiError::bad_request("Device is not claimable"));
    }
    let templates = claims::variable_templates(pool, device.sg.as_deref()).await?;
    match claims::claim(pool, id, &project, caller.user.id, &templates, now_micros()).await {
        Ok(()) => Ok((device, project)),
        Err(ClaimError::NotClaimable) => Err(ApiError::bad_request("Device is not claimable")),
        Err(ClaimError::Sql(e)) => Err(e.into()),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ClaimableRequest {
    /// Device slugs.
    slugs: Vec<String>,
}

/// Whether one device can be claimed.
#[derive(Serialize, ToSchema)]
pub struct ClaimableDevice {
    pub slug: String,
    pub claimable: bool,
}

/// The known devices among those asked about.
#[derive(Serialize, ToSchema)]
pub struct ClaimableDevices {
    pub count: usize,
    pub results: Vec<ClaimableDevice>,
}

/// Which of the named devices can be claimed; unknown slugs are left out.
async fn claimable(
    State(state): State<AppState>,
    _caller: Caller,
    Json(body): Json<ClaimableRequest>,
) -> ApiResult<(StatusCode, Reply<ClaimableDevices>)> {
    let mut results = Vec::new();
    for slug in &body.slugs {
        let Some(id) = device_id(slug) else { continue };
        if let Some(d) = devices::by_id(&state.db.meta, id).await? {
            results.push(ClaimableDevice {
                claimable: d.project_id.is_none(),
                slug: d.slug,
            });
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Reply(ClaimableDevices {
            count: results.len(),
            results,
        }),
    ))
}

#[derive(Deserialize, Default, ToSchema)]
pub struct UnclaimRequest {
    /// Delete the device's streams and their data too.
    #[serde(default)]
    clean_streams: bool,
    /// The device's new label; `{id}` becomes its hex id.
    label: Option<String>,
}

/// A device freed.
#[derive(Serialize, ToSchema)]
pub struct Unclaimed {
    /// The device's slug.
    pub unclaimed: String,
    pub msg: String,
}

/// Frees a device. The original ran this as a background job; here it is done before
/// answering, so the device is free when the 202 arrives.
async fn unclaim(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<UnclaimRequest>,
) -> ApiResult<(StatusCode, Reply<Unclaimed>)> {
    let device = unclaim_device(&state, &caller, &slug, body.clean_streams, body.label).await?;
    Ok((
        StatusCode::ACCEPTED,
        Reply(Unclaimed {
            msg: format!("Device {} has been unclaimed", device.slug),
            unclaimed: device.slug,
        }),
    ))
}

/// Frees the device `slug` with the API's rules: its streams' data is deleted when
/// `clean_streams`, and it is relabelled (`{id}` stands for its hex id).
pub async fn unclaim_device(
    state: &AppState,
    caller: &Caller,
    slug: &str,
    clean_streams: bool,
    label: Option<String>,
) -> ApiResult<Device> {
    let device = load(state, caller, slug).await?;
    let allowed = caller.is_staff()
        || device
            .org_id
            .as_deref()
            .is_some_and(|org| caller.can(org, perm::CLAIM_DEVICES));
    if !allowed {
        return Err(ApiError::no_permission());
    }
    if device.busy() {
        return Err(ApiError::Forbidden(
            "Device is busy: wait for the running job to finish".into(),
        ));
    }
    let label = label
        .unwrap_or_else(|| "Device ({id})".to_string())
        .replace("{id}", &format!("{:04x}", device.id));
    let keys = claims::unclaim(
        &state.db.meta,
        &state.db.data,
        device.id,
        &device.slug,
        &label,
        clean_streams,
    )
    .await?;
    crate::event_documents::delete_all(&state.blobs, &keys).await;
    Ok(device)
}
