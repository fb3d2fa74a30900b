//! `/api/v1/ota/action/`: what an agent reports after trying a deployment on a device
//! (spec 3.12; coretools' `OtaUpdater._inform_cloud`).
//!
//! `POST {deployment, device, attempt_successful, last_attempt_on, log?}` answers 201 with
//! the action; 403 without access to the deployment or to the device. An action never
//! completes anything by itself: only the device's own version streams confirm it (the
//! ingest worker). It does count for a staged rollout, which may halt on it. Lists need
//! `?device=` or `?request=` unless the caller is staff; PUT, PATCH and DELETE are staff
//! only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Deserializer, Serialize};
use sync_protocol::ids::{DeviceId, DeviceRef};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::ota_request::can_read;
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::Caller;
use crate::ota::advance;
use crate::state::AppState;
use crate::store::deployment_actions::{self, Action, Changes, Filter, NewAction};
use crate::store::deployments::{self, Deployment};
use crate::store::devices::{self, Device};
use crate::time::{self, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ota/action", get(list).post(create))
        .route(
            "/ota/action/{id}",
            get(retrieve).put(update).patch(update).delete(remove),
        )
}

/// A deployment action: one device's attempt at a deployment.
#[derive(Serialize, ToSchema)]
#[schema(as = DeploymentAction)]
pub struct ActionView {
    pub id: i64,
    /// The deployment request's id.
    pub deployment: i64,
    /// The device's slug.
    pub device: String,
    #[schema(format = DateTime)]
    pub created_on: String,
    pub last_attempt_on: Option<String>,
    pub attempt_successful: bool,
    /// The device later reported the script's version.
    pub device_confirmation: bool,
    pub log: Option<String>,
}

pub fn view(a: &Action) -> ActionView {
    ActionView {
        id: a.id,
        deployment: a.deployment_id,
        device: a.device_slug.clone(),
        created_on: time::format(a.created_on),
        last_attempt_on: a.last_attempt_on.map(time::format),
        attempt_successful: a.attempt_successful,
        device_confirmation: a.device_confirmation,
        log: a.log.clone(),
    }
}

/// The body of a new action, from a user or a gateway.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewDeploymentAction)]
pub struct NewBody {
    /// The deployment request's id.
    pub deployment: i64,
    /// The device's slug.
    pub device: String,
    pub attempt_successful: bool,
    pub last_attempt_on: Option<String>,
    pub log: Option<String>,
}

/// The deployment and device a new action names; unknown ones are field errors.
pub async fn resolve(state: &AppState, body: &NewBody) -> ApiResult<(Deployment, Device)> {
    let deployment = deployments::by_id(&state.db.meta, body.deployment)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "deployment",
                format!(
                    "Invalid pk \"{}\" - object does not exist.",
                    body.deployment
                ),
            )
        })?;
    let missing = || {
        ApiError::field(
            "device",
            format!("Object with slug={} does not exist.", body.device),
        )
    };
    let id = DeviceId::from_route(&body.device).map_err(|_| missing())?;
    let id = i64::try_from(id.get()).map_err(|_| missing())?;
    let device = devices::by_id(&state.db.meta, id)
        .await?
        .ok_or_else(missing)?;
    Ok((deployment, device))
}

/// Records the action and lets the deployment count it; returns the stored action.
pub async fn record(
    state: &AppState,
    deployment: &Deployment,
    device: &Device,
    body: &NewBody,
) -> ApiResult<Action> {
    let last_attempt_on = body
        .last_attempt_on
        .as_deref()
        .map(|t| {
            time::parse(t, false)
                .ok_or_else(|| ApiError::field("last_attempt_on", "Enter a valid date/time."))
        })
        .transpose()?;
    let new = NewAction {
        deployment_id: deployment.id,
        device_id: device.id,
        last_attempt_on,
        attempt_successful: body.attempt_successful,
        device_confirmation: false,
        log: body.log.as_deref(),
    };
    let now = now_micros();
    let mut tx = state.db.meta_writes.begin().await?;
    let id = deployment_actions::create(&mut tx, &new, now).await?;
    advance::evaluate_id(&mut tx, deployment.id, now).await?;
    let action = deployment_actions::by_id(&mut *tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(action)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewBody>,
) -> ApiResult<(StatusCode, Reply<ActionView>)> {
    let (deployment, device) = resolve(&state, &body).await?;
    if !can_read(&caller, &deployment) || !super::device::can_access(&caller, &device) {
        return Err(ApiError::no_permission());
    }
    let action = record(&state, &deployment, &device, &body).await?;
    Ok((StatusCode::CREATED, Reply(view(&action))))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let w = page.window(PageClass::Standard)?;
    let device = params.get("device");
    let request = params.get("request").or(params.get("deployment"));
    if !caller.is_staff() && device.is_none() && request.is_none() {
        return Ok(axum::Json(page.envelope(w, 0, Vec::<ActionView>::new())?));
    }
    // A filter that cannot be read matches nothing; a device token sees its device only.
    let device_id = device.map(|d| {
        d.parse::<DeviceRef>()
            .ok()
            .and_then(|r| i64::try_from(r.device().get()).ok())
            .unwrap_or(-1)
    });
    let device_id = match (caller.device, device_id) {
        (Some(only), Some(wanted)) if only != wanted => Some(-1),
        (Some(only), _) => Some(only),
        (None, wanted) => wanted,
    };
    let filter = Filter {
        orgs: (!caller.staff_mode).then(|| caller.org_ids()),
        device_id,
        deployment_id: request.map(|r| r.trim().parse().unwrap_or(-1)),
    };
    let (count, found) =
        deployment_actions::list(&state.db.meta, &filter, (w.offset, w.size)).await?;
    let results: Vec<ActionView> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// The action a route id names, when the caller may see it (its device's or its
/// deployment's org); 404 otherwise.
async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Action> {
    let id: i64 = id.trim().parse().map_err(|_| ApiError::NotFound)?;
    let action = deployment_actions::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let device_org = devices::owner(&state.db.meta, action.device_id)
        .await?
        .and_then(|o| o.org_id);
    let deployment_org = deployments::by_id(&state.db.meta, action.deployment_id)
        .await?
        .map(|d| d.org_id);
    let sees = |org: Option<String>| org.is_some_and(|o| caller.has_access(&o));
    if caller.may_touch_device(action.device_id) && (sees(device_org) || sees(deployment_org)) {
        Ok(action)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<ActionView>> {
    Ok(Reply(view(&load(&state, &caller, &id).await?)))
}

/// Absent stays `None`; `null` is `Some(None)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What staff may change of an action; `null` clears the time or the log.
#[derive(Deserialize, ToSchema)]
#[schema(as = DeploymentActionChanges)]
pub struct ActionChanges {
    attempt_successful: Option<bool>,
    device_confirmation: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    last_attempt_on: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    log: Option<Option<String>>,
}

fn staff_only(caller: &Caller) -> ApiResult<()> {
    if caller.is_staff() {
        Ok(())
    } else {
        Err(ApiError::restricted(StatusCode::FORBIDDEN))
    }
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ActionChanges>,
) -> ApiResult<Reply<ActionView>> {
    staff_only(&caller)?;
    let action = load(&state, &caller, &id).await?;
    let last_attempt_on = match body.last_attempt_on {
        Some(Some(text)) => Some(
            time::parse(&text, false)
                .ok_or_else(|| ApiError::field("last_attempt_on", "Enter a valid date/time."))?,
        ),
        Some(None) => None,
        None => action.last_attempt_on,
    };
    let changes = Changes {
        last_attempt_on,
        attempt_successful: body.attempt_successful.unwrap_or(action.attempt_successful),
        device_confirmation: body
            .device_confirmation
            .unwrap_or(action.device_confirmation),
        log: body.log.unwrap_or(action.log),
    };
    deployment_actions::update(&state.db.meta_writes, action.id, &changes).await?;
    // A confirmation set by hand may complete the deployment or open its next wave.
    let mut conn = state.db.meta_writes.acquire().await?;
    advance::evaluate_id(&mut conn, action.deployment_id, now_micros()).await?;
    drop(conn);
    let fresh = deployment_actions::by_id(&state.db.meta, action.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(view(&fresh)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    staff_only(&caller)?;
    let action = load(&state, &caller, &id).await?;
    deployment_actions::delete(&state.db.meta_writes, action.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
