//! What OTA shows of devices: `GET /api/v1/ota/device/{d--0000-xxxx-xxxx-xxxx}/` (the agent's
//! view, spec 3.12), `GET /api/v1/ota/version/` (version records), and
//! `GET /api/v1/ota/request/{id}/devices/` (the devices a deployment reaches).
//!
//! The device view lists, oldest release first, the released, open deployments concerning
//! the device (its fleet's, its org's without a fleet, any vendor org's without a fleet),
//! except halted ones and staged ones whose open waves do not hold the device; then its actions by attempt time and its latest version of each type. Only
//! the full slug form is routed; an inactive device or one without access is 403, an unknown
//! one 404.
//!
//! A draft's `devices/` is a preview: the active devices of its fleet (or org) whose
//! recorded versions meet its criteria now, app rules compared with `app` records (the
//! original compared them with `sg` and never matched). A released one lists the targets
//! frozen at release, with their wave.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use sync_protocol::ids::{DeviceId, DeviceRef};
use sync_protocol::ota::Criteria;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::Reply;
use super::ota_request::{self, evaluated, RequestView};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::Caller;
use crate::ota::{selection, State as DeploymentState};
use crate::state::AppState;
use crate::store::deployment_targets::{self, Candidate};
use crate::store::version_records::{self, VersionRecord};
use crate::store::{deployment_actions, deployments, devices};
use crate::time::{self, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ota/device/{slug}", get(device_view))
        .route("/ota/version", get(versions))
        .route("/ota/request/{id}/devices", get(request_devices))
}

/// A device version record (spec 3.12).
#[derive(Serialize, ToSchema)]
#[schema(as = DeviceVersionRecord)]
pub struct VersionRecordView {
    /// The device's slug.
    pub device: String,
    /// `os` or `app`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tag: u32,
    /// `vM.m`.
    pub version: String,
    pub streamer_local_id: i64,
    #[schema(format = DateTime)]
    pub updated_ts: String,
    #[schema(format = DateTime)]
    pub created_on: String,
}

pub fn version_view(v: &VersionRecord) -> VersionRecordView {
    VersionRecordView {
        device: v.device_slug.clone(),
        kind: v.record.kind.clone(),
        tag: v.record.version.tag,
        version: v.record.version_text(),
        streamer_local_id: v.record.streamer_local_id,
        updated_ts: time::format(v.record.updated_ts),
        created_on: time::format(v.created_on),
    }
}

/// A device a deployment request reaches.
#[derive(Serialize, ToSchema)]
pub struct TargetDevice {
    pub id: i64,
    pub slug: String,
    pub sg: Option<String>,
    pub template: Option<String>,
    pub versions: Vec<VersionRecordView>,
    /// The rollout wave it is in, once released with a rollout.
    pub wave: Option<i64>,
}

fn device_entry(c: &Candidate) -> TargetDevice {
    TargetDevice {
        id: c.device_id,
        slug: c.slug.clone(),
        sg: c.sg.clone(),
        template: c.template.clone(),
        versions: c.versions.iter().map(version_view).collect(),
        wave: c.wave,
    }
}

/// What an agent needs to update a device.
#[derive(Serialize, ToSchema)]
pub struct DeviceOta {
    pub slug: String,
    pub template: Option<String>,
    pub sg: Option<String>,
    /// The open deployments it may take now.
    pub deployments: Vec<RequestView>,
    pub actions: Vec<DeviceAction>,
    pub versions: Vec<VersionRecordView>,
}

/// One of the device's deployment actions, in short.
#[derive(Serialize, ToSchema)]
pub struct DeviceAction {
    pub id: i64,
    pub deployment: i64,
    pub last_attempt_on: Option<String>,
    pub attempt_successful: bool,
    pub device_confirmation: bool,
}

async fn device_view(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<DeviceOta>> {
    let id = DeviceId::parse_full_form(&slug).map_err(|_| ApiError::NotFound)?;
    let id = i64::try_from(id.get()).map_err(|_| ApiError::NotFound)?;
    let device = devices::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !device.active || !super::device::can_access(&caller, &device) {
        return Err(ApiError::no_permission());
    }
    let org = devices::owner(&state.db.meta, id)
        .await?
        .and_then(|o| o.org_id);
    let now = now_micros();
    let concerning =
        deployments::concerning_device(&state.db.meta, id, org.as_deref(), now).await?;
    let mut offered = Vec::new();
    for d in concerning {
        let e = evaluated(&state, d).await?;
        let open = match (&e.deployment.state, &e.deployment.rollout) {
            (DeploymentState::Running, None) => true,
            (DeploymentState::Running, Some(_)) => {
                deployment_targets::wave_of(&state.db.meta, e.deployment.id, id)
                    .await?
                    .is_some_and(|w| w <= e.deployment.current_wave)
            }
            _ => false,
        };
        if open {
            offered.push(ota_request::view(&e));
        }
    }
    let actions: Vec<DeviceAction> = deployment_actions::of_device(&state.db.meta, id)
        .await?
        .iter()
        .map(|a| DeviceAction {
            id: a.id,
            deployment: a.deployment_id,
            last_attempt_on: a.last_attempt_on.map(time::format),
            attempt_successful: a.attempt_successful,
            device_confirmation: a.device_confirmation,
        })
        .collect();
    let mut conn = state.db.meta.acquire().await?;
    let versions: Vec<VersionRecordView> = version_records::latest_of(&mut conn, &[id])
        .await?
        .iter()
        .map(version_view)
        .collect();
    Ok(Reply(DeviceOta {
        slug: device.slug,
        template: device.template,
        sg: device.sg,
        deployments: offered,
        actions,
        versions,
    }))
}

async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let mut filter = version_records::Filter {
        orgs: (!caller.staff_mode).then(|| caller.org_ids()),
        device_id: caller.device,
        kind: params.get("type").map(String::from),
        latest: params.flag("latest"),
    };
    if let Some(device) = params.get("device") {
        // A device that cannot be read matches nothing.
        let wanted = device
            .parse::<DeviceRef>()
            .ok()
            .map(DeviceRef::device)
            .and_then(|d| i64::try_from(d.get()).ok())
            .unwrap_or(-1);
        if filter.device_id.is_some_and(|only| only != wanted) {
            return Ok(axum::Json(page.envelope(
                w,
                0,
                Vec::<VersionRecordView>::new(),
            )?));
        }
        filter.device_id = Some(wanted);
    }
    let (count, found) = version_records::list(&state.db.meta, &filter, (w.offset, w.size)).await?;
    let results: Vec<VersionRecordView> = found.iter().map(version_view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn request_devices(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let d = ota_request::load(&state, &caller, &id).await?;
    // A vendor's request is readable by all, its devices only by its org.
    if !caller.has_access(&d.org_id) {
        return Err(ApiError::no_permission());
    }
    let w = page.window(PageClass::Standard)?;
    let mut conn = state.db.meta.acquire().await?;
    if d.state != DeploymentState::Draft {
        let (count, found) = deployment_targets::page(&mut conn, d.id, (w.offset, w.size)).await?;
        let results: Vec<TargetDevice> = found.iter().map(device_entry).collect();
        return Ok(axum::Json(page.envelope(w, count, results)?));
    }
    let criteria = Criteria::parse(&d.criteria).ok();
    let matching: Vec<Candidate> = deployment_targets::candidates(&mut conn, &d.org_id, d.fleet_id)
        .await?
        .into_iter()
        .filter(|c| {
            criteria
                .as_ref()
                .is_some_and(|cr| selection::matches(cr, &c.known()))
        })
        .collect();
    let count = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let skip = usize::try_from(w.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(w.size).unwrap_or(0);
    let results: Vec<TargetDevice> = matching
        .iter()
        .skip(skip)
        .take(take)
        .map(device_entry)
        .collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}
